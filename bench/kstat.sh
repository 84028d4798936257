#!/usr/bin/env bash
# bench/kstat.sh — kstat against `jq -s group_by` computing the same per-endpoint statistics
# (calls, errors, p50, p99 by dst.service.name, method, path), in one run; then kstat's peak RSS
# on the input and on twice the input (it must stay flat: memory follows groups, not records).
# Input: bench/data/kfl-<MB>MB.ndjson (tests/kfl/gen_records.py, the same as bench/kfl.sh's;
# reused when present). Checks that both computed the same numbers.
# Env: KF_BIN (default ./bin), KF_BENCH_MB (default 64: jq -s holds all of it in memory, ~20x).
. "$(dirname "$0")/lib.sh"
kf_bench_init bench/kstat.sh
BIN=$KF_BIN
MB=${KF_BENCH_MB:-64}
DATA=bench/data/kfl-${MB}MB.ndjson
kf_need jq
[ -x "$BIN/kstat" ] || { echo "bench/kstat.sh: $BIN/kstat not built (make tools)" >&2; exit 2; }
if [ ! -s "$DATA" ]; then
  echo "generating $DATA (${MB} MB)…" >&2
  python3 tests/kfl/gen_records.py "$DATA.tmp" "$MB"
  mv "$DATA.tmp" "$DATA"
fi
bytes=$(stat -c %s "$DATA")
kf_warm "$DATA"
T=$WORK

# the same definitions as kstat's (docs/kstat.md): flows never count, connections only when they
# carried no L7 call or failed; errors here: HTTP >= 500, DNS rcode not 0/3, TCP refused/reset/timeout;
# nearest-rank percentiles; a missing string key is ""
JQ='map(select(.flow != true and (.conn != true or (.conn_l7_detected | length) == 0
                or (.tcp_error_type | IN("refused", "reset", "timeout")))))
  | group_by([.dst.service.name // "", .method // "", .path // ""])
  | map((map(.elapsed_time) | sort) as $l
        | [.[0].dst.service.name // "", .[0].method // "", .[0].path // "", length,
           (map(select((.protocol == "HTTP" and .status_code >= 500)
                       or (.protocol == "DNS" and .status_code != 0 and .status_code != 3)
                       or (.protocol == "TCP" and (.tcp_error_type | IN("refused", "reset", "timeout")))))
            | length),
           $l[((length * 0.5) | ceil) - 1], $l[((length * 0.99) | ceil) - 1]])
  | .[] | @tsv'
KS=(--by dst.service.name,method,path --csv)

kf_time_to "$T/t_kstat" "$T/kstat.csv" "$BIN/kstat" "${KS[@]}" "$DATA"
kf_time_to "$T/t_jq" "$T/jq.tsv" jq -s -r "$JQ" "$DATA"
kf_time "$T/t_kstat2" "$BIN/kstat" "${KS[@]}" "$DATA" "$DATA"

# columns: key1..3, calls, errors, p50, p99 (CSV: calls col 4, errors 6, p50 11, p99 14)
tail -n +2 "$T/kstat.csv" | python3 -c '
import csv, sys
for r in csv.reader(sys.stdin):
    print("\t".join([r[0], r[1], r[2], r[3], r[5], r[10], r[13]]))' | sort > "$T/a"
sort "$T/jq.tsv" > "$T/b"
# calls and errors exact; p50/p99 exact for groups of <= 1024 calls, else within 1% (the sketch)
same=1
python3 - "$T/a" "$T/b" > "$T/diff" <<'EOF2' || same=0
import sys
a = {tuple(l.split("\t")[:3]): l.rstrip("\n").split("\t")[3:] for l in open(sys.argv[1])}
b = {tuple(l.split("\t")[:3]): l.rstrip("\n").split("\t")[3:] for l in open(sys.argv[2])}
bad = 0
for k in sorted(set(a) | set(b)):
    x, y = a.get(k), b.get(k)
    if not x or not y or x[:2] != y[:2]:
        print("group", k, "kstat", x, "jq", y); bad += 1; continue
    for i in (2, 3):
        ok = x[i] == y[i] if int(x[0]) <= 1024 else abs(int(x[i]) - int(y[i])) <= 0.01 * int(y[i])
        if not ok:
            print("group", k, "kstat", x, "jq", y); bad += 1
sys.exit(1 if bad else 0)
EOF2

read -r ek uk sk rk < "$T/t_kstat"; read -r ej uj sj rj < "$T/t_jq"; read -r e2 u2 s2 r2 < "$T/t_kstat2"
awk -v b="$bytes" -v ek="$ek" -v uk="$uk" -v sk="$sk" -v rk="$rk" -v ej="$ej" -v uj="$uj" -v sj="$sj" -v rj="$rj" \
    -v r2="$r2" -v same="$same" -v groups="$(wc -l < "$T/a")" 'BEGIN {
  mb = b / 1048576; ck = uk + sk; cj = uj + sj
  if (ek <= 0) ek = 0.01; if (ck <= 0) ck = 0.01; if (cj <= 0) cj = 0.01
  printf "input: %.0f MB, kstat --by dst.service.name,method,path (%d groups) vs jq -s group_by\n", mb, groups
  printf "kstat: %8.1f MB/s wall (%.2f s), %8.1f MB/s per core (%.2f s CPU), max RSS %d KB\n", mb / ek, ek, mb / ck, ck, rk
  printf "jq:    %8.1f MB/s wall (%.2f s), %8.1f MB/s per core (%.2f s CPU), max RSS %d KB\n", mb / ej, ej, mb / cj, cj, rj
  printf "ratio kstat/jq: %.1fx wall, %.1fx CPU\n", ej / ek, cj / ck
  printf "kstat max RSS: %d KB on %.0f MB, %d KB on twice that (%.2fx)\n", rk, mb, r2, r2 / rk
  if (!same) { print "MISMATCH: kstat and jq computed different statistics"; exit 1 }
  print "kstat and jq agree on calls and errors of every group, p50 and p99 exactly (within 1% for groups over 1024 calls)"
}' || { head -20 "$T/diff"; exit 1; }
