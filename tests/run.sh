#!/usr/bin/env bash
# Runs every test: C unit tests (TAP), then bats files (TAP). Prints "N passed, N failed, N skipped".
# Env: KF_BIN (tools), KF_UNITS (unit test binaries), KF_ONLY (substring to select tests),
#      KF_CORPUS (default tests/corpus, the vendored public captures; a bigger corpus is opt-in),
#      KF_REQUIRE_LIVE=1 (tests needing root/eBPF/netns fail instead of skipping).
set -u
cd "$(dirname "$0")/.."
export KF_ROOT=$PWD
# the public captures the tests need live in tests/corpus; KF_CORPUS=DIR runs them on another corpus
export KF_CORPUS=${KF_CORPUS:-$PWD/tests/corpus}
export TZ=UTC LC_ALL=C
pass=0 fail=0 skip=0 failed_names=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
count() { # $1 name, $2 tap file, $3 rc
  local p f s
  p=$(grep -cE '^ok ' "$2" | head -1); s=$(grep -cE '^ok .*# (skip|SKIP)' "$2")
  f=$(grep -cE '^not ok ' "$2")
  p=$((p - s))
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $1 exited $3 without a failing test line"; fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  [ "$f" -gt 0 ] && failed_names+=("$1")
  printf '%-40s %4d passed %3d failed %3d skipped\n' "$1" "$p" "$f" "$s"
}
for t in "${KF_UNITS:-build/tests}"/test_*; do
  [ -x "$t" ] || continue
  n=unit/$(basename "$t"); [[ -n "${KF_ONLY:-}" && "$n" != *"$KF_ONLY"* ]] && continue
  "$t" > "$log/out" 2>&1; rc=$?
  grep -E '^(not ok|#)' "$log/out" | grep -v '^# *$' | head -40
  count "$n" "$log/out" $rc
done
for b in tests/bats/*.bats; do
  [ -f "$b" ] || continue
  n=bats/$(basename "$b" .bats); [[ -n "${KF_ONLY:-}" && "$n" != *"$KF_ONLY"* ]] && continue
  bats --tap "$b" > "$log/out" 2>&1; rc=$?
  grep -E '^(not ok|# )|# (skip|SKIP)' "$log/out" | head -60
  count "$n" "$log/out" $rc
done
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
