#!/usr/bin/env bash
# Regenerates the golden NDJSON of tests/golden/l7 on purpose (never run by tests): one file per
# corpus capture of the L7 protocols, <dir>/<capture>.ndjson. Review the diff before committing.
# Env: KF_BIN (default bin/), KF_CORPUS (default ../shared/corpus).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
: "${KF_BIN:=$root/bin}" "${KF_CORPUS:=$(cd "$root/.." && pwd)/shared/corpus}"
export TZ=UTC LC_ALL=C
n=0
for d in tls redis http2 grpc postgres mysql kafka amqp websocket; do
  mkdir -p "$here/$d"
  while read -r path; do
    out=$here/$d/$(basename "$path").ndjson
    "$KF_BIN/kdissect" --no-conn "$KF_CORPUS/$path" | jq -c -f "$here/filter.jq" > "$out.tmp"
    mv "$out.tmp" "$out"
    n=$((n + 1))
  done < <(awk -F'\t' -v d="$d" '$8=="capture" && index($1, d "/")==1 {print $1}' "$KF_CORPUS/SOURCES.tsv")
done
echo "regen.sh: wrote $n golden files"
