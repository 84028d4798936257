#!/usr/bin/env bash
# bench/report.sh — kstat report on a large input against kstat --json on the same input (the
# report runs kstat's aggregator twice, per group and per destination over time, plus its own
# tables: the ratio is what the page costs over the statistics alone); then the page's size and
# how long headless Chromium takes to load it (tests/report/browser.py), when chromium is there.
# Input: bench/data/kfl-<MB>MB.ndjson (tests/kfl/gen_records.py, shared with bench/kfl.sh).
# Env: KF_BIN (default ./bin), KF_BENCH_MB (default 1800: about a million records).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${KF_BIN:-$PWD/bin}
MB=${KF_BENCH_MB:-1800}
DATA=bench/data/kfl-${MB}MB.ndjson
mkdir -p bench/data
[ -x "$BIN/kstat" ] || { echo "bench/report.sh: $BIN/kstat not built (make tools)" >&2; exit 2; }
if [ ! -s "$DATA" ]; then
  echo "generating $DATA (${MB} MB)…" >&2
  python3 tests/kfl/gen_records.py "$DATA.tmp" "$MB"
  mv "$DATA.tmp" "$DATA"
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cat "$DATA" > /dev/null
recs=$(wc -l < "$DATA")
s=$(date +%s%N); "$BIN/kstat" report -o "$T/report.html" "$DATA"; rep_ms=$(( ($(date +%s%N) - s) / 1000000 ))
s=$(date +%s%N); "$BIN/kstat" --json "$DATA" > "$T/stats.ndjson"; stat_ms=$(( ($(date +%s%N) - s) / 1000000 ))
size=$(stat -c %s "$T/report.html")
printf 'records %s (%s MB)\n' "$recs" "$MB"
printf 'kstat --json    %6d ms\nkstat report    %6d ms   (ratio %.2f)\npage            %6d kB\n' \
  "$stat_ms" "$rep_ms" "$(echo "$rep_ms / $stat_ms" | bc -l)" $(( size / 1024 ))
if command -v chromium >/dev/null; then
  python3 tests/report/browser.py "$T/report.html" > "$T/b.json"
  jq -r '"Chromium load   \(.load_ms | floor) ms (navigation start to load event; \(.dom.elements) elements, console errors: \(.console | length), requests: \(.requests | length))"' "$T/b.json"
fi
