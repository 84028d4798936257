// SPDX-License-Identifier: GPL-2.0
/* tls.bpf.c — `ksnap capture --tls`: the plaintext of OpenSSL's SSL_write, SSL_read,
 * SSL_write_ex and SSL_read_ex, from uprobes on libssl (user space attaches them to the
 * library file, so every process that maps it is covered, ones started later too).
 *
 * The entry probe remembers the call (SSL*, buffer, and for _ex the length pointer) per thread;
 * the return probe copies what the call moved, at most max_call bytes, into the ring in chunks
 * of up to KF_TLS_CHUNK bytes. The connection: OpenSSL's SSL_get_fd cannot be called from BPF
 * and the SSL/BIO structs change between versions, so the socket is taken where the call meets
 * the kernel: a kprobe on tcp_sendmsg/tcp_recvmsg entered by a thread that is inside an SSL call
 * reads the socket's addresses and ports (CO-RE against the kernel's BTF) and keeps them for
 * that SSL object, so a later SSL_read answered from OpenSSL's buffer without a system call
 * still knows its connection. A call on an SSL object whose socket was never seen (a memory BIO,
 * a UNIX socket) is counted, not captured. */
#include <linux/bpf.h>
#include <linux/in6.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tls.h"

#define AF_INET 2
#define AF_INET6 10

/* The kernel's socket, only the fields read here; libbpf finds them in the running kernel's
 * layout (preserve_access_index: CO-RE relocations, including the anonymous unions they sit in) */
struct sock_common {
    __be32 skc_daddr;
    __be32 skc_rcv_saddr;
    __be16 skc_dport;
    __u16 skc_num;
    unsigned short skc_family;
    struct in6_addr skc_v6_daddr;
    struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));
struct sock {
    struct sock_common __sk_common;
    __u16 sk_type;
    __u16 sk_protocol;
} __attribute__((preserve_access_index));
struct file {
    void *private_data;
} __attribute__((preserve_access_index));
struct socket {
    struct file *file;
    struct sock *sk;
} __attribute__((preserve_access_index));
struct fdtable {
    unsigned int max_fds;
    struct file **fd;
} __attribute__((preserve_access_index));
struct files_struct {
    struct fdtable *fdt;
} __attribute__((preserve_access_index));
struct task_struct {
    struct files_struct *files;
} __attribute__((preserve_access_index));

/* bytes copied of one call at most (--tls-max-call), set before load */
const volatile __u32 max_call = 16384;
/* wake the reader only once this much waits in the ring: a wake-up per call cost the reader
 * ~20 us of CPU per call (bench/tls.sh); otherwise it finds the records at its next timed poll
 * (50 ms at most) */
const volatile __u64 wake_bytes = 1 << 20;


struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 << 20);          /* drops beyond: counted, ksnap ls shows them */
} tls_events SEC(".maps");

static __always_inline __u64 wake_flag(void)
{
    return bpf_ringbuf_query(&tls_events, BPF_RB_AVAIL_DATA) > wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* the SSL call a thread is in */
struct active {
    __u64 ssl, buf, outp;       /* outp: SSL_*_ex's size_t * (0 for SSL_read/SSL_write) */
    __u8 dir, has_sk;
    struct kf_tls_sock sk;
};
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);                    /* pid_tgid */
    __type(value, struct active);
} tls_active SEC(".maps");

/* the socket of each SSL object seen on one */
struct ssl_key { __u64 ssl; __u32 tgid; __u32 pad; };
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct ssl_key);
    __type(value, struct kf_tls_sock);
} tls_socks SEC(".maps");

/* one record being built: too large for the stack */
struct scratch { struct kf_tls_event e; __u8 data[KF_TLS_CHUNK]; };
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct scratch);
} tls_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, KF_TLS_CNT_N);
    __type(key, __u32);
    __type(value, __u64);
} tls_counts SEC(".maps");

static __always_inline void count(__u32 what, __u64 n)
{
    __u64 *v = bpf_map_lookup_elem(&tls_counts, &what);
    if (v) *v += n;   /* per-CPU: no atomics needed */
}

static __always_inline int enter(__u64 ssl, __u64 buf, __u64 outp, __u8 dir)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct active a = { .ssl = ssl, .buf = buf, .outp = outp, .dir = dir };
    bpf_map_update_elem(&tls_active, &id, &a, BPF_ANY);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf, int num)
{ return enter((__u64)ssl, (__u64)buf, 0, KF_TLS_DIR_WRITE); }

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{ return enter((__u64)ssl, (__u64)buf, 0, KF_TLS_DIR_READ); }

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, __u64 num, __u64 *written)
{ return enter((__u64)ssl, (__u64)buf, (__u64)written, KF_TLS_DIR_WRITE); }

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{ return enter((__u64)ssl, (__u64)buf, (__u64)readbytes, KF_TLS_DIR_READ); }

/* a TCP send or receive inside an SSL call: that call's socket */
static __always_inline int on_tcp(struct sock *sk)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct active *a = bpf_map_lookup_elem(&tls_active, &id);
    if (!a || a->has_sk) return 0;
    struct kf_tls_sock s = {};
    __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (fam == AF_INET) {
        __be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
        __builtin_memcpy(s.laddr, &l, 4);
        __builtin_memcpy(s.raddr, &r, 4);
    } else if (fam == AF_INET6) {
        BPF_CORE_READ_INTO(&s.laddr, sk, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO(&s.raddr, sk, __sk_common.skc_v6_daddr);
    } else {
        return 0;
    }
    s.family = fam;
    s.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
    s.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    a->sk = s;
    a->has_sk = 1;
    struct ssl_key k = { .ssl = a->ssl, .tgid = (__u32)(id >> 32) };
    bpf_map_update_elem(&tls_socks, &k, &s, BPF_ANY);
    return 0;
}

/* fentry where the kernel has BPF trampolines (cheaper, and kernels without CONFIG_KPROBES
 * have them); kprobes elsewhere: user space loads one pair or the other */
SEC("fentry/tcp_sendmsg")
int BPF_PROG(tls_tcp_sendmsg_f, struct sock *sk) { return on_tcp(sk); }

SEC("fentry/tcp_recvmsg")
int BPF_PROG(tls_tcp_recvmsg_f, struct sock *sk) { return on_tcp(sk); }

/* Where neither may be loaded (a kernel without kprobes whose policy refuses tracing programs):
 * the raw system-call tracepoint. A socket call (read/write/send/recv and their vector forms)
 * made inside an SSL call: its descriptor's socket, through the task's file table. */
static __always_inline int sys_nr_sock(long nr)
{
#if defined(__TARGET_ARCH_x86)
    return nr == 0 || nr == 1 || nr == 19 || nr == 20 || (nr >= 44 && nr <= 47) || nr == 295 || nr == 296 ||
           nr == 299 || nr == 307;
#elif defined(__TARGET_ARCH_arm64)
    return nr == 63 || nr == 64 || nr == 65 || nr == 66 || nr == 206 || nr == 207 || nr == 211 ||
           nr == 212 || nr == 243 || nr == 269 || nr == 69 || nr == 70;
#else
    return 0;
#endif
}

SEC("raw_tracepoint/sys_enter")
int tls_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
    long nr = (long)ctx->args[1];
    if (!sys_nr_sock(nr)) return 0;
    __u64 id = bpf_get_current_pid_tgid();
    struct active *a = bpf_map_lookup_elem(&tls_active, &id);
    if (!a || a->has_sk) return 0;
    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
    long fd = -1;
#if defined(__TARGET_ARCH_x86)
    /* user-space pt_regs names its fields rdi…, the kernel's BTF di…: same layout, read plainly */
    bpf_probe_read_kernel(&fd, sizeof fd, &PT_REGS_PARM1(regs));
#else
    fd = (long)PT_REGS_PARM1_CORE_SYSCALL(regs);
#endif
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *f = NULL;
    bpf_probe_read_kernel(&f, sizeof f, &fds[fd]);
    if (!f) return 0;
    struct socket *so = BPF_CORE_READ(f, private_data);
    if (!so || BPF_CORE_READ(so, file) != f) return 0;   /* not a socket */
    struct sock *sk = BPF_CORE_READ(so, sk);
    if (!sk || BPF_CORE_READ(sk, sk_protocol) != 6 /* TCP */) return 0;
    return on_tcp(sk);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tls_tcp_sendmsg, struct sock *sk) { return on_tcp(sk); }

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(tls_tcp_recvmsg, struct sock *sk) { return on_tcp(sk); }

/* the return of any of the four: copy what moved */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_ret, long rc)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct active *a = bpf_map_lookup_elem(&tls_active, &id);
    if (!a) return 0;
    struct active call = *a;
    bpf_map_delete_elem(&tls_active, &id);
    __u64 len = 0;
    if (call.outp) {                       /* SSL_*_ex: 1 = success, the count behind the pointer */
        if ((int)rc != 1 || bpf_probe_read_user(&len, sizeof len, (void *)call.outp) != 0) return 0;
    } else {
        if ((int)rc <= 0) return 0;
        len = (__u64)(int)rc;
    }
    if (len == 0) return 0;
    if (len > 0xffffffffull) len = 0xffffffffull;
    if (!call.has_sk) {
        struct ssl_key k = { .ssl = call.ssl, .tgid = (__u32)(id >> 32) };
        struct kf_tls_sock *s = bpf_map_lookup_elem(&tls_socks, &k);
        if (!s) { count(KF_TLS_CNT_NOSOCK, 1); return 0; }
        call.sk = *s;
    }
    count(KF_TLS_CNT_CALLS, 1);
    __u32 zero = 0;
    struct scratch *sc = bpf_map_lookup_elem(&tls_scratch, &zero);
    if (!sc) return 0;
    __u64 take = len < max_call ? len : max_call;
    if (take < len) count(KF_TLS_CNT_CUT, 1);
    sc->e.ts_mono = bpf_ktime_get_ns();
    sc->e.ssl = call.ssl;
    sc->e.pid = (__u32)(id >> 32);
    sc->e.tid = (__u32)id;
    sc->e.len = (__u32)len;
    sc->e.dir = call.dir;
    sc->e.sk = call.sk;
    bpf_get_current_comm(sc->e.comm, sizeof sc->e.comm);
    for (__u32 i = 0; i < KF_TLS_CHUNKS; i++) {
        __u64 off = (__u64)i * KF_TLS_CHUNK;
        if (off >= take) break;
        __u64 n = take - off;
        if (n > KF_TLS_CHUNK) n = KF_TLS_CHUNK;
        asm volatile("" : "+r"(n));
        if (n > KF_TLS_CHUNK) n = KF_TLS_CHUNK;   /* again, for the verifier */
        if (n < 1) n = 1;
        if (bpf_probe_read_user(sc->data, n, (void *)(call.buf + off)) != 0) break;
        sc->e.off = (__u32)off;
        sc->e.caplen = (__u32)n;
        if (bpf_ringbuf_output(&tls_events, sc, sizeof(sc->e) + n, wake_flag()) != 0) count(KF_TLS_CNT_DROPS, 1);
    }
    return 0;
}

/* SSL_free: the connection's end (its socket forgotten here; user space closes the stream) */
SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct ssl_key k = { .ssl = (__u64)ssl, .tgid = (__u32)(id >> 32) };
    struct kf_tls_sock *s = bpf_map_lookup_elem(&tls_socks, &k);
    if (!s) return 0;
    struct kf_tls_event *e = bpf_ringbuf_reserve(&tls_events, sizeof *e, 0);
    if (e) {
        __builtin_memset(e, 0, sizeof *e);
        e->ts_mono = bpf_ktime_get_ns();
        e->ssl = (__u64)ssl;
        e->pid = (__u32)(id >> 32);
        e->tid = (__u32)id;
        e->dir = KF_TLS_DIR_FREE;
        e->sk = *s;
        bpf_get_current_comm(e->comm, sizeof e->comm);
        bpf_ringbuf_submit(e, wake_flag());
    } else {
        count(KF_TLS_CNT_DROPS, 1);
    }
    bpf_map_delete_elem(&tls_socks, &k);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
