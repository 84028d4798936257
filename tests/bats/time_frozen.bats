#!/usr/bin/env bats
# Time on frozen data (issue 20): relative times and now count from the input's end on snapshots
# and capture files (from the wall clock on a live store); an empty window says so with the
# input's range; kfl --now sets now(); timestamp() takes docs/time.md's forms; people read local
# time first with UTC in parentheses. Oracles: tcpdump's timestamps, the manifest (jq), date(1).
load helpers

setup() { W=$BATS_TEST_TMPDIR; SNAP=$SAMPLES/demo.ksnap; CAP=$SAMPLES/node-worker-1-pods.pcapng; }
npk() { tcpdump -# -n -r "$1" 2>/dev/null | grep -cE '^ *[0-9]+  '; }

@test "time: the README's kexport --from -10m on a snapshot frozen long ago exports its packets" {
  run "$KF_BIN/kexport" "$SNAP" --workload shop/orders --from -10m -o "$W/o.pcapng"
  assert_success
  [ "$(npk "$W/o.pcapng")" -gt 0 ]
  # the same as the absolute window: 10 minutes before the snapshot's end (manifest window.to)
  to=$(tar --zstd -xOf "$SNAP" manifest.json | jq -r .window.to)
  from=$(date -u -d "$to - 10 minutes" +%Y-%m-%dT%H:%M:%S.%NZ)
  "$KF_BIN/kexport" "$SNAP" --workload shop/orders --from "$from" -o "$W/abs.pcapng"
  diff <(tcpdump -tt -n -r "$W/o.pcapng" 2>/dev/null) <(tcpdump -tt -n -r "$W/abs.pcapng" 2>/dev/null)
}

@test "time: on a capture file, --from -1s counts from its last packet (tcpdump's timestamps)" {
  last=$(tcpdump -tt -n -r "$CAP" 2>/dev/null | tail -1 | cut -d' ' -f1)
  want=$(tcpdump -tt -n -r "$CAP" 2>/dev/null | awk -v l="$last" '$1 >= l - 1' | wc -l)
  [ "$want" -gt 0 ]
  run "$KF_BIN/kexport" "$CAP" --from -1s -o "$W/o.pcapng"
  assert_success
  [ "$(npk "$W/o.pcapng")" -eq "$want" ]
  run "$KF_BIN/kexport" "$CAP" --from 'now - 1s' -o "$W/o2.pcapng"
  [ "$(npk "$W/o2.pcapng")" -eq "$want" ]
}

@test "time: a window that selects nothing says the window and the input's range in one line" {
  run "$KF_BIN/kexport" "$SNAP" --from -10s -o "$W/o.pcapng"
  assert_failure 1
  [ "${#lines[@]}" -eq 1 ]
  assert_output --regexp "^kexport: the window 2026-11-26 06:57:08(\.000)? UTC \.\. the end selected no packet; the input holds 2026-11-26 06:55:48\.597 UTC \.\. 2026-11-26 06:55:55\.871 UTC$"
  run env TZ=Asia/Kolkata "$KF_BIN/kexport" "$CAP" --from 2020-01-01 --to 2020-01-02 -o "$W/o.pcapng"
  assert_failure 1
  [ "${#lines[@]}" -eq 1 ]
  assert_output --partial "the window 2020-01-01 00:00:00.000 IST (2019-12-31 18:30:00.000 UTC) .. 2020-01-02 00:00:00.000 IST (2020-01-01 18:30:00.000 UTC) selected no packet; the input holds 2026-11-26 12:25:48.597 IST (06:55:48.597 UTC)"
}

@test "time: kresolve --at -1m29s on a snapshot counts from its end; its table shows local time, UTC in parentheses" {
  run "$KF_BIN/kresolve" workloads "$SNAP" --at -1m29s --json
  assert_success
  rel=$output
  run "$KF_BIN/kresolve" workloads "$SNAP" --at 2026-11-26T06:55:49Z --json
  [ "$rel" = "$output" ]
  [[ "$rel" == *cart-6f8d9b7c4-ab12c* ]]   # a pod that lived one second, 1m29s before the end
  run env TZ=Asia/Kolkata "$KF_BIN/kresolve" workloads "$SNAP" --name cart-6f8d9b7c4-ab12c --table
  assert_success
  assert_output --partial "10.0.53.150 [2026-11-26 12:25:48.549 IST (06:55:48.549 UTC) .. 2026-11-26 12:25:49.360 IST (06:55:49.360 UTC)]"
  run "$KF_BIN/kresolve" workloads "$SNAP" --name cart-6f8d9b7c4-ab12c --table
  assert_output --partial "10.0.53.150 [2026-11-26 06:55:48.549 UTC .. 2026-11-26 06:55:49.360 UTC]"
}

@test "time: kfl --now sets now(); timestamp() accepts the forms docs/time.md lists" {
  printf '%s\n' '{"id":"a","timestamp":"2026-12-07T06:50:00Z"}' '{"id":"b","timestamp":"2026-12-07T06:58:00Z"}' \
    '{"id":"c","timestamp":"2026-12-07T07:00:00Z"}' > "$W/r.ndjson"
  run "$KF_BIN/kfl" --now 2026-12-07T07:00:00Z 'timestamp > now() - duration("5m")' "$W/r.ndjson"
  assert_success
  [ "$(echo "$output" | jq -r .id | paste -sd,)" = b,c ]
  # --now takes every time form too, and now() with it equals timestamp("now")
  run "$KF_BIN/kfl" --now '2026-12-07 07:00:00 UTC' -c 'now() == timestamp("now") && timestamp > timestamp("-10m")' "$W/r.ndjson"
  [ "$output" = 2 ]
  run "$KF_BIN/kfl" --now yesterday x "$W/r.ndjson"
  assert_failure 2
  [[ "$output" == *"--now: bad time 'yesterday'"* ]]
  for form in '2026-12-07 06:58:00' '2026-12-07T06:58' '2026-12-07 06:58:00 UTC' '1796626680' '1796626680000' \
              '2026-12-07 12:28:00 IST (06:58:00 UTC)' '2026-12-07T08:58:00+02:00'; do
    run "$KF_BIN/kfl" -c "timestamp == timestamp(\"$form\")" "$W/r.ndjson"
    [ "$output" = 1 ] || { echo "form '$form': $output"; false; }
  done
  # a local time without a zone is the local zone's (as everywhere): 12:28 in Kolkata is 06:58 UTC
  run env TZ=Asia/Kolkata "$KF_BIN/kfl" -c 'timestamp == timestamp("2026-12-07 12:28:00")' "$W/r.ndjson"
  [ "$output" = 1 ]
  run "$KF_BIN/kfl" --check 'timestamp > timestamp("not a time")'
  assert_failure 2
  [[ "$output" == *"bad timestamp"* ]]
}
