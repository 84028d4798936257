#!/usr/bin/env bats
# Issue 17's scripted investigation: a shop with an incident runs in two network namespaces
# (tests/mcp/shop.mjs: HTTP orders -> a slow inventory, orders answering 503 when inventory is
# too slow, gRPC payment failing with UNAVAILABLE; dnsmasq answering NXDOMAIN for a misspelled
# name; an IP held by one pod, then by another), ksnap capture records it into a store, the
# metadata is imported, and an agent's investigation runs through MCP calls only (the official
# TypeScript SDK over stdio): it reaches the failing service, its slow dependency and a PCAP of
# exactly the failing calls. Oracles: what the client itself saw (status codes, gRPC codes), tshark
# on the exported PCAP, dig's answers.
load helpers
load ksnap_capture
load kmcp

setup() {
  need_mcp_clients
  command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || { [ "${KF_REQUIRE_LIVE:-0}" = 1 ] && fail "dnsmasq missing"; skip "dnsmasq not installed"; }
  command -v dig >/dev/null || { [ "${KF_REQUIRE_LIVE:-0}" = 1 ] && fail "dig missing"; skip "dig not installed"; }
  cap_setup
  SNAPS=$T/snaps
  mkdir -p "$SNAPS"
  SHOP_PID= DNS_PID=
}

teardown() {
  [ -n "${SHOP_PID:-}" ] && kill "$SHOP_PID" 2>/dev/null
  [ -n "${DNS_PID:-}" ] && kill "$DNS_PID" 2>/dev/null
  cap_teardown
}

# one Pod (with its ReplicaSet and Deployment) as interchange events: ts type ns name app ip
meta_pod() {
  local ts=$1 type=$2 ns=$3 name=$4 app=$5 ip=$6
  printf '{"ts":"%s","type":"ADDED","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"%s","namespace":"%s","uid":"d-%s"}}}\n' "$ts" "$app" "$ns" "$app"
  printf '{"ts":"%s","type":"ADDED","object":{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"%s-5d4f","namespace":"%s","uid":"r-%s","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"%s","uid":"d-%s","controller":true}]}}}\n' "$ts" "$app" "$ns" "$app" "$app" "$app"
  printf '{"ts":"%s","type":"%s","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"%s","uid":"p-%s","labels":{"app":"%s"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"%s-5d4f","uid":"r-%s","controller":true}]},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"}]}}}\n' \
    "$ts" "$type" "$name" "$ns" "$name" "$app" "$app" "$app" "$ip" "$ip"
}
now_rfc() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }

@test "live investigation through MCP only: failing service, its slow dependency, gRPC and DNS failures, IP reuse, a PCAP of exactly the failing calls" {
  t0=$(date -u -d '-120 sec' +%Y-%m-%dT%H:%M:%S.000000000Z)
  for ip in 10.77.0.10 10.77.0.11 10.77.0.12 10.77.0.53; do ip -n "$NS1" addr add "$ip/24" dev va; done
  ip -n "$NS2" addr add 10.77.0.20/24 dev vb
  ip -n "$NS1" link set lo up
  # servers: the shop and dnsmasq
  ip netns exec "$NS1" "$MCP_NODE" "$MCP_DIR/shop.mjs" servers >"$T/shop.log" 2>&1 3>&- &
  SHOP_PID=$!
  wait_for grep -q ready "$T/shop.log"
  ip netns exec "$NS1" dnsmasq --no-daemon --no-resolv --no-hosts --port 53 --listen-address 10.77.0.53 --bind-interfaces \
    --local=/cluster.local/ --host-record=inventory.shop.svc.cluster.local,10.77.0.11 --pid-file="$T/dnsmasq.pid" >/dev/null 2>&1 3>&- &
  DNS_PID=$!
  wait_for ip netns exec "$NS2" dig +short +time=1 +tries=1 @10.77.0.53 inventory.shop.svc.cluster.local
  ks_start "$NS1" -i va -i lo
  # the incident
  ip netns exec "$NS2" "$MCP_NODE" "$MCP_DIR/shop.mjs" client 10.77.0.2 all >"$T/client.json" 3>&-
  [ "$(jq -c .checkout "$T/client.json")" = '[503,503,503]' ]
  [ "$(jq -c .orders "$T/client.json")" = '[200,200,200,200]' ]
  [ "$(jq -c .grpc "$T/client.json")" = '[0,14,0,14,0]' ]          # 14 = UNAVAILABLE
  [ "$(ip netns exec "$NS2" dig +short @10.77.0.53 inventory.shop.svc.cluster.local)" = 10.77.0.11 ]
  for _ in 1 2; do
    ip netns exec "$NS2" dig @10.77.0.53 invetory.shop.svc.cluster.local | grep -q 'status: NXDOMAIN'
  done
  # 10.77.0.20: cart's pod first, then (after it is deleted) checkout's pod
  ip netns exec "$NS2" curl -sf -o /dev/null --interface 10.77.0.20 http://10.77.0.10:8080/api/orders/20
  sleep 0.2
  tmid=$(now_rfc)
  sleep 0.2
  tnew=$(now_rfc)
  sleep 0.2
  ip netns exec "$NS2" curl -sf -o /dev/null --interface 10.77.0.20 http://10.77.0.10:8080/api/orders/21
  sleep 0.3
  ks_stop
  {
    meta_pod "$t0" ADDED shop frontend-7f9c-abcde frontend 10.77.0.2
    meta_pod "$t0" ADDED shop orders-6b7d-fghij orders 10.77.0.10
    meta_pod "$t0" ADDED shop inventory-5c8e-klmno inventory 10.77.0.11
    meta_pod "$t0" ADDED shop payment-4d9f-pqrst payment 10.77.0.12
    meta_pod "$t0" ADDED kube-system coredns-3e1a-uvwxy coredns 10.77.0.53
    meta_pod "$t0" ADDED shop cart-2b3c-old01 cart 10.77.0.20
    meta_pod "$tmid" DELETED shop cart-2b3c-old01 cart 10.77.0.20
    meta_pod "$tnew" ADDED web checkout-9a8b-new02 checkout 10.77.0.20
  } >"$T/events.ndjson"
  "$KF_BIN/ksnap" meta import --dir "$STORE" "$T/events.ndjson"

  # the investigation: MCP calls only
  cat >"$T/steps.json" <<'EOF'
[{"call":"get_data_boundaries","label":"b"},
 {"call":"create_snapshot","args":{"name":"incident","start_time":"$b.cluster.oldest","end_time":"$b.cluster.newest"}},
 {"call":"get_snapshot","args":{"name":"incident"}},
 {"call":"start_snapshot_dissection","args":{"snapshot":"incident"}},
 {"call":"get_snapshot_dissection_status","args":{"snapshot":"incident","wait_seconds":300},"progress":true},
 {"call":"get_api_stats","args":{"snapshot":"incident","kfl":"http","group_by":["dst"],"sort":"errors"}},
 {"call":"get_api_stats","args":{"snapshot":"incident","kfl":"http && src.pod.owner.name == \"orders\"","group_by":["src","dst"],"sort":"p99"}},
 {"call":"list_api_calls","args":{"snapshot":"incident","kfl":"http && status_code >= 500"}},
 {"call":"get_service_map","args":{"snapshot":"incident"}},
 {"call":"list_api_calls","args":{"snapshot":"incident","kfl":"grpc && grpc_status != 0"}},
 {"call":"list_api_calls","args":{"snapshot":"incident","kfl":"dns && dns_rcode == \"NXDOMAIN\""}},
 {"call":"list_ips","args":{"snapshot":"incident","ip":"10.77.0.20"}},
 {"call":"list_api_calls","args":{"snapshot":"incident","kfl":"http && src.ip == \"10.77.0.20\"","fields":["src.name","src.namespace","path"]}},
 {"call":"export_snapshot_pcap","args":{"snapshot":"incident","kfl":"http && status_code >= 500","output":"failing-calls"}},
 {"call":"get_l4_flow_summary","args":{"snapshot":"incident"}}]
EOF
  mcp_stdio "$(cat "$T/steps.json")" --store "$STORE" --snapshots "$SNAPS"
  [ "$(jq -c 'select(.error or .result.isError)' "$T/out.jsonl" | wc -l)" -eq 0 ] || { jq -c 'select(.error or .result.isError)' "$T/out.jsonl"; false; }
  [ "$(sc 2 .verification.verified)" = true ]
  [ "$(sc 4 .status)" = completed ]
  # the records of the dissection (kdissect's own NDJSON): every key registered, none twice (issue 13)
  zcat "$SNAPS/incident.dissection/calls.ndjson.gz" >"$T/calls.ndjson"
  [ -s "$T/calls.ndjson" ]
  record_fields "$T/calls.ndjson"
  # the failing service: orders, with the 3 injected 503s
  [ "$(sc 5 '.groups[0].key.dst')" = shop/orders ] || { sc 5 .; false; }
  [ "$(sc 5 '.groups[0].errors')" -eq 3 ]
  # its slow dependency: what orders calls, slowest first: inventory, p99 >= 400 ms (the server's delay)
  [ "$(sc 6 '.groups[0].key | "\(.src) \(.dst)"')" = "shop/orders shop/inventory" ] || { sc 6 '.groups[] | [.key, .p99_us]'; false; }
  [ "$(sc 6 '.groups[0].p99_us')" -ge 400000 ]
  [ "$(sc 7 '[.calls[] | "\(.status_code) \(.path)"] | unique | join(",")')" = "503 /api/checkout/1,503 /api/checkout/2,503 /api/checkout/3" ]
  [ "$(sc 7 '.calls | length')" -eq 3 ]
  [ "$(sc 8 '[.edges[] | select(.src == "shop/orders" and .dst == "shop/inventory")] | length')" -ge 1 ]
  # gRPC: the two UNAVAILABLE charges
  [ "$(sc 9 '[.calls[].grpc_status] | join(",")')" = "14,14" ]
  [ "$(sc 9 '[.calls[].dst.workload] | unique | join(",")')" = payment ]
  # DNS: the misspelled name, twice
  [ "$(sc 10 '[.calls[].dns_question] | join(",")')" = "invetory.shop.svc.cluster.local,invetory.shop.svc.cluster.local" ]
  # the reused IP: two holders, and each call is attributed to the pod that held it then
  [ "$(sc 11 '.ips[0].records | length')" -eq 2 ]
  [ "$(sc 12 '[.calls[] | "\(.src.namespace)/\(.src.name) \(.path)"] | join(",")')" = "shop/cart-2b3c-old01 /api/orders/20,web/checkout-9a8b-new02 /api/orders/21" ]
  # the PCAP: exactly the failing calls, as tshark reads it
  pcap=$(sc 13 .path)
  [ "$(tshark -r "$pcap" -Y http.response -T fields -e http.response.code 2>/dev/null | tr '\n' ' ')" = "503 503 503 " ]
  [ "$(tshark -r "$pcap" -Y http.request -T fields -e http.request.uri 2>/dev/null | sort | tr '\n' ' ')" = "/api/checkout/1 /api/checkout/2 /api/checkout/3 " ]
  [ "$(tshark -r "$pcap" 2>/dev/null | wc -l)" -eq "$(sc 13 .packets)" ]
  [ "$(sha256sum "$pcap" | cut -d' ' -f1)" = "$(sc 13 .sha256)" ]
  [ "$(sc 14 .connections)" -ge 10 ]
}
