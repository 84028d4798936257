/* tls.h — what bpf/tls.bpf.c hands to `ksnap capture --tls` through its ring buffer: the
 * plaintext of OpenSSL's SSL_read/SSL_write calls (and their _ex variants), in chunks.
 * Shared by the kernel side and tools/ksnap/capture_tls.c. */
#ifndef KF_BPF_TLS_H
#define KF_BPF_TLS_H

#define KF_TLS_DIR_WRITE 1      /* the process wrote the bytes (SSL_write*) */
#define KF_TLS_DIR_READ  2      /* the process read them (SSL_read*) */
#define KF_TLS_DIR_FREE  3      /* SSL_free of an SSL object seen on a socket: no bytes */
#define KF_TLS_CHUNK     16384  /* bytes per ring record at most (a TLS record's plaintext) */
#define KF_TLS_CHUNKS    16     /* records per call at most: the per-call cap is <= 256 KiB */
#define KF_TLS_MAX_CALL  (KF_TLS_CHUNK * KF_TLS_CHUNKS)

/* The connection as the socket behind the call saw it (local = this process's end). */
struct kf_tls_sock {
    __u16 family;               /* AF_INET or AF_INET6; 0 = no socket seen yet */
    __u16 lport, rport;         /* host order */
    __u16 pad;
    __u8 laddr[16], raddr[16];  /* IPv4: the first 4 bytes */
};

/* One record in the ring: this header, then caplen bytes of plaintext. */
struct kf_tls_event {
    __u64 ts_mono;              /* bpf_ktime_get_ns() at the call's return */
    __u64 ssl;                  /* the SSL object's address in the process */
    __u32 pid, tid;             /* tgid and thread id (the root pid namespace's) */
    __u32 len;                  /* bytes the call moved */
    __u32 off;                  /* this chunk's offset in them */
    __u32 caplen;               /* bytes that follow (<= KF_TLS_CHUNK) */
    __u8 dir;                   /* KF_TLS_DIR_* */
    __u8 pad[3];
    struct kf_tls_sock sk;
    char comm[16];
};

/* Counters (a per-CPU array, summed by user space) */
enum {
    KF_TLS_CNT_CALLS,           /* calls that moved bytes */
    KF_TLS_CNT_DROPS,           /* chunks the ring could not take */
    KF_TLS_CNT_CUT,             /* calls cut at the per-call cap */
    KF_TLS_CNT_NOSOCK,          /* calls with no TCP socket known (not captured) */
    KF_TLS_CNT_N
};
#endif
