#!/usr/bin/env bats
# kstat report: the HTML page, opened in headless Chromium (tests/report/browser.py). The judges:
# the browser (console, network, DOM), kstat --json and kstat map --format json for the numbers,
# Python over the records for the slowest calls, DNS failures and TCP trouble, kfl for the
# commands. Screenshots are kept in $KF_ARTEFACTS/kstat_report/ (default /tmp/kf-artefacts).
load helpers
load kstat_report_lib

setup() {
  W=$BATS_TEST_TMPDIR
  need_browser
}

demo_records() { [ -s "$W/demo.ndjson" ] || "$KF_BIN/kdissect" "$SAMPLES/demo.ksnap" > "$W/demo.ndjson"; }

@test "report of the sample snapshot: Chromium loads it offline without errors; map = kstat map, tables = kstat --json and the records" {
  demo_records
  run "$KF_BIN/kstat" report --title "INC-4711 checkout failures" -o "$W/demo.html" "$W/demo.ndjson"
  assert_success
  assert_output ''
  browse "$W/demo.html" demo
  run jq -r '.dom.title' "$W/demo.json"; assert_output 'INC-4711 checkout failures'
  run jq -c '.dom.sections' "$W/demo.json"; assert_output '["summary","map","charts","endpoints","slow","dns","tcp"]'
  check_against_kstat "$W/demo.ndjson" demo
  # the sample's story (README): 4 HTTP 5xx among the failing rows, 13 NXDOMAIN answers
  [ "$(jq '[.dom.tables.failing[] | select(.protocol == "HTTP") | .errors] | add' "$W/demo.json")" -eq 4 ]
  [ "$(jq '[.dom.tables.dnsfail[] | select(.rcode == "NXDOMAIN") | .queries] | add' "$W/demo.json")" -eq 13 ]
  # edges coloured by error ratio: a failing edge is not drawn in the no-error colour
  [ "$(jq '[.dom.map.edges[] | select(.errors > 0 and .color == "#5b7fa3")] | length' "$W/demo.json")" -eq 0 ]
  [ "$(jq '[.dom.map.edges[] | select(.errors == 0 and .color != "#5b7fa3")] | length' "$W/demo.json")" -eq 0 ]
  # two charts on the same axis, one line per destination
  [ "$(jq '.dom.charts | length' "$W/demo.json")" -eq 2 ]
  [ "$(jq '.dom.charts[0].series' "$W/demo.json")" -ge 2 ]
  check_commands demo
}

@test "report: the commands of the failing rows write the failing calls' packets (kexport)" {
  demo_records
  "$KF_BIN/kstat" report -o "$W/demo.html" "$W/demo.ndjson"
  python3 "$REPORT_T/browser.py" "$W/demo.html" > "$W/demo.json"
  cmd=$(jq -r '.dom.tables.failing[] | select(.protocol == "HTTP") | .command' "$W/demo.json" | head -1)
  [[ "$cmd" == *"| kexport "* ]]
  cd "$KF_ROOT"
  PATH="$KF_BIN:$PATH" bash -c "$cmd"
  n=$(tshark -r failing-1.pcapng -Y http.response 2>/dev/null | wc -l)
  rm -f failing-1.pcapng
  [ "$n" -eq "$(jq '[.dom.tables.failing[] | select(.protocol == "HTTP")][0].calls' "$W/demo.json")" ]
}

@test "report from standard input: commands start from the snapshot (kdissect SNAP | kfl …)" {
  demo_records
  "$KF_BIN/kstat" report -o "$W/stdin.html" < "$W/demo.ndjson"
  python3 "$REPORT_T/browser.py" "$W/stdin.html" > "$W/stdin.json"
  run jq -r '.dom.tables.slowest[0].command' "$W/stdin.json"
  assert_output --regexp "^kdissect '[^']*/demo\.ksnap' \| kfl 'id == \"[0-9a-f]{16}-[0-9]{6}\"' \| kexport '[^']*/demo\.ksnap' --calls - -o slow-1\.pcapng$"
  # gzip-compressed standard input: the same page
  gzip -c "$W/demo.ndjson" | "$KF_BIN/kstat" report -o "$W/gz.html"
  cmp "$W/stdin.html" "$W/gz.html"
  id=$(jq -r '.dom.tables.slowest[0].id' "$W/stdin.json")
  cd "$KF_ROOT"
  run bash -c "PATH=$KF_BIN:\$PATH; $(jq -r '.dom.tables.slowest[0].command | sub(" \\| kexport .*"; "")' "$W/stdin.json") | jq -r .id"
  assert_output "$id"
}

@test "report: attacker-controlled strings in every field are shown as text; nothing runs, loads or breaks the page" {
  demo_records
  python3 "$REPORT_T/hostile.py" < "$W/demo.ndjson" > "$W/hostile.ndjson"
  run "$KF_BIN/kstat" report --title '<script>alert(9)</script>"'"'" -o "$W/hostile.html" "$W/hostile.ndjson"
  assert_success
  browse "$W/hostile.html" hostile
  run jq -c '.dom.sections' "$W/hostile.json"; assert_output '["summary","map","charts","endpoints","slow","dns","tcp"]'
  run jq -r '.dom.title' "$W/hostile.json"; assert_output '<script>alert(9)</script>"'"'"
  # the payload is on the page as text, control characters and the bidi override made visible
  run jq -r '.dom.map.nodes[0].id' "$W/hostile.json"
  assert_output --partial '<script>window.__pwned=1;alert(1)</script>"'"'"'><img src=x onerror='
  assert_output --partial '\x01\x07\x1B[31m\x7F\u202E'
  [ "$(jq '[.dom.tables.failing[] | select(.src | contains("<img src=x"))] | length' "$W/hostile.json")" -gt 0 ]
  [ "$(jq '[.dom.tables.dnsfail[] | select(.name | contains("</table>"))] | length' "$W/hostile.json")" -gt 0 ]
  # the same page without its Content-Security-Policy: the escaping alone keeps it inert
  grep -c 'http-equiv="Content-Security-Policy"' "$W/hostile.html"
  sed '/http-equiv="Content-Security-Policy"/d' "$W/hostile.html" > "$W/nocsp.html"
  ! grep -q 'Content-Security-Policy' "$W/nocsp.html"
  browse "$W/nocsp.html" hostile-nocsp
  [ ! -e /tmp/kf-pwned ]
  # and the harness does notice what it must: an injected script, an alert and a fetch
  sed 's|</header>|<script>window.__pwned=1;alert(1)</script><img src="http://127.0.0.1:9/x.png"></header>|' "$W/nocsp.html" > "$W/evil.html"
  python3 "$REPORT_T/browser.py" "$W/evil.html" > "$W/evil.json"
  [ "$(jq -r '.dom.pwned' "$W/evil.json")" = 1 ]
  [ "$(jq '.console | map(select(startswith("dialog"))) | length' "$W/evil.json")" -eq 1 ]
  [ "$(jq '.requests | length' "$W/evil.json")" -eq 1 ]
}

@test "report of an empty input: a valid page that says there are no records" {
  run "$KF_BIN/kstat" report -o "$W/empty.html" /dev/null
  assert_success
  browse "$W/empty.html" empty
  run jq -c '.dom.sections' "$W/empty.json"; assert_output '["summary"]'
  run jq -r '.dom.empty_notes[0]' "$W/empty.json"; assert_output --partial 'no records'
  # from a pipe, and gzip-compressed
  : | "$KF_BIN/kstat" report > "$W/empty2.html"
  grep -q 'id="no-records"' "$W/empty2.html"
  : | gzip -c | "$KF_BIN/kstat" report > "$W/empty3.html"
  grep -q 'id="no-records"' "$W/empty3.html"
}

@test "report of records without Kubernetes context: IPs and DNS names are the map's nodes" {
  "$KF_BIN/kdissect" "$SAMPLES/node-worker-1-pods.pcapng" > "$W/nok8s.ndjson"
  run "$KF_BIN/kstat" report -o "$W/nok8s.html" "$W/nok8s.ndjson"
  assert_success
  browse "$W/nok8s.html" nok8s
  run jq -c '[.dom.map.nodes[].kind] | unique' "$W/nok8s.json"; assert_output '["dns","ip"]'
  check_against_kstat "$W/nok8s.ndjson" nok8s
  check_commands nok8s
}

@test "report of one giant record (4 MiB path, 20000 headers, 100 kB owner name): a small valid page" {
  demo_records
  jq -c 'select(.protocol == "HTTP")' "$W/demo.ndjson" | head -1 | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
r["path"] = "/" + "a" * (4 << 20); r["url"] = r["path"]
r["request"] = {"headers": {"x-h%d" % i: "v" * 50 for i in range(20000)}}
r["status_code"] = 503; r["elapsed_time"] = 123456
r["src"]["pod"]["owner"]["name"] = "o" * 100000
print(json.dumps(r))' > "$W/giant.ndjson"
  run "$KF_BIN/kstat" report -o "$W/giant.html" "$W/giant.ndjson"
  assert_success
  [ "$(stat -c %s "$W/giant.html")" -lt 100000 ]
  browse "$W/giant.html" giant
  run jq -c '.dom.sections' "$W/giant.json"; assert_output '["summary","map","charts","endpoints","slow","dns","tcp"]'
  [ "$(jq '.dom.tables.failing | length' "$W/giant.json")" -eq 1 ]
  run jq -r '.dom.tables.failing[0].command' "$W/giant.json"; assert_output --partial '# no command'
}

@test "report: bad usage, a bad line, an unwritable output and a missing dot" {
  demo_records
  run "$KF_BIN/kstat" report --top x /dev/null
  assert_failure 2
  assert_output --partial "(see 'kstat --help')"
  printf '%s\nnot json\n' "$(head -1 "$W/demo.ndjson")" > "$W/bad.ndjson"
  run "$KF_BIN/kstat" report -o "$W/bad.html" "$W/bad.ndjson"
  assert_failure 2
  assert_output "kstat: $W/bad.ndjson:2: not a JSON object"
  [ ! -e "$W/bad.html" ]
  run "$KF_BIN/kstat" report -o "$W/no/such/dir/r.html" "$W/demo.ndjson"
  assert_failure 3
  # without Graphviz: one warning, the page lists the edges instead of drawing them
  run env KSTAT_DOT=/nonexistent/dot "$KF_BIN/kstat" report -o "$W/nodot.html" "$W/demo.ndjson"
  assert_success
  assert_output --partial 'kstat: map: cannot run /nonexistent/dot'
  grep -q 'The map could not be drawn' "$W/nodot.html"
  [ "$(grep -c '<tr><td data-k="src"' "$W/nodot.html")" -gt 0 ]
  run "$KF_BIN/kstat" report --help
  assert_success
  assert_output --partial 'Usage: kstat report'
}

@test "report of 100000 calls: bounded page (< 3 MB) that Chromium loads in under a second" {
  demo_records
  # the sample's calls repeated over 20 minutes with 400 distinct paths and 60 client workloads
  python3 - "$W/demo.ndjson" > "$W/big.ndjson" <<'EOF'
import json, sys
from datetime import datetime, timedelta, timezone
base = [json.loads(l) for l in open(sys.argv[1])]
t0 = datetime(2026, 3, 14, 17, 0, tzinfo=timezone.utc)
out = sys.stdout
n = 0
while n < 100000:
    for r in base:
        if n >= 100000:
            break
        r = dict(r)
        r['id'] = 'big-%07d' % n
        r['timestamp'] = (t0 + timedelta(microseconds=n * 6000)).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
        if r.get('path'):
            r['path'] = '/api/v1/items/x%d' % (n % 400)
        src = dict(r['src']); pod = dict(src.get('pod') or {}); owner = dict(pod.get('owner') or {})
        if owner:
            owner['name'] = 'client-%d' % (n % 60); pod['owner'] = owner; src['pod'] = pod; r['src'] = src
        out.write(json.dumps(r) + '\n')
        n += 1
EOF
  start=$(date +%s%N)
  run "$KF_BIN/kstat" report -o "$W/big.html" "$W/big.ndjson"
  assert_success
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  size=$(stat -c %s "$W/big.html")
  browse "$W/big.html" big
  load=$(jq '.load_ms' "$W/big.json")
  echo "# 100000 records: kstat report ${ms} ms, page ${size} bytes, Chromium load ${load} ms" >&3
  [ "$size" -lt 3000000 ]
  [ "$(jq '.dom.map.more' "$W/big.json")" -gt 0 ]
  [ "$(jq '.dom.map.edges | length' "$W/big.json")" -eq 40 ]
  awk -v l="$load" 'BEGIN { exit !(l < 1000) }'
}

@test "the committed example (docs/report-example.html) opens cleanly and holds the sample's numbers" {
  cd "$KF_ROOT"
  "$KF_BIN/kdissect" samples/demo.ksnap > "$W/demo.ndjson"
  browse docs/report-example.html example
  check_against_kstat "$W/demo.ndjson" example
  [ -s docs/report-example.png ]
  grep -q 'docs/report-example.html' README.md
  # regenerated the documented way, it has the same tables (the map's layout may differ by Graphviz version)
  TZ=Asia/Kolkata "$KF_BIN/kstat" report --title "INC-4711 checkout failures (sample)" -o "$W/again.html" < "$W/demo.ndjson"
  python3 "$REPORT_T/browser.py" "$W/again.html" > "$W/again.json"
  diff <(jq -S '.dom.tables' "$W/example.json") <(jq -S '.dom.tables' "$W/again.json")
}

@test "report of records over two days: the charts step in 30 minutes, chosen from a plain file's first and last record" {
  demo_records
  jq -c 'select(.protocol == "HTTP")' "$W/demo.ndjson" | head -3 |
    jq -c '.timestamp = "2026-03-1\(input_line_number + 3)T10:00:00.000000000Z"' > "$W/days.ndjson"
  run "$KF_BIN/kstat" report -o "$W/days.html" "$W/days.ndjson"
  assert_success
  grep -q 'busiest destinations, per 30m00s' "$W/days.html"
  # read from a pipe the finest step is 1 s, widened to the same 30 minutes for the chart
  "$KF_BIN/kstat" report -o "$W/days2.html" < "$W/days.ndjson"
  grep -q 'busiest destinations, per 30m00s' "$W/days2.html"
  browse "$W/days.html" days
  [ "$(jq '.dom.charts[0].points' "$W/days.json")" -eq 3 ]
}
