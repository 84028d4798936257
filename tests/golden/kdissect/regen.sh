#!/usr/bin/env bash
# Regenerates the kdissect golden files ON PURPOSE (never run by tests). Review the diff before
# committing: a golden change is a behaviour change.
#   tests/golden/kdissect/regen.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
KF_BIN=${KF_BIN:-$ROOT/bin}
KF_CORPUS=${KF_CORPUS:-$PWD/tests/corpus}
export TZ=UTC LC_ALL=C
while IFS=$'\t' read -r name input args; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  case "$input" in
    corpus:*) dir=$KF_CORPUS; rel=${input#corpus:} ;;
    samples:*) dir=$ROOT/samples; rel=${input#samples:} ;;
  esac
  [ "$args" = - ] && args=
  # shellcheck disable=SC2086
  (cd "$dir" && "$KF_BIN/kdissect" $args "$rel") > "tests/golden/kdissect/$name.ndjson.tmp"
  mv "tests/golden/kdissect/$name.ndjson.tmp" "tests/golden/kdissect/$name.ndjson"
  echo "$name: $(wc -l < "tests/golden/kdissect/$name.ndjson") records"
done < tests/golden/kdissect/LIST
