#!/usr/bin/env bash
# bench/kmcp.sh — what an MCP query costs over kmcp against the same question asked by hand.
# A dissection of KF_BENCH_MB MB of kdissect-like records (tests/kfl/gen_records.py, gzip'ed as
# kmcp keeps them) is put beside a placeholder snapshot; then, in one run:
#   list_api_calls 'http && status_code >= 500' (first page of 100, over stdio JSON-RPC)
#     vs  zcat calls.ndjson.gz | jq -c 'select(.http and .status_code >= 500)' | head -100
#   get_api_call of the last record (a whole scan)
#     vs  zcat calls.ndjson.gz | jq -c 'select(.id == ID)'
#   list_api_calls, the page after a cursor near the end (the gzip member index skips the rest)
#     vs  zcat calls.ndjson.gz | jq … from that record on
# and prints the times and ratios (kmcp without its index: KF_BENCH_NOINDEX=1). Env: KF_BIN (default ./bin), KF_BENCH_MB (default 256).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${KF_BIN:-$PWD/bin}
MB=${KF_BENCH_MB:-256}
DATA=bench/data/kmcp-${MB}MB.ndjson.gz
INDEX=bench/data/kmcp-${MB}MB.index.tsv
for t in kmcp kfl; do [ -x "$BIN/$t" ] || { echo "bench/kmcp.sh: $BIN/$t not built (make tools)" >&2; exit 2; }; done
command -v jq >/dev/null || { echo "bench/kmcp.sh: jq is not installed" >&2; exit 2; }
mkdir -p bench/data
if [ ! -s "$DATA" ] || [ ! -s "$INDEX" ]; then
  echo "generating $DATA (${MB} MB before gzip)…" >&2
  python3 tests/kfl/gen_records.py bench/data/kmcp.tmp "$MB"
  # as kmcp keeps a dissection: decimal record indexes in the ids, gzip members of 4 MiB of
  # records, index.tsv naming where each member starts
  python3 - bench/data/kmcp.tmp "$DATA.tmp" "$INDEX.tmp" <<'PY'
import gzip, json, sys
src, out, ix = sys.argv[1:4]
with open(src) as f, open(out, "wb") as o, open(ix, "w") as x:
    buf, n, first = [], 0, 0
    def flush():
        global buf, n
        if buf:
            x.write(f"{first}\t{o.tell()}\n"); o.write(gzip.compress("".join(buf).encode(), 3)); buf, n = [], 0
    for i, line in enumerate(f):
        r = json.loads(line); r["id"] = r["id"].split("-")[0] + f"-{i:06d}"
        if not buf: first = i
        s = json.dumps(r, separators=(",", ":")) + "\n"; buf.append(s); n += len(s)
        if n >= 4 << 20: flush()
    flush()
PY
  mv "$DATA.tmp" "$DATA"; mv "$INDEX.tmp" "$INDEX"; rm -f bench/data/kmcp.tmp
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/snaps/bench.dissection"
: > "$T/snaps/bench.ksnap"                          # placeholder: the queries read the dissection only
ln "$DATA" "$T/snaps/bench.dissection/calls.ndjson.gz" 2>/dev/null || cp "$DATA" "$T/snaps/bench.dissection/calls.ndjson.gz"
echo '{"snapshot":"bench","records":0}' > "$T/snaps/bench.dissection/info.json"
[ "${KF_BENCH_NOINDEX:-0}" = 1 ] || cp "$INDEX" "$T/snaps/bench.dissection/index.tsv"
last=$(zcat "$DATA" | tail -1 | jq -r .id)
cat "$DATA" > /dev/null

ms() { local a b; a=$(date +%s%N); "$@" > /dev/null; b=$(date +%s%N); echo $(( (b - a) / 1000000 )); }
mcp() { # tool arguments-json: one request over stdio, the answer's text
  printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":%s}}\n' "$1" "$2" |
    "$BIN/kmcp" --snapshots "$T/snaps" > "$T/answer"
  jq -e '.result.isError == false' "$T/answer" > /dev/null || { echo "kmcp failed: $(cat "$T/answer")" >&2; exit 1; }
}
peer_list() { zcat "$DATA" | jq -c 'select(.http == true and .status_code >= 500)' | head -100; }
peer_get() { zcat "$DATA" | jq -c --arg id "$last" 'select(.id == $id)'; }

m1=$(ms mcp list_api_calls '{"snapshot":"bench","kfl":"http && status_code >= 500","limit":100}')
n1=$(jq '.result.structuredContent.calls | length' "$T/answer")
p1=$(ms peer_list)
m2=$(ms mcp get_api_call "{\"snapshot\":\"bench\",\"id\":\"$last\"}")
p2=$(ms peer_get)
lastix=$((10#${last##*-}))
cur=$((lastix * 9 / 10))
m3=$(ms mcp list_api_calls "{\"snapshot\":\"bench\",\"limit\":100,\"cursor\":\"after:$cur\"}")
n3=$(jq '.result.structuredContent.calls | length' "$T/answer")
peer_page() { zcat "$DATA" | jq -c --argjson c "$cur" 'select((.id | split("-")[1] | tonumber) > $c)' | head -100; }
p3=$(ms peer_page)
echo "input: $MB MB of records ($(stat -c %s "$DATA") bytes gzip'ed)"
printf 'list_api_calls, first page (%d rows): kmcp %6d ms   zcat|jq|head %6d ms   ratio %.1fx\n' "$n1" "$m1" "$p1" "$(echo "$p1 / ($m1 + 0.001)" | bc -l)"
printf 'get_api_call, last record:           kmcp %6d ms   zcat|jq      %6d ms   ratio %.1fx\n' "$m2" "$p2" "$(echo "$p2 / ($m2 + 0.001)" | bc -l)"
printf 'list_api_calls after a cursor (%d):  kmcp %6d ms   zcat|jq|head %6d ms   ratio %.1fx\n' "$n3" "$m3" "$p3" "$(echo "$p3 / ($m3 + 0.001)" | bc -l)"
