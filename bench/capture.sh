#!/usr/bin/env bash
# bench/capture.sh — ksnap capture (eBPF) against tcpdump on the same veth, at rising packet rates,
# in two modes printed by one run. What each measures:
#
# Traffic: a UDP frame generator in one network namespace sends into a veth whose far end lives in
# another. The frames carry a destination MAC that is not the receiver's, so the receiving stack
# drops them as PACKET_OTHERHOST right after the capture hooks (AF_PACKET taps and TC ingress
# both run before that). The generator and the kernel's receive path (softirq, where ksnap's TC
# eBPF program and tcpdump's AF_PACKET tap copy each packet into their rings) run on GENCPU; the
# capturer process runs on CPU. Ground truth is the veth's rx_packets counter; a step is drop-free
# when the capturer wrote every packet the interface received and reports no drop.
#
# Mode "unconstrained": each capturer has a whole core to itself. On a small machine the
#   generator saturates first (a few hundred thousand packets a second on 2 cores), so neither
#   drops and the drop-free rate is the generator's ceiling (marked ">="), not the capturer's.
#   What this mode does tell: the capturer process's CPU time per packet (user + system, all its
#   threads, from /proc/PID/task/*/schedstat). That includes writing the file; for ksnap also
#   pushing it to disk (writeback, fdatasync at each segment's close), which tcpdump leaves to the
#   kernel's flusher threads, outside its process. It does not include the in-softirq copy into
#   the ring, which runs on the generator's CPU: bpf_ns/pkt is that copy for ksnap, from
#   bpf_stats; tcpdump's AF_PACKET copy has no such counter.
# Mode "budget": each capturer runs in a cgroup with a CPU quota, the way a Kubernetes DaemonSet
#   CPU limit is enforced (CFS bandwidth: cpu.cfs_quota_us / cpu.cfs_period_us on cgroup v1,
#   cpu.max on v2), BUDGET percent of one core (default 3: a quota scaled down so that both
#   capturers' limits fall within what this machine's generator can send; a drop-free rate grows
#   in proportion to the budget, the ratio hardly does; the CFS period is 20 ms, or longer when
#   the quota would be under the kernel's 1 ms minimum).
#   The drop-free rate is then the capturer's own limit; the ratio ksnap/tcpdump is printed.
#
# Search per mode, snap length (96, 65535) and tool: rates double from START (4 x START when
# unconstrained) until a step loses packets, then three bisection steps between the last good and
# the first bad rate; a step where the generator falls short of its target without loss ends the
# search at the generator's ceiling. The machine may be shared: a busy neighbour can cost a step.
# Env: KF_BIN (default ./bin), SECS (per step, default 1.5), SIZE (UDP payload bytes, default 512),
# BUF (MiB of kernel buffer for each: ksnap --ring-size, tcpdump -B; default 8, enough for the
# time a quota keeps a capturer off the CPU), CPU (capturer's, default 0), GENCPU (generator's,
# default 1), BUDGET (percent of a core, default 3), START (first rate, default 25000), MODES
# ("unconstrained budget"). Needs root. Takes about 3 minutes.
set -euo pipefail
: "${KF_BIN:=$(cd "$(dirname "$0")/.." && pwd)/bin}"
SECS=${SECS:-1.5}
SIZE=${SIZE:-512}
BUF=${BUF:-8}
CPU=${CPU:-0}
GENCPU=${GENCPU:-1}
BUDGET=${BUDGET:-3}
START=${START:-25000}
MODES=${MODES:-"unconstrained budget"}
# the CFS period: 20 ms, longer when the budget would make the quota less than its 1 ms minimum
PERIOD=$(( (100000 + BUDGET - 1) / BUDGET > 20000 ? (100000 + BUDGET - 1) / BUDGET : 20000 ))
[ "$(id -u)" -eq 0 ] || { echo "bench/capture.sh: needs root (network namespaces, eBPF, cgroups)" >&2; exit 1; }
for t in tcpdump bpftool jq cc; do
  command -v $t >/dev/null || { echo "bench/capture.sh: $t not found" >&2; exit 1; }
done
W=$(mktemp -d /tmp/kf_bench_capture.XXXXXX)
NR=kfbench_r$$ NS=kfbench_s$$
CG=
cleanup() {
  for n in $NR $NS; do ip netns pids $n 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del $n 2>/dev/null; done
  if [ -n "$CG" ] && [ -d "$CG" ]; then sleep 0.2; rmdir "$CG" 2>/dev/null || true; fi
  rm -rf "$W"
  sysctl -qw kernel.bpf_stats_enabled="${OLD_STATS:-0}" 2>/dev/null || true
}
trap cleanup EXIT

# --- the generator: paced sendmmsg bursts of one ready-made frame on an AF_PACKET socket, qdisc
# bypassed (hand-written: no packet generator in our dependencies; pktgen needs a kernel module we
# cannot count on; a PACKET_TX_RING version was no faster here: the kernel's per-frame skb work
# dominates) ---
cat >"$W/gen.c" <<'EOF'
/* argv: rate secs payload ifname dstmac — sends ready-made Ethernet/IPv4/UDP frames on an
 * AF_PACKET socket (qdisc bypassed), paced, in sendmmsg bursts; prints "sent seconds" */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
int main(int argc, char **argv)
{
    if (argc != 6) return 2;
    double rate = atof(argv[1]), secs = atof(argv[2]);
    int size = atoi(argv[3]);
    if (size < 0 || size > 9000) return 2;
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int one = 1; setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    int sb = 8 << 20; setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
    struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[4]), .sll_halen = 6 };
    static unsigned char f[9100];
    unsigned m[6];
    if (sscanf(argv[5], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) return 2;
    for (int i = 0; i < 6; i++) f[i] = ll.sll_addr[i] = (unsigned char)m[i];
    f[6] = 2; f[12] = 8; f[13] = 0;                      /* src 02:00:.., IPv4 */
    unsigned char *ip = f + 14; int iplen = 20 + 8 + size;
    ip[0] = 0x45; ip[2] = iplen >> 8; ip[3] = iplen; ip[8] = 64; ip[9] = 17;
    ip[12] = 10; ip[13] = 79; ip[14] = 0; ip[15] = 2; ip[16] = 10; ip[17] = 79; ip[18] = 0; ip[19] = 99;
    unsigned sum = 0; for (int i = 0; i < 20; i += 2) sum += ip[i] << 8 | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = ~sum >> 8; ip[11] = ~sum;
    unsigned char *u = ip + 20; u[0] = 0x30; u[1] = 0x39; u[3] = 9; u[4] = (8 + size) >> 8; u[5] = 8 + size;
    enum { B = 64 };
    struct iovec iov[B]; struct mmsghdr mm[B];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < B; i++) {
        iov[i].iov_base = f; iov[i].iov_len = 14 + iplen;
        mm[i].msg_hdr.msg_iov = &iov[i]; mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_name = &ll; mm[i].msg_hdr.msg_namelen = sizeof ll;
    }
    struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long sent = 0, total = (unsigned long)(rate * secs);
    while (sent < total) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        double el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
        unsigned long due = (unsigned long)(el * rate);
        if (due > total) due = total;
        if (due <= sent) { struct timespec s = { 0, 20000 }; nanosleep(&s, NULL); continue; }
        int n = (int)(due - sent < B ? due - sent : B);
        int r = sendmmsg(fd, mm, n, 0);
        if (r > 0) sent += r;
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    printf("%lu %.3f\n", sent, (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
EOF
cc -O2 -o "$W/gen" "$W/gen.c"

ip netns add $NR; ip netns add $NS
for n in $NR $NS; do ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; ip -n $n link set lo up; done
ip -n $NR link add va type veth peer name vb netns $NS
ip -n $NR addr add 10.79.0.1/24 dev va; ip -n $NS addr add 10.79.0.2/24 dev vb
ip -n $NR link set va up; ip -n $NS link set vb up
DMAC=02:00:00:00:00:99   # not va's: the receiver drops the frames as PACKET_OTHERHOST
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1

# the budget cgroup (CFS bandwidth control, as the kubelet sets a container's CPU limit)
QUOTA=$(( BUDGET * PERIOD / 100 ))
[ "$QUOTA" -ge 1000 ] || { echo "bench/capture.sh: BUDGET=$BUDGET gives a quota under 1 ms per ${PERIOD} us" >&2; exit 1; }
cg_make() {
  if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    CG=/sys/fs/cgroup/cpu/kfbench$$
    mkdir "$CG"
    echo $PERIOD >"$CG/cpu.cfs_period_us"; echo $QUOTA >"$CG/cpu.cfs_quota_us"
    CGDESC="cgroup v1 cpu.cfs_quota_us=$QUOTA cpu.cfs_period_us=$PERIOD"
  elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control
    CG=/sys/fs/cgroup/kfbench$$
    mkdir "$CG"
    echo "$QUOTA $PERIOD" >"$CG/cpu.max"
    CGDESC="cgroup v2 cpu.max=\"$QUOTA $PERIOD\""
  else
    return 1
  fi
}

rx() { ip netns exec $NR cat /sys/class/net/va/statistics/rx_packets; }
cpu_ns() { cat /proc/$1/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }   # on-CPU ns, all threads
bpf_ns() { # total run_time_ns and run_cnt of the ksnap programs now loaded
  bpftool prog show -j 2>/dev/null | jq -r '[.[] | select(.name == "ksnap_ingress" or .name == "ksnap_egress")] | "\(map(.run_time_ns // 0) | add // 0) \(map(.run_cnt // 0) | add // 0)"'
}

# step MODE TOOL SNAPLEN RATE -> "achieved received written lost cpu_ns_per_pkt bpf_ns_per_pkt"
step() {
  local mode=$1 tool=$2 snap=$3 rate=$4 pid rx0 rx1 out c0 c1 bpf0=0 bpf1=0 written dropped bpfpp=-
  local join=":"
  [ "$mode" = budget ] && join="echo \$\$ >$CG/cgroup.procs"
  rm -rf "$W/store" "$W/td.pcap" "$W/err"
  if [ "$tool" = ksnap ]; then
    sh -c "$join; exec ip netns exec $NR taskset -c $CPU '$KF_BIN/ksnap' capture --dir '$W/store' --node b -i va -s $snap --ring-size ${BUF}M --stats 1h -v" 2>"$W/err" &
    pid=$!
    for _ in $(seq 100); do grep -q ': capturing' "$W/err" 2>/dev/null && break; sleep 0.05; done
  else
    sh -c "$join; exec ip netns exec $NR taskset -c $CPU tcpdump -i va -p -n -s $snap -B $((BUF * 1024)) -w '$W/td.pcap'" 2>"$W/err" &
    pid=$!
    for _ in $(seq 100); do grep -q 'listening on' "$W/err" 2>/dev/null && break; sleep 0.05; done
  fi
  sleep 0.2
  rx0=$(rx); c0=$(cpu_ns $pid)
  [ "$tool" = ksnap ] && bpf0=$(bpf_ns)
  out=$(ip netns exec $NS taskset -c "$GENCPU" "$W/gen" "$rate" "$SECS" "$SIZE" vb $DMAC)
  sleep 1.2   # let the capturer drain (tcpdump's ring blocks time out after 1 s)
  rx1=$(rx); c1=$(cpu_ns $pid)
  [ "$tool" = ksnap ] && bpf1=$(bpf_ns)
  kill -INT $pid; wait $pid 2>/dev/null || true
  local recv=$((rx1 - rx0)) sent secs; read -r sent secs <<<"$out"
  if [ "$tool" = ksnap ]; then
    written=$(sed -n 's/.*stats: \([0-9]*\) packets written, \([0-9]*\) dropped.*/\1/p' "$W/err" | tail -1)
    dropped=$(sed -n 's/.*stats: \([0-9]*\) packets written, \([0-9]*\) dropped.*/\2/p' "$W/err" | tail -1)
    local b0 n0 b1 n1; read -r b0 n0 <<<"$bpf0"; read -r b1 n1 <<<"$bpf1"
    bpfpp=$(( (n1 - n0) > 0 ? (b1 - b0) / (n1 - n0) : 0 ))
  else
    written=$(sed -n 's/^\([0-9]*\) packets captured/\1/p' "$W/err")
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$W/err")
  fi
  written=${written:-0} dropped=${dropped:-0}
  # packets the interface got but the file lacks count as lost too (no other traffic: IPv6 off)
  local lost=$(( recv > written ? recv - written : 0 ))
  [ "$dropped" -gt "$lost" ] && lost=$dropped
  local cpupp=$(( recv > 0 ? (c1 - c0) / recv : 0 ))
  printf '%s %s %s %s %s %s\n' "$(awk -v s="$sent" -v t="$secs" 'BEGIN { printf "%d", s / t }')" "$recv" "$written" "$lost" "$cpupp" "$bpfpp"
}

declare -A best best_cpu best_bpf ceil
run() { # MODE TOOL SNAP: the search, a line per step
  local mode=$1 tool=$2 snap=$3 rate=$START good=0 bad=0 key=$1$2$3 ach recv written lost cpupp bpfpp
  [ "$mode" = unconstrained ] && rate=$((START * 4))
  best[$key]=0 ceil[$key]=""
  probe() {
    read -r ach recv written lost cpupp bpfpp <<<"$(step "$mode" "$tool" "$snap" "$1")"
    printf '%-13s %-7s %6s %9s %9s %9s %9s %9s %11s %10s\n' "$mode" "$tool" "$snap" "$1" "$ach" "$recv" "$written" "$lost" "$cpupp" "$bpfpp"
    if [ "$lost" -eq 0 ]; then
      [ "$ach" -gt "${best[$key]}" ] && { best[$key]=$ach; best_cpu[$key]=$cpupp; best_bpf[$key]=$bpfpp; }
      return 0
    fi
    return 1
  }
  while :; do
    if probe $rate; then
      good=$rate
      # the generator could not keep up: its ceiling, not the capturer's
      if [ "$ach" -lt $(( rate * 9 / 10 )) ]; then ceil[$key]=">="; return; fi
      rate=$((rate * 2))
    else bad=$rate; break; fi
  done
  for _ in 1 2 3; do
    local mid=$(( (good + bad) / 2 ))
    [ "$mid" -le "$good" ] && break
    if probe $mid; then good=$mid; else bad=$mid; fi
  done
}

echo "bench/capture.sh: ${SIZE}-byte UDP payloads, ${SECS}s per step, ${BUF} MiB buffer each, capturer on CPU $CPU, generator on CPU $GENCPU"
printf '%-13s %-7s %6s %9s %9s %9s %9s %9s %11s %10s\n' mode tool snap target achieved received written lost cpu_ns/pkt bpf_ns/pkt
for mode in $MODES; do
  if [ "$mode" = budget ] && [ -z "$CG" ] && ! cg_make; then
    echo "budget mode: no cgroup cpu controller found; skipped"; continue
  fi
  for snap in 96 65535; do
    for tool in ksnap tcpdump; do run "$mode" "$tool" "$snap"; done
  done
done
echo
ratio() { awk -v k="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.2f", k / t; else print "-" }'; }
for mode in $MODES; do
  case $mode in
    unconstrained) echo "unconstrained (a core each; the generator, not the capturer, sets the ceiling):" ;;
    budget) [ -n "$CG" ] || continue
            echo "budget (${BUDGET}% of one core each, ${CGDESC}; the capturer's own limit):" ;;
  esac
  for snap in 96 65535; do
    k=$mode"ksnap"$snap t=$mode"tcpdump"$snap
    r=$(ratio "${best[$k]}" "${best[$t]}")
    [ -n "${ceil[$k]}" ] && [ -z "${ceil[$t]}" ] && r=">=$r"
    [ -z "${ceil[$k]}" ] && [ -n "${ceil[$t]}" ] && r="<=$r"
    [ -n "${ceil[$k]}" ] && [ -n "${ceil[$t]}" ] && r="- (both at the generator's ceiling)"
    echo "  snaplen $snap: drop-free ksnap ${ceil[$k]}${best[$k]} pkt/s (${best_cpu[$k]:--} ns CPU/pkt, BPF ${best_bpf[$k]:--} ns/pkt)," \
         "tcpdump ${ceil[$t]}${best[$t]} pkt/s (${best_cpu[$t]:--} ns CPU/pkt); ratio $r"
  done
done
for snap in 96 65535; do
  k=unconstrained"ksnap"$snap t=unconstrained"tcpdump"$snap
  [ -n "${best_cpu[$k]:-}" ] && [ -n "${best_cpu[$t]:-}" ] &&
    echo "capturer CPU per packet, snaplen $snap (unconstrained): ksnap ${best_cpu[$k]} ns, tcpdump ${best_cpu[$t]} ns, ratio $(ratio "${best_cpu[$k]}" "${best_cpu[$t]}")"
done
exit 0
