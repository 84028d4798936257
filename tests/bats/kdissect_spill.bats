#!/usr/bin/env bats
# kdissect's spilled runs (engine_order.c): when waiting records outgrow their share of
# --max-memory they go, sorted, to temp files, read back a block at a time (16 KiB blocks at
# --max-memory 4M; a longer record gets a block of its own). The capture (tests/kdissect/mkspill.py)
# has one keep-alive connection open from the first packet to the last, so nearly every record
# waits for its conn record and is spilled, with records from 200 bytes to 80 KB. Oracle: the
# generator (Python) checks every call's path and body, the ids and the order; and the output
# without spilling (default budget) must be the same bytes.
load helpers

KD() { "$KF_BIN/kdissect" "$@"; }
MK=$KF_ROOT/tests/kdissect/mkspill.py

setup() { TMP=$(mktemp -d); python3 "$MK" make 240 "$TMP/s.pcap"; }
teardown() { rm -rf "$TMP"; }

spilled() { awk '$1 == "spilled_runs" { print $2 }' "$1"; }

@test "kdissect: records spilled and read back in blocks come out whole, in order, as without spilling" {
  KD --max-memory 4M --body-limit 100000 --stats "$TMP/s.pcap" > "$TMP/small" 2> "$TMP/st"
  echo "# spilled runs at 4M: $(spilled "$TMP/st")" >&3
  [ "$(spilled "$TMP/st")" -ge 3 ]
  run python3 "$MK" check 240 < "$TMP/small"
  assert_success
  KD --body-limit 100000 --stats "$TMP/s.pcap" > "$TMP/big" 2> "$TMP/st2"
  [ "$(spilled "$TMP/st2")" -eq 0 ]
  cmp "$TMP/small" "$TMP/big"
}

# the capture with its packets' times made coarse: each a multiple of $3 µs
coarse() { python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
src, dst, q = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = bytearray(open(src, 'rb').read()); o = 24
while o + 16 <= len(d):
    s, us = struct.unpack_from('<II', d, o)
    t = (s * 1000000 + us) // q * q
    struct.pack_into('<II', d, o, t // 1000000, t % 1000000)
    o += 16 + struct.unpack_from('<I', d, o + 8)[0]
open(dst, 'wb').write(d)
PY
}

@test "kdissect: records that share a timestamp spill and come back as without spilling" {
  # (times made coarse, 0.1 s: each spill holds records of 2 or 3 times. The sort's own paths,
  # against qsort, are in tests/unit/test_sort.c)
  coarse "$TMP/s.pcap" "$TMP/c.pcap" 100000
  KD --max-memory 4M --body-limit 100000 --stats "$TMP/c.pcap" > "$TMP/small" 2> "$TMP/st"
  [ "$(spilled "$TMP/st")" -ge 3 ]
  KD --body-limit 100000 --stats "$TMP/c.pcap" > "$TMP/big" 2> "$TMP/st2"
  [ "$(spilled "$TMP/st2")" -eq 0 ]
  [ "$(wc -l < "$TMP/big")" -ge 200 ]
  cmp "$TMP/small" "$TMP/big"
}

@test "kdissect -j 2: spilled records the same (the shards' raw records, the merge's ids)" {
  KD -j 2 --max-memory 4M --body-limit 100000 --stats "$TMP/s.pcap" > "$TMP/small" 2> "$TMP/st"
  [ "$(spilled "$TMP/st")" -ge 3 ]
  run python3 "$MK" check 240 < "$TMP/small"
  assert_success
  KD -j 2 --body-limit 100000 "$TMP/s.pcap" > "$TMP/big"
  cmp "$TMP/small" "$TMP/big"
}

@test "kdissect: runs go to \$TMPDIR (docs/limits.md); none there: the oldest records go out early, counted" {
  mkdir "$TMP/td"
  TMPDIR=$TMP/td KD --max-memory 4M --body-limit 100000 --stats "$TMP/s.pcap" > "$TMP/o" 2> "$TMP/st"
  [ "$(spilled "$TMP/st")" -ge 3 ]
  python3 "$MK" check 240 < "$TMP/o"
  # tmpfile() wrote to /tmp whatever $TMPDIR said
  TMPDIR=$TMP/none KD --max-memory 4M --body-limit 100000 --stats "$TMP/s.pcap" > "$TMP/o" 2> "$TMP/st"
  [ "$(spilled "$TMP/st")" -eq 0 ]
  [ "$(awk '$1 == "reorder_forced" { print $2 }' "$TMP/st")" -gt 0 ]
  [ "$(jq -r 'select(.http) | .path' "$TMP/o" | wc -l)" -eq 255 ]
}

@test "kdissect: a run that cannot be written is an I/O error with one line (exit 3), not records lost quietly" {
  # runs of ~1.3 MB at --max-memory 4M; files limited to 512 KiB (SIGXFSZ ignored: write fails EFBIG)
  run bash -c "trap '' XFSZ; ulimit -f 512; '$KF_BIN/kdissect' --max-memory 4M --body-limit 100000 '$TMP/s.pcap' 2>&1 > /dev/null"
  [ "$status" -eq 3 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"temporary file for waiting records"*"File too large"* ]]
}

@test "kdissect -j 2: a shard's run that cannot be written is the same I/O error (it exited 0 with the records lost)" {
  run bash -c "trap '' XFSZ; ulimit -f 512; '$KF_BIN/kdissect' -j 2 --max-memory 4M --body-limit 100000 '$TMP/s.pcap' 2>&1 > /dev/null"
  [ "$status" -eq 3 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"temporary file for waiting records"*"File too large"* ]]
}

@test "kdissect: one temporary file per engine, its runs one after the other, from its start again once all were read back" {
  # three keep-alive connections in turn (mkspill.py make N OUT 2), a pause between them: about
  # 14 runs of ~1.4 MB wait for the first, 12 for the second. A file per run took 14 descriptors
  # at once (with 12 allowed the records went out of order, reorder_forced, exit 0); one file
  # that only grew would reach ~37 MB (the 24 MB limit: exit 3, "File too large")
  python3 "$MK" make 1800 "$TMP/r.pcap" 2
  # (the limits on kdissect alone: the output, 40 MB, goes through a pipe)
  run bash -c "set -o pipefail; (trap '' XFSZ; ulimit -n 12; ulimit -f 24000; exec '$KF_BIN/kdissect' --max-memory 4M --body-limit 100000 --stats '$TMP/r.pcap' 2> '$TMP/st') | cat > '$TMP/o'"
  assert_success
  [ "$(spilled "$TMP/st")" -ge 20 ]
  [ "$(awk '$1 == "reorder_forced" { print $2 }' "$TMP/st")" -eq 0 ]
  run python3 "$MK" check 1800 2 < "$TMP/o"
  assert_success
  KD --body-limit 100000 "$TMP/r.pcap" | cmp - "$TMP/o"
}

@test "kdissect: too many runs waiting at once are merged, smallest first, and the records come out the same" {
  # (at most KD_RUNS_MAX, 64, wait at once: each holds a read block once loaded and output looks
  # at every run's head for each record. KDISSECT_RUNS_MAX=4 makes this capture's ~26 runs of
  # ~1.4 MB, about 14 at once, merge two at a time, over and over.)
  python3 "$MK" make 1800 "$TMP/r.pcap" 2
  KD --body-limit 100000 "$TMP/r.pcap" > "$TMP/big"
  for j in 1 2; do
    KDISSECT_RUNS_MAX=4 KD -j $j --max-memory 4M --body-limit 100000 --stats "$TMP/r.pcap" > "$TMP/o" 2> "$TMP/st"
    echo "# -j $j: spilled $(spilled "$TMP/st"), merged $(awk '$1 == "merged_runs" { print $2 }' "$TMP/st")" >&3
    [ "$(awk '$1 == "merged_runs" { print $2 }' "$TMP/st")" -ge 20 ]
    [ "$(awk '$1 == "reorder_forced" { print $2 }' "$TMP/st")" -eq 0 ]
    run python3 "$MK" check 1800 2 < "$TMP/o"
    assert_success
    if [ $j = 1 ]; then cmp "$TMP/big" "$TMP/o"; else KD -j 2 --body-limit 100000 "$TMP/r.pcap" | cmp - "$TMP/o"; fi
  done
  # without the test's setting nothing is merged here (a merge costs a rewrite of those runs)
  KD --max-memory 4M --body-limit 100000 --stats "$TMP/r.pcap" 2> "$TMP/st" | cmp - "$TMP/big"
  [ "$(awk '$1 == "merged_runs" { print $2 }' "$TMP/st")" -eq 0 ]
}
