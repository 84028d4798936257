#!/usr/bin/env bats
# kstat: statistics and the map against independent computations (tests/kstat/oracle.py, jq,
# Graphviz's own SVG), every output mode, and bad input. The live capture: kstat_live.bats.
load helpers

setup() {
  KS=$KF_BIN/kstat
  W=$BATS_TEST_TMPDIR
  O=$KF_ROOT/tests/kstat
  if [ ! -s "$BATS_FILE_TMPDIR/demo.ndjson" ]; then
    "$KF_BIN/kdissect" "$SAMPLES/demo.ksnap" > "$BATS_FILE_TMPDIR/demo.ndjson"
  fi
  D=$BATS_FILE_TMPDIR/demo.ndjson
}

@test "kstat: the sample snapshot's statistics equal the Python oracle (counts, error ratios, exact percentiles)" {
  "$KS" --json "$D" > "$W/k"
  python3 "$O/oracle.py" < "$D" > "$W/o"
  run python3 "$O/compare.py" "$W/k" "$W/o"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(wc -l < "$W/o")" -ge 20 ]
  # the gRPC call that failed inside HTTP 200 (grpc_status 14) is an error; NXDOMAIN is not
  [ "$(jq -s 'map(select(.key.protocol == "GRPC")) | .[0].errors' "$W/k")" -eq 1 ]
  [ "$(jq -s 'map(select(.key.protocol == "DNS") | .errors) | add' "$W/k")" -eq 0 ]
  [ "$(jq -s 'map(select(.key.protocol == "DNS") | .nxdomain) | add' "$W/k")" -eq "$(jq -s 'map(select(.dns_rcode == "NXDOMAIN")) | length' "$D")" ]
}

@test "kstat: the other samples and the vendored captures of every protocol equal the oracle" {
  for f in "$SAMPLES"/*.pcap "$SAMPLES"/*.pcapng; do "$KF_BIN/kdissect" "$f"; done > "$W/s.ndjson"
  for d in amqp dns grpc http1 http2 kafka mysql postgres redis websocket tls; do
    find "$KF_CORPUS/$d" -name '*.pcap*' | sort | head -25 | while read -r f; do "$KF_BIN/kdissect" "$f" 2>/dev/null || true; done
  done >> "$W/s.ndjson"
  protos=$(jq -r .protocol "$W/s.ndjson" | sort -u | paste -sd' ')
  echo "protocols: $protos"
  for p in AMQP DNS GRPC HTTP HTTP2 KAFKA MYSQL POSTGRESQL REDIS TCP WS; do [[ " $protos " == *" $p "* ]]; done
  "$KS" --json "$W/s.ndjson" > "$W/k"
  python3 "$O/oracle.py" < "$W/s.ndjson" > "$W/o"
  run python3 "$O/compare.py" "$W/k" "$W/o"
  echo "$output" | tail -5
  [ "$status" -eq 0 ]
  # errors were found in several protocols (the table is exercised, not only zeros)
  [ "$(jq -s '[.[] | select(.errors > 0) | .key.protocol] | unique | length' "$W/k")" -ge 5 ]
  # KFL --by expressions: string fields and a computed key
  "$KS" --json --by dst.service.name,method "$W/s.ndjson" > "$W/k2"
  python3 "$O/oracle.py" --by dst.service.name,method < "$W/s.ndjson" > "$W/o2"
  python3 "$O/compare.py" "$W/k2" "$W/o2"
}

@test "kstat: counts by status equal jq's group_by; a computed --by expression" {
  a=$("$KS" --json --by status_code "$D" | jq -r '"\(.key.status_code) \(.calls)"' | sort)
  b=$(jq -r 'select((.flow // false) == false and ((.conn // false) == false or (.conn_l7_detected | length) == 0 or (.tcp_error_type // "" | IN("refused","reset","timeout")))) | .status_code // 0' "$D" | sort | uniq -c | awk '{print $2, $1}' | sort)
  [ "$a" = "$b" ]
  run "$KS" --json --by 'status_code >= 500 ? "5xx" : "other"' "$D"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r 'select(.key["status_code >= 500 ? \"5xx\" : \"other\""] == "5xx") | .calls')" -eq "$(jq -s 'map(select(.status_code >= 500)) | length' "$D")" ]
}

@test "kstat: files, -, gzip and several files give the same; doubling the input doubles the counts" {
  "$KS" --json "$D" > "$W/a"
  "$KS" --json - < "$D" > "$W/b"
  gzip -c "$D" > "$W/d.gz"
  "$KS" --json "$W/d.gz" > "$W/c"
  cmp "$W/a" "$W/b"
  cmp "$W/a" "$W/c"
  "$KS" --json "$D" "$W/d.gz" > "$W/two"
  [ "$(jq -s 'map(.calls) | add' "$W/two")" -eq $(( 2 * $(jq -s 'map(.calls) | add' "$W/a") )) ]
  [ "$(jq -s 'map(.errors) | add' "$W/two")" -eq $(( 2 * $(jq -s 'map(.errors) | add' "$W/a") )) ]
}

@test "kstat: composes after kfl; to a pipe NDJSON without --json; --csv is the same numbers" {
  "$KF_BIN/kfl" 'protocol == "HTTP"' "$D" | "$KS" > "$W/p"
  [ "$(jq -r .key.protocol "$W/p" | sort -u)" = HTTP ]
  [ "$(jq -s 'map(.calls) | add' "$W/p")" -eq "$(jq -s 'map(select(.protocol == "HTTP")) | length' "$D")" ]
  "$KS" --csv "$D" > "$W/c.csv"
  "$KS" --json "$D" > "$W/j"
  head -1 "$W/c.csv" | grep -qx 'protocol,src,dst,endpoint,calls,rate,errors,error_ratio,client_errors,unanswered,nxdomain,p50_us,p90_us,p95_us,p99_us,max_us,request_bytes,response_bytes,first,last'
  python3 - "$W/c.csv" "$W/j" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
js = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == len(js) and rows, (len(rows), len(js))
for r, j in zip(rows, js):
    assert [r[k] for k in ("protocol", "src", "dst", "endpoint")] == list(j["key"].values()), (r, j)
    for f in ("calls", "errors", "client_errors", "unanswered", "nxdomain", "p50_us", "p99_us", "max_us", "request_bytes"):
        assert (int(r[f]) if r[f] else None) == j[f], (f, r, j)
    assert r["first"] == j["first"] and r["last"] == j["last"]
EOF
}

@test "kstat: --every: buckets aligned to the width, their calls add up to each group's, as the oracle counts per second" {
  "$KS" --json --every 1s --by protocol "$D" > "$W/e"
  [ "$(jq -r .bucket "$W/e" | grep -cv '\.000000000Z$')" -eq 0 ]
  a=$(jq -r '"\(.key.protocol) \(.bucket[0:19]) \(.calls) \(.errors)"' "$W/e" | sort)
  b=$(python3 - "$D" <<'EOF'
import json, sys, collections
c = collections.Counter(); e = collections.Counter()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("flow") or (r.get("conn") and r.get("conn_l7_detected") and r.get("tcp_error_type") not in ("refused", "reset", "timeout")):
        continue
    k = (r["protocol"], r["timestamp"][:19])
    c[k] += 1
    p, st = r["protocol"], r.get("status_code") or 0
    e[k] += int((p == "HTTP" and st >= 500) or (p == "GRPC" and (r.get("grpc_status") or 0) != 0) or
                (p == "DNS" and st not in (0, 3)) or (p == "REDIS" and r.get("redis_error") is True) or
                (p == "TCP" and r.get("tcp_error_type") in ("refused", "reset", "timeout")))
for (p, t), n in sorted(c.items()):
    print(p, t, n, e[(p, t)])
EOF
)
  [ "$a" = "$(echo "$b" | sort)" ] || { diff <(echo "$a") <(echo "$b" | sort); false; }
  # rate over a bucket is calls per bucket width
  [ "$(jq -s 'map(select(.rate != .calls)) | length' "$W/e")" -eq 0 ]
  run "$KS" --every nonsense "$D"
  [ "$status" -eq 2 ]
}

@test "kstat: --top and --sort (p99, errors) pick and order groups" {
  run "$KS" --json --top 3 --sort p99 "$D"
  [ "$(echo "$output" | wc -l)" -eq 3 ]
  want=$("$KS" --json "$D" | jq -s -r 'sort_by(-(.p99_us // -1)) | .[0:3] | map(.p99_us) | join(" ")')
  [ "$(echo "$output" | jq -s -r 'map(.p99_us) | join(" ")')" = "$want" ]
  top=$("$KS" --json --top 1 --sort errors "$D" | jq .errors)
  [ "$top" -eq "$("$KS" --json "$D" | jq -s 'map(.errors) | max')" ]
  run "$KS" --sort nope "$D"
  [ "$status" -eq 2 ]
  [[ "$output" == *"unknown key 'nope'"* ]]
}

@test "kstat: endpoints template numeric, UUID and long hex path segments; --raw-paths keeps them" {
  rec() { printf '{"protocol":"HTTP","http":true,"timestamp":"2026-03-14T17:00:0%sZ","elapsed_time":%s,"method":"GET","path":"%s","status_code":200,"src":{"ip":"10.0.0.1"},"dst":{"ip":"10.0.0.2","port":80}}\n' "$1" "$2" "$3"; }
  { rec 1 100 /api/orders/123; rec 2 200 /api/orders/9; rec 3 300 /api/orders/5f0c2a1e-9d3b-4c1a-8f2e-0123456789ab
    rec 4 400 /blobs/0123456789abcdef0123; rec 5 500 /blobs/deadbeefcafe; rec 6 600 /users/o-1001; } > "$W/t.ndjson"
  run "$KS" --json --by endpoint "$W/t.ndjson"
  echo "$output"
  [ "$(echo "$output" | jq -r 'select(.key.endpoint == "GET /api/orders/{id}") | .calls')" -eq 3 ]
  [ "$(echo "$output" | jq -r 'select(.key.endpoint == "GET /blobs/{id}") | .calls')" -eq 1 ]
  [ "$(echo "$output" | jq -r 'select(.key.endpoint == "GET /blobs/deadbeefcafe") | .calls')" -eq 1 ]   # no digit: a word
  [ "$(echo "$output" | jq -r 'select(.key.endpoint == "GET /users/o-1001") | .calls')" -eq 1 ]
  [ "$("$KS" --json --raw-paths --by endpoint "$W/t.ndjson" | wc -l)" -eq 6 ]
}

@test "kstat: a table on a terminal: aligned, local time with UTC in parentheses" {
  command -v script >/dev/null || skip "script (util-linux) not installed"
  TZ=Asia/Kolkata script -qec "$KS --by protocol '$D'" /dev/null | tr -d '\r' > "$W/t"
  cat "$W/t"
  head -1 "$W/t" | grep -q 'calls in [0-9]* groups, 2026-11-26 12:25:48 IST (06:55:48 UTC) to'
  grep -q '^protocol  *CALLS' "$W/t"
  # aligned: CALLS is right-aligned, every row ends its calls column where the header does
  end=$(sed -n 2p "$W/t" | awk '{print index($0, "CALLS") + 4}')
  tail -n +3 "$W/t" | while IFS= read -r l; do [ "${l:$((end - 1)):1}" != " " ] && [ "${l:$end:1}" = " " ]; done
  [ "$(tail -n +3 "$W/t" | awk '{print $1}' | sort | paste -sd,)" = "DNS,GRPC,HTTP,REDIS,TCP,TLS" ]
  # --every on a terminal: the bucket in local time and UTC
  TZ=Asia/Kolkata script -qec "$KS --every 1m --by protocol '$D'" /dev/null | tr -d '\r' | grep -q '^2026-11-26 12:25:00 IST (06:55:00 UTC)  DNS'
  # and --table to a pipe is the same table
  TZ=Asia/Kolkata "$KS" --table --by protocol "$D" | diff - "$W/t"
}

@test "kstat map: JSON nodes and edges equal the oracle's; SVG from Graphviz has exactly those nodes and edges" {
  command -v dot >/dev/null || skip "graphviz not installed"
  "$KS" map --format json "$D" > "$W/m.json"
  python3 - "$D" "$W/m.json" "$O/oracle.py" <<'EOF'
import json, sys, collections, importlib.util, io
sys.argv, recs, m = [sys.argv[3]], [json.loads(l) for l in open(sys.argv[1])], json.load(open(sys.argv[2]))
spec = importlib.util.spec_from_file_location("oracle", sys.argv[0])
o = importlib.util.module_from_spec(spec); sys.stdin = io.StringIO(""); spec.loader.exec_module(o)
edges = collections.Counter(); errs = collections.Counter()
for r in recs:
    counted, err, _, _ = o.classify(r)
    if counted:
        k = (o.workload(r, "src"), o.workload(r, "dst"), r["protocol"]); edges[k] += 1; errs[k] += err
got = {(e["src"], e["dst"], e["protocol"]): (e["calls"], e["errors"]) for e in m["edges"]}
want = {k: (edges[k], errs[k]) for k in edges}
assert got == want, (got, want)
ids = {n["id"] for n in m["nodes"]}
assert ids == {k[0] for k in edges} | {k[1] for k in edges}, ids
for n in m["nodes"]:
    assert n["calls_in"] == sum(v for k, v in edges.items() if k[1] == n["id"])
    assert n["calls_out"] == sum(v for k, v in edges.items() if k[0] == n["id"])
assert m["more_edges"] == 0
EOF
  "$KS" map --format svg "$D" > "$W/m.svg"
  head -c 300 "$W/m.svg" | grep -q '<svg\|<?xml'
  python3 - "$W/m.svg" "$W/m.json" <<'EOF'
import json, sys, html, re
import xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
t = ET.parse(sys.argv[1]).getroot(); m = json.load(open(sys.argv[2]))
nodes = sorted(g.find("s:title", ns).text for g in t.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node")
edges = sorted(g.find("s:title", ns).text for g in t.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "edge")
assert nodes == sorted(n["id"] for n in m["nodes"]), (nodes, m["nodes"])
assert edges == sorted("%s->%s" % (e["src"], e["dst"]) for e in m["edges"]), (edges, m["edges"])
texts = " ".join(x.text or "" for x in t.iter("{http://www.w3.org/2000/svg}text"))
for e in m["edges"]:
    assert "%s %d calls" % (e["protocol"], e["calls"]) in texts, e
EOF
}

@test "kstat map: dot, mermaid and text carry every edge; --top-edges keeps the busiest and says how many are left" {
  n=$("$KS" map --format json "$D" | jq '.edges | length')
  [ "$("$KS" map --format dot "$D" | grep -c ' -> ')" -eq "$n" ]
  command -v dot >/dev/null && "$KS" map --format dot "$D" | dot -Tplain > /dev/null
  [ "$("$KS" map --format mermaid "$D" | grep -c -- '-->|')" -eq "$n" ]
  "$KS" map --format mermaid "$D" | head -1 | grep -qx 'graph LR'
  [ "$("$KS" map --format text "$D" | grep -c '→')" -eq "$n" ]
  run "$KS" map --format json --top-edges 2 "$D"
  [ "$(echo "$output" | jq '.edges | length')" -eq 2 ]
  [ "$(echo "$output" | jq .more_edges)" -eq $((n - 2)) ]
  [ "$(echo "$output" | jq '.edges[0].calls >= .edges[1].calls')" = true ]
  [ "$("$KS" map "$D" | jq '.edges | length')" -eq "$n" ]       # to a pipe: JSON
  run "$KS" map --format png "$D"
  [ "$status" -eq 2 ]
}

@test "kstat map --format svg without Graphviz: one clear line, exit 2, no output" {
  run --separate-stderr env KSTAT_DOT=/nonexistent/dot "$KS" map --format svg "$D"
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [ "$(echo "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == "kstat: map --format svg needs Graphviz's '/nonexistent/dot' program"*"apt-get install graphviz"* ]]
}

@test "kstat: bad input — a non-JSON line, missing fields, unknown --by variable: one clear line, exit 2, no output" {
  { head -3 "$D"; echo 'not json {'; tail -2 "$D"; } > "$W/bad.ndjson"
  run --separate-stderr "$KS" --json "$W/bad.ndjson"
  [ "$status" -eq 2 ]; [ -z "$output" ]
  [ "$stderr" = "kstat: $W/bad.ndjson:4: not a JSON object" ]
  { head -2 "$D"; echo '{"id":"x","elapsed_time":5}'; } > "$W/missing.ndjson"
  run --separate-stderr "$KS" "$W/missing.ndjson"
  [ "$status" -eq 2 ]; [ -z "$output" ]
  [ "$stderr" = "kstat: $W/missing.ndjson:3: no 'protocol' field (not a kdissect record)" ]
  echo '{"protocol":"HTTP","timestamp":"yesterday"}' > "$W/ts.ndjson"
  run --separate-stderr "$KS" "$W/ts.ndjson"
  [ "$status" -eq 2 ]
  [ "$stderr" = "kstat: $W/ts.ndjson:1: no valid 'timestamp' field (not a kdissect record)" ]
  run --separate-stderr "$KS" --by dst.service.nmae "$D"
  [ "$status" -eq 2 ]; [ -z "$output" ]
  [ "$(echo "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == "kstat: --by 'dst.service.nmae': unknown variable 'dst.service.nmae'; did you mean 'dst.service.name'?"* ]]
  run --separate-stderr "$KS" map --format json "$W/bad.ndjson"
  [ "$status" -eq 2 ]; [ -z "$output" ]
  # control characters in a file name are escaped in the message
  run --separate-stderr "$KS" "$W/no$(printf '\033')such"
  [ "$status" -eq 2 ]
  [[ "$stderr" != *$'\033'* ]]
  # --skip-invalid: counted on stderr, the rest is used
  run --separate-stderr "$KS" --json --skip-invalid "$W/bad.ndjson"
  [ "$status" -eq 0 ]
  [ "$stderr" = "kstat: 1 line was not a kdissect record, skipped" ]
  [ "$(echo "$output" | jq -s 'map(.calls) | add')" -ge 1 ]
}

@test "kstat: nothing counted exits 1; --help and man page" {
  run "$KS" --json < /dev/null
  [ "$status" -eq 1 ]; [ -z "$output" ]
  "$KF_BIN/kfl" 'flow' "$D" | { run "$KS" --json; [ "$status" -eq 1 ]; }
  run "$KS" --help
  [ "$status" -eq 0 ]; [[ "$output" == *"--every DUR"* ]]
  run "$KS" map --help
  [ "$status" -eq 0 ]
  [ -s "$KF_ROOT/man/kstat.1" ]
  man -l "$KF_ROOT/man/kstat.1" 2>/dev/null | grep -q 'kstat' || grep -q '^\.TH KSTAT' "$KF_ROOT/man/kstat.1"
}

@test "kstat: docs/kstat.md's error table lists every protocol kstat classifies, as kstat --errors prints it" {
  run "$KS" --errors
  [ "$status" -eq 0 ]
  for p in HTTP HTTP2 GRPC DNS REDIS KAFKA AMQP POSTGRESQL MYSQL MONGODB TCP UDP ICMP TLS WS; do
    echo "$output" | grep -q "^| $p |" || { echo "kstat --errors lacks $p"; false; }
  done
  # the table in the docs is exactly kstat's own
  sed -n '/^<!-- errors:begin -->$/,/^<!-- errors:end -->$/p' "$KF_ROOT/docs/kstat.md" | sed '1d;$d' > "$W/doc"
  diff "$W/doc" <(echo "$output")
}
