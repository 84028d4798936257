#!/usr/bin/env bats
# kstat report of a live capture: tests/l7live/capture-incident.sh makes a small incident inside a
# network namespace it creates (HTTP 503s and a 500 passed on as 502, a slow dependency, a gRPC
# NOT_FOUND, DNS NXDOMAIN from dnsmasq), kdissect turns it into records, and headless Chromium
# opens the page. The judges: the
# browser (no console error, no request), kstat map --format json (the map), kstat --json (the
# failing-endpoints table), Python over the records (slowest calls, DNS failures, TCP trouble),
# kfl (each row's command), and what the clients were told to do.
# Debian packages: chromium graphviz dnsmasq-base dnsutils curl python3 nodejs tcpdump; npm:
# @grpc/grpc-js (installed into tests/l7live/node_modules by the capture script).
load helpers
load kstat_report_lib

setup() {
  require_live
  need_browser
  for t in tcpdump dnsmasq dig curl node; do command -v $t >/dev/null || fail "$t not installed (scripts/install-deps)"; done
  W=$BATS_TEST_TMPDIR
}

@test "live incident (HTTP 5xx, slow dependency, gRPC failure, NXDOMAIN): the report in Chromium matches kstat and the records" {
  run "$KF_ROOT/tests/l7live/capture-incident.sh" "$W"
  assert_success
  "$KF_BIN/kdissect" "$W/incident.pcap" > "$W/calls.ndjson"
  record_fields "$W/calls.ndjson"   # every key registered, none twice (issue 13)
  run "$KF_BIN/kstat" report --title "INC-4711 checkout failures" -o "$W/live.html" "$W/calls.ndjson"
  assert_success
  browse "$W/live.html" live
  run jq -c '.dom.sections' "$W/live.json"; assert_output '["summary","map","charts","endpoints","slow","dns","tcp"]'
  check_against_kstat "$W/calls.ndjson" live
  check_commands live
  # what the clients did, as the page shows it
  j() { jq -r "$1" "$W/live.json"; }
  # four 503s from /api/pay, found through DNS: the frontend is a DNS name on the map
  [ "$(j '.dom.tables.failing[] | select(.protocol == "HTTP" and .endpoint == "GET /api/pay") | "\(.calls) \(.errors) \(.dst)"')" = "4 4 frontend.kf.test" ]
  # order 5: the backend's 500 passed on as 502, on endpoints kstat templates ({id}); their
  # commands (path.matches) select the 6 calls of each (check_commands ran them)
  [ "$(j '.dom.tables.failing[] | select(.endpoint == "GET /api/orders/{id}") | "\(.calls) \(.errors) \(.src) \(.dst)"')" = "6 1 $(j '.dom.tables.failing[] | select(.endpoint == "GET /api/pay") | .src') frontend.kf.test" ]
  [ "$(j '.dom.tables.failing[] | select(.endpoint == "GET /stock/{id}") | "\(.calls) \(.errors) \(.src)"')" = "6 1 frontend.kf.test" ]
  j '.dom.tables.failing[] | select(.endpoint == "GET /stock/{id}") | .command' | grep -q 'path.matches('
  # the gRPC service answered NOT_FOUND once among four GetOrder calls
  [ "$(j '.dom.tables.failing[] | select(.protocol == "GRPC") | "\(.endpoint) \(.calls) \(.errors)"')" = "/kf.live.Orders/GetOrder 4 1" ]
  # the slow dependency: the slowest calls are the frontend's calls to the backend (>= 250 ms)
  # and the client's calls that waited on them; the frontend -> backend edge carries that p99
  [ "$(j '[.dom.tables.slowest[] | select(.elapsed_us >= 250000)] | length')" -eq 12 ]
  [ "$(j '[.dom.map.edges[] | select(.src == "frontend.kf.test" and .protocol == "HTTP")][0].p99_us')" -ge 250000 ]
  # NXDOMAIN: payments.kf.test twice, inventory.kf.test (AAAA) once
  [ "$(j '.dom.tables.dnsfail | map("\(.name) \(.qtype) \(.rcode) \(.queries)") | join(",")')" = \
    "payments.kf.test A NXDOMAIN 2,inventory.kf.test AAAA NXDOMAIN 1" ]
  # the edges with errors are drawn in an error colour
  [ "$(j '[.dom.map.edges[] | select(.errors > 0 and .color == "#5b7fa3")] | length')" -eq 0 ]
  [ "$(j '.dom.charts | length')" -eq 2 ]
}
