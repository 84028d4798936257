#!/usr/bin/env bats
# Every fuzz target's seed corpus (tests/fuzz/corpus/<target>/) replayed through the target built
# with the normal compiler (and ASan+UBSan under SANITIZE=1): a crash or sanitizer report fails.
load helpers

@test "every fuzz target has seeds and replays them without a crash" {
  : "${KF_REPLAY:=$KF_ROOT/build/fuzz-replay}"
  n=0
  for src in "$KF_ROOT"/tests/fuzz/fuzz_*.c; do
    [ -f "$src" ] || continue
    t=$(basename "$src" .c)
    [ -x "$KF_REPLAY/$t" ] || fail "$t not built in $KF_REPLAY"
    [ -d "$KF_ROOT/tests/fuzz/corpus/$t" ] || fail "$t has no seed corpus in tests/fuzz/corpus/$t"
    run "$KF_REPLAY/$t" "$KF_ROOT/tests/fuzz/corpus/$t"
    [ "$status" -eq 0 ] || { echo "$output" | tail -20; fail "$t crashed on its seeds"; }
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || skip "no fuzz targets yet"
}

@test "fuzz_proto: every dissector of the table has seeds (corpus/fuzz_proto/<name>.*) that reach it" {
  : "${KF_REPLAY:=$KF_ROOT/build/fuzz-replay}"
  # tests/fuzz/fuzz_proto.c fuzzes every dissector of kdissect -p list; a protocol's seeds are its
  # test data (tests/l7/make_seeds.sh --table NAME CAPTURE makes them)
  run "$KF_BIN/kdissect" -p list
  assert_success
  [ "${#lines[@]}" -ge 10 ]
  for d in $(echo "$output" | cut -f1); do
    n=0
    for s in "$KF_ROOT/tests/fuzz/corpus/fuzz_proto/$d".*; do
      [ -f "$s" ] || continue
      head -1 "$s" | grep -qE "^$d(/tcp|/udp|/ip)?\$" || fail "$s does not start with the line '$d'"
      n=$((n + 1))
    done
    [ "$n" -gt 0 ] || fail "no seed for dissector $d in tests/fuzz/corpus/fuzz_proto/ ($d.*)"
    # at least one of them makes a record (the seeds reach their dissector)
    KF_FUZZ_PROTO_VERBOSE=1 "$KF_REPLAY/fuzz_proto" "$KF_ROOT/tests/fuzz/corpus/fuzz_proto/$d".* 2> "$BATS_TEST_TMPDIR/v" > /dev/null ||
      fail "fuzz_proto crashed on $d's seeds"
    grep -qE "^$d: [1-9][0-9]* records" "$BATS_TEST_TMPDIR/v" || { cat "$BATS_TEST_TMPDIR/v"; fail "no seed of $d makes a record"; }
  done
}
