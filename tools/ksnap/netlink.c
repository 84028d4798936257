/* netlink.c — rtnetlink for ksnap capture: list links, watch them come and go, count the TC
 * filters on a clsact hook. Hand-written over the kernel's NLMSG_ and RTA_ macros (which check
 * every length) because libbpf keeps its netlink code private and libmnl/libnl are not among
 * our dependencies for three messages. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>
#include "capture_int.h"

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xFFF2U
#define TC_H_MIN_EGRESS 0xFFF3U
#endif

static int nl_socket(unsigned groups)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0) return -1;
    int rcv = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { close(fd); return -1; }
    return fd;
}

int nl_open_watch(void) { return nl_socket(RTMGRP_LINK); }

static void parse_link(struct nlmsghdr *h, nl_link_fn fn, void *arg)
{
    if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) return;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) return;
    struct ifinfomsg *ifi = NLMSG_DATA(h);
    nl_link l = { .ifindex = ifi->ifi_index, .flags = ifi->ifi_flags, .arphrd = ifi->ifi_type,
                  .deleted = h->nlmsg_type == RTM_DELLINK };
    int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi));
    for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_IFNAME) {
            size_t n = RTA_PAYLOAD(a);
            if (n >= sizeof l.name) n = sizeof l.name - 1;
            memcpy(l.name, RTA_DATA(a), n);
            l.name[n] = 0;
            l.name[strnlen(l.name, n)] = 0;
        }
    }
    if (l.name[0] || l.deleted) fn(arg, &l);
}

/* Reads replies until NLMSG_DONE (dump) or, with dump=0, until nothing is pending. Each message
 * goes to cb. Returns 0, or -1. */
static int nl_recv(int fd, int dump, void (*cb)(struct nlmsghdr *, void *), void *arg)
{
    static char buf[1 << 16] __attribute__((aligned(4)));
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, dump ? 0 : MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!dump) return 0;
                struct timeval tv = { 1, 0 };   /* dump socket: wait for the answer */
                fd_set s; FD_ZERO(&s); FD_SET(fd, &s);
                if (select(fd + 1, &s, NULL, NULL, &tv) <= 0) return -1;
                continue;
            }
            if (errno == ENOBUFS) return -2;   /* events lost: caller re-lists */
            return -1;
        }
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_DONE) return 0;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);
                if (h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) && e->error) { errno = -e->error; return -1; }
                if (dump) return 0;
                continue;
            }
            cb(h, arg);
        }
    }
}

struct link_cb { nl_link_fn fn; void *arg; };
static void link_cb(struct nlmsghdr *h, void *arg)
{
    struct link_cb *l = arg;
    parse_link(h, l->fn, l->arg);
}

int nl_dump_links(nl_link_fn fn, void *arg)
{
    int fd = nl_socket(0);
    if (fd < 0) return -1;
    struct { struct nlmsghdr h; struct ifinfomsg i; } req = {
        .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_GETLINK,
               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
        .i = { .ifi_family = AF_UNSPEC },
    };
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    int rc = -1;
    if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) >= 0) {
        struct link_cb l = { fn, arg };
        rc = nl_recv(fd, 1, link_cb, &l);
    }
    close(fd);
    return rc;
}

int nl_read_events(int fd, nl_link_fn fn, void *arg)
{
    struct link_cb l = { fn, arg };
    int r = nl_recv(fd, 0, link_cb, &l);
    if (r == -2) return nl_dump_links(fn, arg);   /* overrun: take the whole list again */
    return r;
}

static void count_cb(struct nlmsghdr *h, void *arg)
{
    if (h->nlmsg_type == RTM_NEWTFILTER && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct tcmsg))) {
        struct tcmsg *t = NLMSG_DATA(h);
        if (t->tcm_handle) (*(int *)arg)++;   /* handle 0 lines are the chain heads */
    }
}

struct name_q { uint32_t handle, prio; char *out; size_t outlen; int found; };
static void name_cb(struct nlmsghdr *h, void *arg)
{
    struct name_q *q = arg;
    if (h->nlmsg_type != RTM_NEWTFILTER || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct tcmsg))) return;
    struct tcmsg *t = NLMSG_DATA(h);
    if (t->tcm_handle != q->handle || TC_H_MAJ(t->tcm_info) >> 16 != q->prio) return;
    int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *t));
    for (struct rtattr *a = (struct rtattr *)((char *)t + NLMSG_ALIGN(sizeof *t)); RTA_OK(a, len);
         a = RTA_NEXT(a, len)) {
        if (a->rta_type != TCA_OPTIONS) continue;
        int l2 = (int)RTA_PAYLOAD(a);
        for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2)) {
            if (b->rta_type != TCA_BPF_NAME) continue;
            size_t n = RTA_PAYLOAD(b);
            if (n >= q->outlen) n = q->outlen - 1;
            memcpy(q->out, RTA_DATA(b), n);
            q->out[n] = 0;
            q->found = 1;
        }
    }
}

int nl_tc_filter_name(int ifindex, int egress, uint32_t handle, uint32_t prio, char *out, size_t outlen)
{
    int fd = nl_socket(0);
    if (fd < 0 || !outlen) return -1;
    struct { struct nlmsghdr h; struct tcmsg t; } req = {
        .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)), .nlmsg_type = RTM_GETTFILTER,
               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
        .t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex,
               .tcm_parent = TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS) },
    };
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    struct name_q q = { handle, prio, out, outlen, 0 };
    int rc = -1;
    if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) >= 0)
        rc = nl_recv(fd, 1, name_cb, &q);
    close(fd);
    return rc < 0 || !q.found ? -1 : 0;
}

int nl_count_tc_filters(int ifindex, int egress)
{
    int fd = nl_socket(0);
    if (fd < 0) return -1;
    struct { struct nlmsghdr h; struct tcmsg t; } req = {
        .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)), .nlmsg_type = RTM_GETTFILTER,
               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
        .t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex,
               .tcm_parent = TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS) },
    };
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    int count = 0, rc = -1;
    if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) >= 0)
        rc = nl_recv(fd, 1, count_cb, &count);
    close(fd);
    return rc < 0 ? -1 : count;
}
