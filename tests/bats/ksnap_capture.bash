# Helpers for the ksnap capture tests (load ksnap_capture after helpers).
# Two namespaces joined by a veth pair: NS1 (va, 10.77.0.1) is where we capture and serve,
# NS2 (vb, 10.77.0.2) is the client. IPv6 is off on both so no stray router/MLD packets land
# on one capture and not the other.

cap_setup() {
  require_live
  NS1=$(netns_make a)
  NS2=$(netns_make b)
  for ns in "$NS1" "$NS2"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip -n "$NS1" link add va type veth peer name vb netns "$NS2"
  ip -n "$NS1" addr add 10.77.0.1/24 dev va
  ip -n "$NS2" addr add 10.77.0.2/24 dev vb
  ip -n "$NS1" link set va up
  ip -n "$NS2" link set vb up
  T=$BATS_TEST_TMPDIR
  STORE=$T/store
  KS_PID= TD_PID=
}

cap_teardown() {
  [ -n "${KS_PID:-}" ] && kill -9 "$KS_PID" 2>/dev/null
  [ -n "${TD_PID:-}" ] && kill -9 "$TD_PID" 2>/dev/null
  netns_cleanup
}

# wait_for CMD...: retry for up to 10 s
wait_for() {
  local i
  for i in $(seq 100); do "$@" && return 0; sleep 0.1; done
  echo "timed out waiting for: $*" >&2
  return 1
}

# ks_start NS ARGS...: ksnap capture in the background, -v, waits until interfaces are attached
ks_start() {
  local ns=$1; shift
  ip netns exec "$ns" "$KF_BIN/ksnap" capture --dir "$STORE" --node n1 -v "$@" 2>"$T/ks.err" &
  KS_PID=$!
  wait_for grep -q ': capturing' "$T/ks.err" || { cat "$T/ks.err"; return 1; }
  wait_for compgen -G "$STORE/n1/*.pcapng.part" >/dev/null
}

# ks_stop: SIGTERM, expect exit 0
ks_stop() {
  kill -TERM "$KS_PID"
  local rc=0
  wait "$KS_PID" || rc=$?
  KS_PID=
  [ "$rc" -eq 0 ] || { cat "$T/ks.err"; echo "ksnap capture exited $rc" >&2; return 1; }
}

# td_start NS IFACE ARGS...: tcpdump writing $T/td.pcap
td_start() {
  local ns=$1 dev=$2; shift 2
  ip netns exec "$ns" tcpdump -i "$dev" -p -n -U --immediate-mode -w "$T/td.pcap" "$@" 2>"$T/td.err" &
  TD_PID=$!
  wait_for grep -q 'listening on' "$T/td.err"
}
# td_stop: once tcpdump has written every packet the kernel gave it (tests/l7live/tcpdump_drain.sh;
# its ring is read late on a loaded machine, and SIGINT alone drops what it still holds)
source "$KF_ROOT/tests/l7live/tcpdump_drain.sh"
td_stop() {
  tcpdump_drain "$TD_PID" "$T/td.err" "${1:-1}"; TD_PID=
}

# pkts FILE...: one line per packet (tcpdump's summary with the link header, then every byte in
# hex), sorted; timestamps left out
pkts() {
  local f
  for f in "$@"; do
    tcpdump -r "$f" -nn -S -t -e -xx 2>/dev/null |
      awk '/^\t0x/ { l = l " " $0; next } { if (l != "") print l; l = $0 } END { if (l != "") print l }'
  done | sort
}

# same_packets A_FILES B_FILES (each a quoted, space-separated list): same count, bytes, content
same_packets() {
  pkts $1 >"$T/a.txt"
  pkts $2 >"$T/b.txt"
  local na nb
  na=$(wc -l <"$T/a.txt"); nb=$(wc -l <"$T/b.txt")
  echo "# packets: $na vs $nb" >&3
  [ "$na" -gt 0 ] || { echo "no packets captured" >&2; return 1; }
  diff "$T/a.txt" "$T/b.txt" >"$T/diff.txt" || { head -20 "$T/diff.txt" | cut -c1-160 >&2; return 1; }
}

# settled NS...: no TCP connection in these namespaces is under way (only LISTEN and TIME-WAIT
# left): the last packet of each was taken in by its socket, so it has passed both captures' taps
# (the TC hooks and AF_PACKET see a packet before its socket does). A fixed pause did not wait
# for the teardown's last ACK on a loaded machine.
settled() {
  local ns
  for ns in "$@"; do
    [ -z "$(ip netns exec "$ns" ss -Htan state syn-sent state syn-recv state established state fin-wait-1 \
      state fin-wait-2 state closing state last-ack state close-wait 2>/dev/null)" ] || return 1
  done
}

# in_time_order FILES: each file's packets in nondecreasing time (tshark's epoch times, all of one
# width, so a text sort checks them)
in_time_order() {
  local f
  for f in $1; do
    tshark -r "$f" -T fields -e frame.time_epoch 2>/dev/null | sort -c || { echo "$f: packets out of time order" >&2; return 1; }
  done
}

segments() { ls "$STORE"/n1/*.pcapng 2>/dev/null | sort; }
tsh() { tshark "$@" 2>/dev/null; }
