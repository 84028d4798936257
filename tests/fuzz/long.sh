#!/usr/bin/env bash
# make fuzz-long: every libFuzzer target for a long time (KF_FUZZ_SECONDS, default 600 each: the
# "10 minutes per parser" of issue 21), one after the other, new inputs kept in
# build/fuzz-long/<target>/ so a later run continues where this one stopped. Not part of
# make test (it takes hours for all targets). KF_FUZZ_ONLY="a b" runs only those targets.
# A crash fails the run; its input is kept beside the target's corpus (crash-*), and a line
# "CRASH target file" is printed. Summary: one line per target with runs and coverage.
set -u
dir=$1; secs=${KF_FUZZ_SECONDS:-600}; rc=0
cd "$(dirname "$0")/../.."
out=${KF_FUZZ_LONG_DIR:-$(dirname "$dir")/fuzz-long}
for t in "$dir"/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  if [ -n "${KF_FUZZ_ONLY:-}" ] && [[ " $KF_FUZZ_ONLY " != *" $name "* ]]; then continue; fi
  work=$out/$name; mkdir -p "$work/corpus"
  echo "== $name ($secs s) $(date -u +%H:%M:%S)"
  if ! "$t" -max_total_time="$secs" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
       -artifact_prefix="$work/" "$work/corpus" "tests/fuzz/corpus/$name" >"$work/log" 2>&1; then
    tail -30 "$work/log"
    for c in "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*; do [ -e "$c" ] && echo "CRASH $name $c"; done
    rc=1
    continue
  fi
  grep -E 'Done [0-9]+ runs' "$work/log" | tail -1
done
exit $rc
