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
