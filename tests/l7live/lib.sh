# shellcheck shell=bash
# Shared by tests/l7live/capture-*.sh (sourced): a network namespace of this process with a
# 10.x address on its loopback, tcpdump on that loopback, and cleanup of everything on exit
# (servers, capture, namespace, scratch folder), whether the script succeeds or fails.
# Each capture script: capture-<proto>.sh OUTDIR  -> OUTDIR/<proto>.pcap (+ notes of what ran).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tcpdump_drain.sh"

L7_OUT=${1:?usage: $0 OUTDIR}
mkdir -p "$L7_OUT"
L7_NS="kfl7_${L7_PROTO}_$$"
# 10.x address unique enough per process; used only inside our namespace
L7_IP="10.$(( ($$ >> 8) % 200 + 20 )).$(( $$ % 250 + 1 )).1"     # and L7_IP6, an fd00:: one
L7_TMP=$(mktemp -d /tmp/kfl7.XXXXXX)
chmod 755 "$L7_TMP"             # servers running as their own users must reach their folders
L7_PIDS=()
L7_TCPDUMP=

l7_cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  if [ -n "$L7_TCPDUMP" ]; then kill -INT "$L7_TCPDUMP" 2>/dev/null || true; wait "$L7_TCPDUMP" 2>/dev/null || true; fi
  for p in "${L7_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$L7_NS"; then
    ip netns pids "$L7_NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
    for _ in $(seq 30); do [ -z "$(ip netns pids "$L7_NS" 2>/dev/null)" ] && break; sleep 0.1; done
    ip netns pids "$L7_NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$L7_NS" 2>/dev/null || true
  fi
  rm -rf "$L7_TMP"
  exit $rc
}
trap l7_cleanup EXIT
trap 'exit 130' INT TERM

l7_die() { echo "capture-$L7_PROTO: $*" >&2; exit 1; }

ip netns add "$L7_NS"
ip -n "$L7_NS" link set lo up
ip -n "$L7_NS" addr add "$L7_IP/32" dev lo
L7_IP6="fd00::$(printf %x $(( $$ % 65000 + 1 )))"
ip -n "$L7_NS" addr add "$L7_IP6/128" dev lo nodad

l7_run() { ip netns exec "$L7_NS" "$@"; }    # run a command inside the namespace

l7_bg() { # command... : a server in the namespace, killed at exit; its log in $L7_TMP/<name>.log
  local log
  log="$L7_TMP/$(basename "$1").log"
  ip netns exec "$L7_NS" "$@" >"$log" 2>&1 3>&- &
  L7_PIDS+=($!)
}

l7_wait_port() { # port [seconds] : until something listens on L7_IP:port
  local i n=$(( ${2:-20} * 10 ))
  for ((i = 0; i < n; i++)); do
    ip netns exec "$L7_NS" bash -c "exec 9<>/dev/tcp/$L7_IP/$1" 2>/dev/null && return 0
    sleep 0.1
  done
  l7_die "nothing listens on $L7_IP:$1 after ${2:-20} s"
}

l7_settled() { # port : until no TCP connection to or from it is under way (only LISTEN, TIME-WAIT)
  local i
  for ((i = 0; i < 100; i++)); do
    [ -z "$(ip netns exec "$L7_NS" ss -Htan state syn-sent state syn-recv state established state fin-wait-1 \
      state fin-wait-2 state closing state last-ack state close-wait "( sport = :$1 or dport = :$1 )" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  l7_die "connections on port $1 still open after 10 s"
}

L7_PCAP=$L7_PROTO.pcap
l7_capture_start() { # filter : tcpdump on the namespace loopback into OUTDIR/$L7_PCAP (<proto>.pcap)
  ip netns exec "$L7_NS" tcpdump -i lo -n --immediate-mode -U -s 0 -B 16384 -w "$L7_OUT/$L7_PCAP" "$@" \
    >"$L7_TMP/tcpdump.log" 2>&1 3>&- &
  L7_TCPDUMP=$!
  for _ in $(seq 50); do grep -q listening "$L7_TMP/tcpdump.log" 2>/dev/null && return 0; sleep 0.1; done
  l7_die "tcpdump did not start: $(cat "$L7_TMP/tcpdump.log")"
}

l7_capture_stop() {
  tcpdump_drain "$L7_TCPDUMP" "$L7_TMP/tcpdump.log"
  L7_TCPDUMP=
  [ -s "$L7_OUT/$L7_PCAP" ] || l7_die "empty capture $L7_PCAP"
  # a capture with holes would make tshark and kdissect disagree for no fault of theirs
  local drops
  drops=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' "$L7_TMP/tcpdump.log")
  [ "${drops:-0}" -eq 0 ] || l7_die "tcpdump dropped $drops packets (machine too busy?)"
}
