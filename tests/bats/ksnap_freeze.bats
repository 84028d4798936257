#!/usr/bin/env bats
# ksnap freeze: a window of a store into a .ksnap; tshark/tcpdump/tar are the oracles.
# The store is synthetic (test_snap --make-store): nodes worker-1/worker-2, segments of 60 s
# from 2026-03-14T17:00:00Z, one packet a second at +0.0005 s, src 10.0.0.5/.6/.7 in turn,
# worker-1's last segment an open .part cut inside its last block.
load helpers

setup() {
  T=$BATS_TEST_TMPDIR
  UNITS=${KF_UNITS:-$KF_ROOT/build/tests}
  [ -x "$UNITS/test_snap" ] || skip "build the unit tests first (make units)"
  "$UNITS/test_snap" --make-store "$T/st" >/dev/null
}

epoch() { date -u -d "$1" +%s; }

@test "freeze: tar lists it, manifest first, packets match tshark over the same window" {
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --from 2026-03-14T17:00:30Z --to 2026-03-14T17:02:30Z -o "$T/a.ksnap"
  assert_success
  run tar --zstd -tf "$T/a.ksnap"
  assert_success
  assert_line --index 0 manifest.json
  assert_line --index "$((${#lines[@]} - 1))" meta/events.ndjson
  assert_output --partial nodes/worker-1/20260314T170200.000000000Z.pcapng
  mkdir "$T/x" && tar --zstd -xf "$T/a.ksnap" -C "$T/x"
  f=$(epoch 2026-03-14T17:00:30Z); t=$(epoch 2026-03-14T17:02:30Z)
  for n in worker-1 worker-2; do
    want=0
    for s in "$T"/st/$n/*; do
      c=$(tshark -r "$s" -Y "frame.time_epoch >= $f && frame.time_epoch <= $t" 2>/dev/null | wc -l)
      want=$((want + c))
    done
    got=$(jq ".nodes[\"$n\"].packets" "$T/x/manifest.json")
    [ "$got" -eq "$want" ] || { echo "$n: manifest $got, tshark $want"; return 1; }
    inarch=$(cat "$T"/x/nodes/$n/*.pcapng | wc -c)
    c=0; for m in "$T"/x/nodes/$n/*.pcapng; do c=$((c + $(tshark -r "$m" 2>/dev/null | wc -l))); done
    [ "$c" -eq "$want" ] || { echo "$n: members hold $c packets, want $want"; return 1; }
  done
  [ "$(jq -r '.nodes["worker-1"].first_packet' "$T/x/manifest.json")" = 2026-03-14T17:00:30.000500000Z ]
  [ "$(jq -r '.nodes["worker-1"].last_packet' "$T/x/manifest.json")" = 2026-03-14T17:02:29.000500000Z ]
  # every member's hash is in the manifest and right
  for m in $(jq -r '.members | keys[]' "$T/x/manifest.json"); do
    [ "$(sha256sum "$T/x/$m" | cut -d' ' -f1)" = "$(jq -r ".members[\"$m\"].sha256" "$T/x/manifest.json")" ]
  done
  # the snapshot is read-only and no temporary file is left
  [ "$(stat -c %a "$T/a.ksnap")" = 440 ]
  [ -z "$(ls -A "$T" | grep '\.tmp\.')" ]
}

@test "freeze: a cut keeps the SHB node comment, IDB description, DSB and packet comments" {
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --node worker-2 --from 2026-03-14T17:01:20Z --to 2026-03-14T17:01:40Z -o "$T/c.ksnap"
  assert_success
  mkdir "$T/x" && tar --zstd -xf "$T/c.ksnap" -C "$T/x"
  m=$T/x/nodes/worker-2/20260314T170100.000000000Z.pcapng
  [ "$(tshark -r "$m" 2>/dev/null | wc -l)" -eq 20 ]
  run capinfos "$m"
  assert_output --partial "kforensics-node: worker-2"
  run tshark -r "$m" -Y frame.comment -T fields -e frame.comment
  assert_output --partial "a packet comment"
  run tshark -r "$m" -V -c 1
  assert_output --partial "worker-2/eth0"
  grep -q CLIENT_RANDOM "$m"
  [ ! -e "$T/x/nodes/worker-1" ]
}

@test "freeze -f: the same packets tcpdump selects with that filter" {
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --from 2026-03-14T17:00:10Z --to 2026-03-14T17:01:50Z -f "src host 10.0.0.5" -o "$T/f.ksnap"
  assert_success
  mkdir "$T/x" && tar --zstd -xf "$T/f.ksnap" -C "$T/x"
  f=$(epoch 2026-03-14T17:00:10Z); t=$(epoch 2026-03-14T17:01:50Z)
  want=0
  for s in "$T"/st/*/*; do
    c=$(tcpdump -tt -n -r "$s" "src host 10.0.0.5" 2>/dev/null | awk -v f="$f" -v t="$t" '$1 >= f && $1 <= t' | wc -l)
    want=$((want + c))
  done
  got=0
  for m in "$T"/x/nodes/*/*.pcapng; do
    got=$((got + $(tcpdump -n -r "$m" 2>/dev/null | wc -l)))
    [ "$(tcpdump -n -r "$m" "not src host 10.0.0.5" 2>/dev/null | wc -l)" -eq 0 ]
  done
  [ "$want" -gt 0 ]
  [ "$got" -eq "$want" ]
  [ "$(jq -r .filter "$T/x/manifest.json")" = "src host 10.0.0.5" ]
}

@test "freeze: the metadata window holds the state at the start and the events inside" {
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --from 2026-03-14T17:00:30Z --to 2026-03-14T17:01:30Z -o "$T/m.ksnap"
  assert_success
  run bash -c "tar --zstd -xOf '$T/m.ksnap' meta/events.ndjson | jq -c '[.ts, .type, .object.metadata.name]'"
  assert_success
  assert_line '["2026-03-14T17:00:30.000000000Z","ADDED","orders-1"]'
  assert_line '["2026-03-14T17:01:00.000000000Z","DELETED","orders-1"]'
  refute_output --partial payment-1
  run "$KF_BIN/kresolve" ips "$T/m.ksnap" --ip 10.0.0.5 --at 2026-03-14T17:00:45Z
  assert_success
  assert_output --partial orders-1
}

@test "freeze: a segment whose name lies about its start is cut after all (clock skew)" {
  # worker-2's 17:01:00 segment renamed to start at 17:01:05: named inside the window, it holds
  # packets from 17:01:00.0005, which are outside
  mv "$T/st/worker-2/20260314T170100.000000000Z.pcapng" "$T/st/worker-2/20260314T170105.000000000Z.pcapng"
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --node worker-2 --from 2026-03-14T17:01:03Z --to 2026-03-14T17:03:00Z -o "$T/s.ksnap"
  assert_success
  run "$KF_BIN/ksnap" verify "$T/s.ksnap"
  assert_success
  mkdir "$T/x" && tar --zstd -xf "$T/s.ksnap" -C "$T/x"
  [ "$(tshark -r "$T/x/nodes/worker-2/20260314T170105.000000000Z.pcapng" 2>/dev/null | wc -l)" -eq 57 ]
  [ "$(jq -r '.nodes["worker-2"].first_packet' "$T/x/manifest.json")" = 2026-03-14T17:01:03.000500000Z ]
  [ "$(jq '.nodes["worker-2"].packets' "$T/x/manifest.json")" -eq 117 ]
}

@test "freeze: errors exit 2 and leave no file; snapshots are never overwritten" {
  run "$KF_BIN/ksnap" freeze --dir "$T/nope" --from 2026-03-14T17:00:00Z --to 2026-03-14T17:01:00Z -o "$T/e.ksnap"
  assert_failure 2
  assert_output --partial "nope"
  [ ! -e "$T/e.ksnap" ]
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --from 2026-03-14T17:00:00Z --to 2026-03-14T17:01:00Z -f "host and and" -o "$T/e.ksnap"
  assert_failure 2
  assert_output --partial -- "-f:"
  [ ! -e "$T/e.ksnap" ]
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --from 2026-03-14T17:02:00Z --to 2026-03-14T17:00:00Z -o "$T/e.ksnap"
  assert_failure 2
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --node worker-9 --from 2026-03-14T17:00:00Z --to 2026-03-14T17:01:00Z -o "$T/e.ksnap"
  assert_failure 2
  assert_output --partial "worker-9"
  [ ! -e "$T/e.ksnap" ]
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --from 2026-03-14T17:00:00Z --to 2026-03-14T17:01:00Z -o "$T/e.ksnap"
  assert_success
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --from 2026-03-14T17:00:00Z --to 2026-03-14T17:01:00Z -o "$T/e.ksnap"
  assert_failure 2
  assert_output --partial "already exists"
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --from 2020-01-01T00:00:00Z --to 2020-01-01T00:01:00Z -o "$T/none.ksnap"
  assert_failure 1
  [ ! -e "$T/none.ksnap" ]
  run "$KF_BIN/ksnap" freeze --help
  assert_success
  assert_output --partial "usage: ksnap freeze"
}

@test "freeze: the same segment in two stores is refused, naming it, and nothing is written" {
  cp -a "$T/st" "$T/st2"
  run "$KF_BIN/ksnap" freeze --dir "$T/st" --dir "$T/st2" --from 2026-03-14T17:00:00Z --to 2026-03-14T17:03:00Z -o "$T/d.ksnap"
  assert_failure 2
  assert_output --partial "the same segment comes from two stores"
  assert_output --partial "nodes/worker-"
  [ ! -e "$T/d.ksnap" ]
}

@test "freeze from a live ksnap capture store (netns, veth)" {
  require_live
  "$KF_BIN/ksnap" capture --help >/dev/null 2>&1 || skip "ksnap capture not available yet"
  ns=$(netns_make cap)
  ip -n "$ns" link add v0 type veth peer name v1
  ip -n "$ns" addr add 10.201.0.1/24 dev v0
  ip -n "$ns" addr add 10.201.0.2/24 dev v1
  ip -n "$ns" link set v0 up
  ip -n "$ns" link set v1 up
  from=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ip netns exec "$ns" "$KF_BIN/ksnap" capture --dir "$T/live" --node live-1 -i v0 >"$T/cap.log" 2>&1 &
  cpid=$!
  # attached once its first segment is open (interfaces are attached before it opens)
  for _ in $(seq 100); do compgen -G "$T/live/live-1/*.pcapng.part" >/dev/null && break; sleep 0.1; done
  ip netns exec "$ns" ping -c 5 -i 0.2 -I v0 10.201.0.2 >/dev/null 2>&1 || true
  sleep 1.5
  to=$(date -u -d '+5 sec' +%Y-%m-%dT%H:%M:%SZ)
  run "$KF_BIN/ksnap" freeze --dir "$T/live" --from "$from" --to "$to" -o "$T/live.ksnap"
  kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null || true
  netns_cleanup
  cat "$T/cap.log" >&3 || true
  assert_success
  run "$KF_BIN/ksnap" verify "$T/live.ksnap"
  assert_success
  [ "$(tar --zstd -xOf "$T/live.ksnap" manifest.json | jq '.nodes["live-1"].packets')" -gt 0 ]
}

teardown() {
  netns_cleanup 2>/dev/null || true
}
