#!/usr/bin/env bash
# Regenerates the golden NDJSON of tests/golden/l7 on purpose (never run by tests): one file per
# corpus capture of the L7 protocols, <dir>/<capture>.ndjson. Review the diff before committing.
# Usage: regen.sh [CORPUS_DIR…]   (default: every folder here; a new protocol: regen.sh <its corpus folder>)
# Env: KF_BIN (default bin/), KF_CORPUS (default tests/corpus).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
: "${KF_BIN:=$root/bin}" "${KF_CORPUS:=$root/tests/corpus}"
export TZ=UTC LC_ALL=C
n=0
dirs=${*:-$(cd "$here" && for d in */; do printf '%s ' "${d%/}"; done)}
for d in $dirs; do
  mkdir -p "$here/$d"
  while read -r path; do
    out=$here/$d/$(basename "$path").ndjson
    "$KF_BIN/kdissect" --no-conn "$KF_CORPUS/$path" | jq -c -f "$here/filter.jq" > "$out.tmp"
    # a file that had records and would have none is a broken build, not a new truth
    if [ -s "$out" ] && [ ! -s "$out.tmp" ] && [ "${FORCE:-0}" != 1 ]; then
      rm -f "$out.tmp"; echo "regen.sh: $path: no records any more (FORCE=1 to accept)" >&2; exit 1
    fi
    mv "$out.tmp" "$out"
    n=$((n + 1))
  done < <(awk -F'\t' -v d="$d" '$8=="capture" && index($1, d "/")==1 {print $1}' "$KF_CORPUS/SOURCES.tsv")
done
echo "regen.sh: wrote $n golden files"
