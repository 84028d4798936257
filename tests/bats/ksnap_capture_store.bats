#!/usr/bin/env bats
# ksnap capture's store: rotation, retention, crash repair, disk full, signals, interfaces,
# TC cleanup, privileges.
load helpers
load ksnap_capture

setup() {
  cap_setup
  mkdir -p "$T/www"; head -c 100000 /dev/urandom >"$T/www/blob"
  (cd "$T/www" && exec ip netns exec "$NS1" python3 -m http.server 8080 >/dev/null 2>&1) &
  wait_for ip netns exec "$NS2" curl -sf -o /dev/null http://10.77.0.1:8080/
}
teardown() {
  [ -n "${MNT:-}" ] && umount "$MNT" 2>/dev/null
  [ -n "${USTORE:-}" ] && rm -rf "$USTORE"
  cap_teardown
}

get() { # N: N downloads of the 100 KB blob
  local i
  for i in $(seq "$1"); do ip netns exec "$NS2" curl -sf -o /dev/null http://10.77.0.1:8080/blob; done
}
closed() { [ "$(segments | wc -l)" -eq "$1" ]; }   # N: N segments closed (renamed from .part)
store_bytes() { find "$STORE/n1" -name '*.pcapng*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
seg_start() { # file -> start in ns from its name
  local b; b=$(basename "$1"); b=${b%%.pcapng*}
  echo "$(date -u -d "${b:0:4}-${b:4:2}-${b:6:2}T${b:9:2}:${b:11:2}:${b:13:2}Z" +%s)${b:16:9}"
}

@test "store: rotation by size gives contiguous, complete segments (tcpdump agrees on the packets)" {
  td_start "$NS1" va
  ks_start "$NS1" -i va --segment-size 64K --segment-time 1h
  get 5
  wait_for settled "$NS1" "$NS2"
  ks_stop; td_stop
  n=$(segments | wc -l)
  echo "# $n segments" >&3
  [ "$n" -ge 4 ]
  [ -z "$(ls "$STORE"/n1/*.part 2>/dev/null)" ]
  same_packets "$(segments)" "$T/td.pcap"
  prev=0
  for f in $(segments); do
    s=$(seg_start "$f")
    [ "$s" -gt "$prev" ]
    # every packet at or after the segment's start; each segment but the last stays near 64K
    first=$(tsh -r "$f" -T fields -e frame.time_epoch -c 1 | tr -d .)
    [ -z "$first" ] || [ "$first" -ge "$s" ]
    run capinfos -c "$f"; assert_success
    prev=$s
  done
  for f in $(segments | head -n -1); do
    sz=$(stat -c %s "$f"); [ "$sz" -le $((64 * 1024 + 2048)) ]
  done
  # files 0640, folder 0750
  [ "$(stat -c %a "$STORE/n1")" = 750 ]
  [ "$(stat -c %a "$(segments | head -1)")" = 640 ]
  # section header names the node; one IDB for va; an ISB at the end of each
  run tsh -r "$(segments | head -1)" -T fields -e frame.interface_description -c 1
  assert_output "n1/va"
  grep -qa 'kforensics-node: n1' "$(segments | head -1)"
}

@test "store: rotation by time: segment starts step by exactly --segment-time" {
  ks_start "$NS1" -i va --segment-time 1s
  for i in $(seq 12); do get 1; sleep 0.25; done
  ks_stop
  n=$(segments | wc -l)
  [ "$n" -ge 3 ]
  prev=
  for f in $(segments); do
    s=$(seg_start "$f")
    [ -z "$prev" ] || [ $((s - prev)) -eq 1000000000 ] || { echo "gap $((s - prev)) before $f"; false; }
    if [ -n "$prev" ]; then   # the previous segment's packets all before this start
      last=$(tsh -r "$pf" -T fields -e frame.time_epoch | tail -1 | tr -d .)
      [ -z "$last" ] || [ "$last" -lt "$s" ]
    fi
    prev=$s pf=$f
  done
}

@test "store: --retain-size keeps the node's total under its bound, oldest go first" {
  ks_start "$NS1" -i va --segment-size 32K --retain-size 160K
  for i in $(seq 8); do
    get 2
    b=$(store_bytes); [ "$b" -le $((160 * 1024)) ] || { ls -l "$STORE/n1"; fail "store holds $b bytes"; }
  done
  ks_stop
  b=$(store_bytes); echo "# $b bytes kept" >&3
  [ "$b" -le $((160 * 1024)) ]
  [ "$b" -ge $((64 * 1024)) ]
  # what is left is the newest: the last download's packets are there
  for f in $(segments); do run capinfos "$f"; assert_success; done
}

@test "store: --retain-time removes segments that ended longer ago" {
  ks_start "$NS1" -i va --segment-time 1s --retain-time 2s
  for i in $(seq 10); do get 1; sleep 0.5; done
  ks_stop
  now=$(date +%s%N)
  oldest=$(seg_start "$(segments | head -1)")
  # retention runs at each rotation: the oldest left ended at most ~2s + one segment ago
  [ $((now - oldest)) -lt 5000000000 ]
}

@test "store: kill -9, start again: the cut segment is repaired, earlier ones unchanged, stale TC filter removed" {
  ks_start "$NS1" -i va
  get 2; kill -HUP "$KS_PID"; wait_for closed 1
  get 2; kill -HUP "$KS_PID"; wait_for closed 2
  get 3
  sleep 1.5   # the .part is flushed every second
  kill -9 "$KS_PID"; wait "$KS_PID" 2>/dev/null || true; KS_PID=
  part=$(ls "$STORE"/n1/*.pcapng.part)
  [ -n "$part" ]
  # and a power loss cut its last block short
  truncate -s -7 "$part"
  sha256sum $(segments) >"$T/before.sha"
  [ "$(wc -l <"$T/before.sha")" -eq 2 ]
  # the killed capture's filter still runs
  run ip netns exec "$NS1" tc filter show dev va ingress
  assert_output --partial ksnap_ingress
  ks_start "$NS1" -i va
  cat "$T/ks.err"
  grep -q 'left by a crash; kept' "$T/ks.err"
  grep -q 'removed the ingress filter a killed capture left' "$T/ks.err"
  [ -f "${part%.part}" ]
  sha256sum -c --quiet "$T/before.sha"
  run tshark -r "${part%.part}"
  assert_success
  refute_output --partial "cut short"
  refute_output --partial "appears to be damaged"
  [ "${#lines[@]}" -gt 50 ]
  # exactly one ksnap filter per hook now: ours
  [ "$(ip netns exec "$NS1" tc filter show dev va ingress | grep -c ksnap_ingress)" -eq 1 ]
  ks_stop
  [ -z "$(ip netns exec "$NS1" tc filter show dev va ingress)" ]
}

@test "store: SIGTERM removes our TC filters and the clsact we made, nothing else" {
  ks_start "$NS1" -i va
  run ip netns exec "$NS1" tc filter show dev va egress
  assert_output --partial ksnap_egress
  ks_stop
  [ -z "$(ip netns exec "$NS1" tc filter show dev va ingress)" ]
  [ -z "$(ip netns exec "$NS1" tc filter show dev va egress)" ]
  run ip netns exec "$NS1" tc qdisc show dev va
  refute_output --partial clsact
  # someone else's clsact and filter stay
  ip netns exec "$NS1" tc qdisc add dev va clsact
  ip netns exec "$NS1" tc filter add dev va ingress pref 7 bpf bytecode '1,6 0 0 0'
  ks_start "$NS1" -i va
  ks_stop
  run ip netns exec "$NS1" tc filter show dev va ingress
  assert_output --partial "bytecode '1,6 0 0 0'"
  refute_output --partial ksnap
  run ip netns exec "$NS1" tc qdisc show dev va
  assert_output --partial clsact
}

@test "store: a veth pair created while capturing is captured, and its removal is survived" {
  ks_start "$NS1"   # default: every interface that is up except lo
  ip -n "$NS1" link add vc type veth peer name vd netns "$NS2"
  ip -n "$NS1" addr add 10.78.0.1/24 dev vc
  ip -n "$NS2" addr add 10.78.0.2/24 dev vd
  ip -n "$NS1" link set vc up
  ip -n "$NS2" link set vd up
  wait_for grep -q 'vc: capturing' "$T/ks.err"
  for i in 1 2 3; do ip netns exec "$NS2" curl -sf -o /dev/null http://10.78.0.1:8080/; done
  ip -n "$NS1" link del vc
  wait_for grep -q 'vc: gone' "$T/ks.err"
  get 1
  ks_stop
  run tsh -r "$(segments | head -1)" -T fields -e frame.interface_name -Y 'tcp.port == 8080 && ip.addr == 10.78.0.1'
  assert_output --partial vc
  run tsh -r "$(segments | head -1)" -Y 'ip.addr == 10.77.0.1'
  [ -n "$output" ]
}

@test "store: SIGHUP starts a new segment; --stats prints lines" {
  ks_start "$NS1" -i va --stats 1s
  get 1
  kill -HUP "$KS_PID"
  wait_for closed 1
  get 1
  wait_for grep -q 'stats: ' "$T/ks.err"
  run "$KF_BIN/ksnap" ls --json "$STORE"
  assert_success
  [ "$(jq '.nodes[0].capturing' <<<"$output")" = true ]
  [ "$(jq '.nodes[0].open_segments' <<<"$output")" -eq 1 ]
  [ "$(jq '.nodes[0].segments' <<<"$output")" -eq 2 ]
  ks_stop
  [ "$(segments | wc -l)" -eq 2 ]
  grep -qE 'stats: [0-9]+ packets written, 0 dropped.* va [0-9]+/0' "$T/ks.err"
}

@test "store: disk full: the oldest segments make room, capture goes on, a line says so" {
  MNT=$T/small; mkdir -p "$MNT"
  mount -t tmpfs -o size=1m tmpfs "$MNT"
  STORE=$MNT/store
  ks_start "$NS1" -i va --segment-size 128K --retain-size 0
  get 25
  wait_for settled "$NS1" "$NS2"
  kill -0 "$KS_PID"
  ks_stop
  grep -q 'disk full' "$T/ks.err" || { cat "$T/ks.err"; ls -la "$STORE/n1"; df "$MNT"; false; }
  # room is made before a segment opens, so no packet was lost to a failed write
  ! grep -q 'write failed' "$T/ks.err"
  for f in $(segments); do run tshark -r "$f"; assert_success; refute_output --partial "cut short"; done
  # the newest packets made it
  [ "$(segments | wc -l)" -ge 2 ]
}

@test "store: without CAP_BPF the default backend falls back to pcap with one warning" {
  ip netns exec "$NS1" capsh --drop=cap_bpf,cap_sys_admin,cap_perfmon -- -c \
    "exec $KF_BIN/ksnap capture --dir $STORE --node n1 -i va -v" 2>"$T/ks.err" &
  KS_PID=$!
  wait_for grep -q ': capturing' "$T/ks.err"
  get 1
  wait_for settled "$NS1" "$NS2"
  ks_stop
  [ "$(grep -c 'falling back to --backend pcap' "$T/ks.err")" -eq 1 ]
  run tsh -r "$(segments | head -1)" -Y 'tcp.port == 8080'
  [ "${#lines[@]}" -gt 20 ]
}

@test "store: --user drops privileges; later segments belong to the user" {
  # bats' temporary folders are 0700: nobody could not reach a store there
  STORE=$(mktemp -d /tmp/kf_user_store.XXXXXX); chmod 755 "$STORE"; USTORE=$STORE
  ks_start "$NS1" -i va --user nobody
  get 1
  kill -HUP "$KS_PID"; wait_for closed 1
  get 1
  pid=$(pgrep -f "ksnap capture --dir $STORE" | head -1)
  [ "$(stat -c %U /proc/$pid)" = nobody ]
  grep -qE '^CapEff:\s+0000000000003000$' /proc/$pid/status
  ks_stop
  [ "$(segments | wc -l)" -eq 2 ]
  [ "$(stat -c %U "$(segments | tail -1)")" = nobody ]
  run tsh -r "$(segments | tail -1)" -Y 'tcp.port == 8080'
  [ "${#lines[@]}" -gt 20 ]
}

@test "capture: usage errors" {
  run "$KF_BIN/ksnap" capture
  assert_failure 2
  assert_output --partial "--dir is required"
  run "$KF_BIN/ksnap" capture --dir "$T/x" --segment-size 1
  assert_failure 2
  run "$KF_BIN/ksnap" capture --dir "$T/x" -f 'tcp port' --node n1
  assert_failure 2
  assert_output --partial "-f:"
  run "$KF_BIN/ksnap" capture --help
  assert_success
  assert_output --partial "--retain-size"
}

@test "store: -i with a glob takes matching interfaces that appear later, and only those" {
  ip -n "$NS1" link add vx0 type veth peer name vx1; ip -n "$NS1" link set vx0 up
  ks_start "$NS1" -i 'vc*' -i vx0
  ip -n "$NS1" link add vc1 type veth peer name vd1 netns "$NS2"
  ip -n "$NS1" addr add 10.78.0.1/24 dev vc1
  ip -n "$NS2" addr add 10.78.0.2/24 dev vd1
  ip -n "$NS1" link set vc1 up; ip -n "$NS2" link set vd1 up
  wait_for grep -q 'vc1: capturing' "$T/ks.err"
  ip netns exec "$NS2" curl -sf -o /dev/null http://10.78.0.1:8080/
  get 1
  ks_stop
  run tsh -r "$(segments | head -1)" -T fields -e frame.interface_name
  assert_output --partial vc1
  refute_output --partial va
  ! grep -q 'va: capturing' "$T/ks.err"
  grep -q 'vx0: capturing' "$T/ks.err"
}

@test "store: an idle capture leaves no trail of empty segments (issue 20)" {
  ks_start "$NS1" -i va --segment-time 0.2s
  sleep 2    # ten segment times without a packet (IPv6 off: nothing stray on va)
  ks_stop
  n=$(segments | wc -l)
  [ "$n" -le 1 ] || { ls -l "$STORE/n1"; fail "$n segments for an idle capture"; }
  # traffic after the idle time still rotates by time as before
  ks_start "$NS1" -i va --segment-time 0.5s
  sleep 1.2
  for i in $(seq 6); do get 1; sleep 0.2; done
  ks_stop
  [ "$(segments | wc -l)" -ge 3 ]
}

clock_past() { [ "$(date +%s%N)" -gt "$1" ]; }
npkts() { capinfos -c -M -T "$1" 2>/dev/null | awk -F'\t' 'NR == 2 { print $2 }'; }

@test "store: idle stretches between traffic leave no empty segment: the empty one moves its start to the next packet" {
  ks_start "$NS1" -i va --segment-time 1s
  get 1
  # the segment holding it closes at its time; an empty one opens where it ended
  wait_for compgen -G "$STORE/n1/*.pcapng" >/dev/null
  s1=$(seg_start "$(ls "$STORE"/n1/*.pcapng.part)")
  # idle past two segment times: the next packet starts a segment of its own, after a gap
  wait_for clock_past $((s1 + 2300000000))
  get 1
  wait_for eval '[ "$(segments | wc -l)" -ge 2 ]'
  s2=$(seg_start "$(ls "$STORE"/n1/*.pcapng.part)")
  # idle past one segment time only: the next starts where the empty one would have ended
  wait_for clock_past $((s2 + 1200000000))
  get 1
  ks_stop
  ls -l "$STORE/n1" >&3
  # capinfos counts each segment's packets: none is empty, but the last may be (stopped idle)
  n=0 prev=
  for f in $(segments); do
    n=$((n + 1))
    c=$(npkts "$f")
    echo "# $(basename "$f"): $c packets" >&3
    [ "$c" -gt 0 ] || [ "$f" = "$(segments | tail -1)" ] || fail "$(basename "$f") is empty"
    [ "$n" -ne 2 ] || [ "$(tsh -r "$f" -T fields -e frame.time_epoch -c 1 | tr -d .)" = "$(seg_start "$f")" ] \
      || fail "the segment after a gap starts at its first packet"
    [ "$n" -ne 3 ] || [ $(($(seg_start "$f") - prev)) -eq 2000000000 ] \
      || fail "the third segment starts two segment times after the second (contiguous)"
    prev=$(seg_start "$f")
  done
  [ "$n" -ge 3 ]
  [ "$n" -le 4 ]
}
