// SPDX-License-Identifier: GPL-2.0
/* capture.bpf.c — TC clsact programs for ksnap capture: copy up to snaplen bytes of each packet
 * with ifindex, direction, monotonic timestamp and original length into a ring buffer; count
 * per interface what the ring could not take. Never changes the packet's fate (TC_ACT_UNSPEC:
 * the next filter runs as if we were not there). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "capture.h"

/* bytes to copy: max(snaplen, what the -f filter reads), set by user space before load */
const volatile __u32 cap_len = 262144;
/* wake user space when this much is waiting in the ring (user space sets ring size / 4) */
const volatile __u64 wake_bytes = 1 << 20;

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 32 << 20);          /* user space sizes it (--ring-size) */
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct kf_cap_counts);
} drops SEC(".maps");

/* -f in the kernel: user space translates libpcap's classic BPF filter into a TC program that
 * tail-calls these (0 ingress, 1 egress) for the packets it keeps (tools/ksnap/capture_ebpf.c) */
struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u32);
} capture_progs SEC(".maps");

/* when this CPU last forced a wake-up of the reader (ns, bpf_ktime_get_ns) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} last_wake SEC(".maps");

static __always_inline void count_drop(__u32 ifindex)
{
    struct kf_cap_counts *c = bpf_map_lookup_elem(&drops, &ifindex);
    if (c) {
        c->drops++;   /* per-CPU value: no atomics needed */
        return;
    }
    struct kf_cap_counts one = { .drops = 1 };
    bpf_map_update_elem(&drops, &ifindex, &one, BPF_NOEXIST);
}

/* The ring takes records of a size known to the verifier, so copy into the smallest of a set
 * of fixed size classes that holds the packet: four per power of two (at most 25% over, ~10% on
 * average), which keeps the ring's capacity close to what libpcap's TPACKET_V3 blocks hold. */
#define CLASS(SZ)                                                                         \
    if (cap <= (SZ)) {                                                                    \
        e = bpf_ringbuf_reserve(&events, sizeof(*e) + (SZ), 0);                           \
        if (!e) goto drop;                                                                \
        n = cap;                                                                          \
        asm volatile("" : "+r"(n));                                                       \
        if (n > (SZ)) n = (SZ);                                                           \
        if (n < 1) n = 1; /* skb->len is never 0 on a TC hook; keeps the verifier sure */ \
        if (bpf_skb_load_bytes(skb, 0, (void *)(e + 1), n) != 0) n = 0;                   \
        goto fill;                                                                        \
    }

static __always_inline int capture(struct __sk_buff *skb, __u8 dir)
{
    struct kf_cap_event *e;
    __u64 ts = bpf_ktime_get_ns();
    __u32 len = skb->len, cap = len < cap_len ? len : cap_len;
    __u64 n;

    CLASS(128) CLASS(160) CLASS(192) CLASS(224) CLASS(256) CLASS(320) CLASS(384) CLASS(448)
    CLASS(512) CLASS(640) CLASS(768) CLASS(896) CLASS(1024) CLASS(1280) CLASS(1536) CLASS(1792)
    CLASS(2048) CLASS(2560) CLASS(3072) CLASS(3584) CLASS(4096) CLASS(5120) CLASS(6144)
    CLASS(7168) CLASS(8192) CLASS(10240) CLASS(12288) CLASS(14336) CLASS(16384) CLASS(20480)
    CLASS(24576) CLASS(28672) CLASS(32768) CLASS(40960) CLASS(49152) CLASS(57344) CLASS(65536)
    CLASS(131072) CLASS(KF_CAP_MAX_SNAP)
    return TC_ACT_UNSPEC;
fill:
    e->ts_mono = ts;
    e->ifindex = skb->ifindex;
    e->len = len;
    e->caplen = n;
    e->vlan_present = skb->vlan_present;
    e->vlan_tci = skb->vlan_tci;
    e->vlan_proto = skb->vlan_proto;
    e->dir = dir;
    /* Waking the reader for every packet costs more than the copy; wake it once enough has
     * piled up, otherwise it finds the records at its next timed poll. And at most once a
     * millisecond per CPU: a reader that is slow to come (a CPU quota throttling it) would
     * otherwise be woken again by every packet, at ~3 us each on this CPU. One wake-up is
     * never lost: the reader's epoll keeps the ring marked ready until it reads. */
    __u64 flags = BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wake_bytes) {
        __u32 k = 0;
        __u64 *lw = bpf_map_lookup_elem(&last_wake, &k);
        if (!lw || ts - *lw >= 1000000) {
            flags = BPF_RB_FORCE_WAKEUP;
            if (lw) *lw = ts;
        }
    }
    bpf_ringbuf_submit(e, flags);
    return TC_ACT_UNSPEC;
drop:
    count_drop(skb->ifindex);
    return TC_ACT_UNSPEC;
}

SEC("tc")
int ksnap_ingress(struct __sk_buff *skb) { return capture(skb, KF_CAP_DIR_IN); }

SEC("tc")
int ksnap_egress(struct __sk_buff *skb) { return capture(skb, KF_CAP_DIR_OUT); }

char LICENSE[] SEC("license") = "GPL";
