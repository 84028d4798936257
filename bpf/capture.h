/* capture.h — what bpf/capture.bpf.c hands to ksnap capture through the ring buffer.
 * Shared by the kernel side and tools/ksnap/capture_ebpf.c (bcc libbpf-tools habit). */
#ifndef KF_BPF_CAPTURE_H
#define KF_BPF_CAPTURE_H

#define KF_CAP_DIR_IN  1   /* TC ingress (= pcapng epb_flags inbound) */
#define KF_CAP_DIR_OUT 2   /* TC egress  (= outbound) */
#define KF_CAP_MAX_SNAP 262144

/* One record in the ring: this header, then caplen bytes of the packet (from its MAC header,
 * VLAN tag still in skb metadata: see vlan_*). Records are 8-byte aligned by the ring. */
struct kf_cap_event {
    __u64 ts_mono;     /* bpf_ktime_get_ns(): CLOCK_MONOTONIC; user space adds the realtime offset */
    __u32 ifindex;
    __u32 len;         /* original length (skb->len) */
    __u32 caplen;      /* bytes that follow */
    __u16 vlan_tci;    /* offloaded 802.1Q tag when vlan_present */
    __u16 vlan_proto;  /* network order, as in __sk_buff */
    __u8 dir;          /* KF_CAP_DIR_* */
    __u8 vlan_present;
    __u8 pad[6];
};

/* Per-interface counters (per-CPU hash keyed by ifindex): packets the ring could not take. */
struct kf_cap_counts {
    __u64 drops;
};
#endif
