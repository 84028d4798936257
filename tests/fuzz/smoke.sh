#!/usr/bin/env bash
# make fuzz-smoke: run each libFuzzer target for a short time from its seed corpus.
# KF_FUZZ_SECONDS (default 20) per target. Crashes fail the run; new inputs go to a temp folder.
set -u
dir=$1; secs=${KF_FUZZ_SECONDS:-20}; rc=0
cd "$(dirname "$0")/../.."
for t in "$dir"/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t"); work=$(mktemp -d)
  seeds=tests/fuzz/corpus/$name
  echo "== $name ($secs s)"
  if ! "$t" -max_total_time="$secs" -max_len=65536 -artifact_prefix="$work/" "$work" ${seeds:+$seeds} >"$work/log" 2>&1; then
    tail -30 "$work/log"; echo "FAIL $name: crash input kept in $work"; rc=1; continue
  fi
  grep -E '^#[0-9]+.*DONE|Done [0-9]+ runs' "$work/log" | tail -1
  rm -rf "$work"
done
exit $rc
