#!/usr/bin/env bats
# make demo's script, run on the bundled snapshot: the story it must tell.
load helpers

setup() { out=$(mktemp -d); }
teardown() { rm -rf "$out"; }

@test "demo: verifies the snapshot, resolves, finds the 4 failing calls and exports their packets" {
  run env KF_BIN="$KF_BIN" KF_DEMO_OUT="$out" KF_DEMO_TLS_LIVE=0 "$KF_ROOT/scripts/demo"
  assert_success
  assert_output --partial "samples/demo.ksnap: OK"
  assert_output --partial "pod shop/orders-594487879c-7xkqp owner=Deployment/orders node=worker-1 ips=10.0.53.101"
  # the reused IP has two holders, each in its time
  [ "$(grep -c '^10.0.53.150  pod ' <<<"$output")" -eq 2 ]
  assert_output --partial "web/checkout-7c9d8f6b5-qw8rt"
  [ "$(wc -l < "$out/5xx.ndjson")" -eq 4 ]
  # tshark finds exactly those 4 responses in the export, with NRB names
  codes=$(tshark -r "$out/5xx.pcapng" -Y http.response -T fields -e http.response.code 2>/dev/null | sort | tr '\n' ' ')
  [ "$codes" = "500 500 502 503 " ]
  tshark -r "$out/5xx.pcapng" -N n -T fields -e ip.src_host 2>/dev/null | grep -q '^payment-7d9f8b6c5-x2x7k.shop$'
  # kstat: the stats table (gRPC's failure inside HTTP 200 counted) and the map
  assert_output --regexp 'GRPC +shop/fraud +4 +[0-9.]+ +1 +25\.0%'
  assert_output --regexp 'shop/orders +→ +shop/payment +HTTP +8 +3 +37\.5%'
  # kstat report: the page, with the map and the failing endpoints
  grep -q '<h1 id="title">INC-4711 checkout failures (demo)</h1>' "$out/report.html"
  grep -q 'data-id="shop/payment" data-kind="workload" class="node"' "$out/report.html"
  [ "$(grep -c '<tr class="cmdrow">' "$out/report.html")" -gt 10 ]
  # HTTPS in plain text: tshark decrypts the same two calls with the capture's own key log (DSB)
  want=$(tshark -r "$KF_ROOT/samples/node-worker-1-tls.pcapng" -Y 'http.request' -T fields -e http.request.method \
         -e http.request.uri 2>/dev/null | awk '{printf "%s %s\n", $1, $2}')
  [ "$(wc -l <<<"$want")" -eq 2 ]
  got=$(grep -E 'payment-7d9f8b6c5-x2x7k:8443  (GET|POST) ' <<<"$output" | awk '{print $4, $5}')
  [ "$got" = "$want" ]
  assert_output --partial "POST /api/pay  200  tls=true"
  # step 10 (live) left out: one line says what it would show and how to run it
  [ "$(grep -c '10\. HTTPS in plain text, live' <<<"$output")" -eq 1 ]
  assert_output --partial "skipped (KF_DEMO_TLS_LIVE=0)"
  assert_output --partial "run: sudo make demo"
}

@test "demo step 10 (root): ksnap capture --tls in a namespace, kdissect shows the curl calls in plain text, no keys" {
  require_live
  run env KF_BIN="$KF_BIN" KF_DEMO_OUT="$out" timeout 300 "$KF_ROOT/scripts/demo"
  assert_success
  echo "$output" | sed -n '/== 10\./,$p' >&3
  assert_output --partial "== 10. HTTPS in plain text, live, no keys"
  refute_output --partial "skipped ("
  # the oracle: tshark on the store's ebpf_tls packets (plaintext on port 8443, no keys)
  seg=$(ls "$out"/tls-live/store/demo/*.pcapng)
  tshark -r "$seg" -Y 'frame.interface_name == "ebpf_tls"' -w "$out/plain.pcapng" 2>/dev/null
  want=$(tshark_http_calls "$out/plain.pcapng")
  [ "$want" = $'GET /api/items 200\nGET /api/missing 404\nPOST /api/created 201' ]
  got=$(sed -n '/== 10\./,$p' <<<"$output" | grep 'tls=true capture_source=ebpf_tls$' | awk '{print $4, $5, $6}' | sort)
  [ "$got" = "$want" ]
  # no keys anywhere: kdissect decrypted nothing (the calls are the plaintext ksnap took), and
  # tshark finds no call in the ciphertext on lo (read apart: the same ports as the plaintext)
  "$KF_BIN/kdissect" --no-conn --stats "$out/tls-live/store" 2>"$out/stats" >/dev/null
  grep -qx 'tls_decrypted 0' "$out/stats"
  tshark -r "$seg" -Y 'frame.interface_name == "lo"' -w "$out/cipher.pcapng" 2>/dev/null
  [ "$(tshark -r "$out/cipher.pcapng" -Y tls 2>/dev/null | wc -l)" -gt 0 ]
  [ -z "$(tshark_http_calls "$out/cipher.pcapng")" ]
  # everything it started is gone: its namespace, its processes
  ! ip netns list | grep -q '^kfdemo_tls_'
  ! pgrep -f "$out/tls-live" >/dev/null
}
