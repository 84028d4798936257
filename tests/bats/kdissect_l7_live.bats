#!/usr/bin/env bats
# Live captures for kdissect's L7 protocols: real clients and servers in a network namespace this
# test creates (loopback inside it), captured with tcpdump, then dissected; the ground truth is
# what the clients were told to do, and tshark on the same capture.
# Debian packages: redis-server redis-tools openssl tcpdump tshark iputils-ping nodejs npm; npm:
# @grpc/grpc-js and @grpc/proto-loader (tests/l7/grpc/setup.sh installs them once, outside the tree).
load helpers

setup() {
  require_live
  for t in tcpdump tshark; do command -v $t >/dev/null || skip "$t not installed"; done
  NS=$(netns_make l7)
  W=$BATS_TEST_TMPDIR
}

teardown() { netns_cleanup; records_checked; }   # records_checked: issue 13's registry check

# capture loopback in the namespace into $W/FILE while "CMD…" runs there; the tcpdump filter
# is tcp unless CAPTURE_FILTER says otherwise
capture() { # file cmd...
  local f=$1 filter=${CAPTURE_FILTER:-tcp}; shift
  ip netns exec "$NS" tcpdump -i lo --immediate-mode -U -B 8192 -s 0 -w "$W/$f" $filter 2>"$W/tcpdump.log" &
  local tp=$!
  for _ in $(seq 50); do grep -q listening "$W/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
  "$@"
  capture_stop $tp
}

source "$KF_ROOT/tests/l7live/tcpdump_drain.sh"
capture_stop() { tcpdump_drain "$1" "$W/tcpdump.log"; }   # pid

kd() { "$KF_BIN/kdissect" --no-conn "$@" | keep_records; return "${PIPESTATUS[0]}"; }

redis_session() {
  ip netns exec "$NS" redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no >"$W/redis.log" 2>&1 &
  for _ in $(seq 50); do ip netns exec "$NS" redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  local cli="ip netns exec $NS redis-cli -p 6379"
  $cli SET session:42 alice >/dev/null
  $cli GET session:42 >/dev/null
  $cli INCR session:42 >/dev/null || true                    # a type error
  printf 'SET a 1\r\nINCR a\r\nGET a\r\n' | $cli --pipe >/dev/null   # pipelined
  $cli -3 HSET h f v >/dev/null                               # RESP3 connection (HELLO 3)
  $cli -3 HGETALL h >/dev/null
}

@test "live redis: commands, keys, errors and pipelining as sent, and as tshark counts them" {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || skip "redis-server/redis-tools not installed"
  capture redis.pcap redis_session
  r=$(kd -p redis "$W/redis.pcap" | jq -c 'select(.redis)')
  echo "$r" | jq -r '.redis_command' >&3
  [ "$(echo "$r" | jq -r 'select(.redis_command == "SET session:42 alice") | .redis_response')" = "OK" ]
  [ "$(echo "$r" | jq -r 'select(.redis_command == "GET session:42") | .redis_response')" = "alice" ]
  [ "$(echo "$r" | jq -r 'select(.redis_type == "INCR" and .redis_key == "session:42") | .redis_error')" = "true" ]
  # the pipelined three, answered in order
  [ "$(echo "$r" | jq -r 'select(.redis_key == "a") | "\(.redis_type)=\(.redis_response)"' | tr '\n' ' ')" = "SET=OK INCR=2 GET=2 " ]
  [ "$(echo "$r" | jq -r 'select(.redis_type == "HELLO") | .redis_response' | head -1)" = "map(7)" ]
  [ "$(echo "$r" | jq -r 'select(.redis_type == "HGETALL") | .redis_response')" = "map(1)" ]
  # KFL's example filter: redis && redis_key.startsWith("session:")
  [ "$(echo "$r" | jq -s 'map(select((.redis_key // "") | startswith("session:"))) | length')" -eq 3 ]
  # every request tshark sees is one of ours (its reply count is unreliable for RESP3 maps)
  t=$("$KF_ROOT/tests/l7/tshark_resp_count.sh" "$W/redis.pcap" 6379 | cut -d' ' -f1)
  [ "$t" -eq "$(echo "$r" | jq -s 'map(select(.redis_request_size > 0)) | length')" ]
}

tls_session() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=kf.test \
    -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
  ip netns exec "$NS" openssl s_server -accept 127.0.0.1:8443 -cert "$W/cert.pem" -key "$W/key.pem" \
    -alpn h2,http/1.1 -www >"$W/server.log" 2>&1 &
  for _ in $(seq 50); do ip netns exec "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8443' 2>/dev/null && break; sleep 0.1; done
  echo | ip netns exec "$NS" openssl s_client -connect 127.0.0.1:8443 -servername api.kf.test -alpn h2 \
    -tls1_3 >"$W/c13.log" 2>&1 || true
  echo | ip netns exec "$NS" openssl s_client -connect 127.0.0.1:8443 -servername old.kf.test -alpn http/1.1 \
    -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA >"$W/c12.log" 2>&1 || true
}

@test "live tls: openssl s_client/s_server: SNI, ALPN, version, suite as negotiated, JA3 as tshark" {
  capture tls.pcap tls_session
  r=$(kd -p tls "$W/tls.pcap" | jq -c 'select(.tlsx)')
  echo "$r" | jq -r '.tlsx_summary' >&3
  [ "$(echo "$r" | wc -l)" -eq 2 ]
  r13=$(echo "$r" | jq -c 'select(.tlsx_sni == "api.kf.test")')
  [ "$(echo "$r13" | jq -r .tlsx_version_name)" = "TLS 1.3" ]
  [ "$(echo "$r13" | jq -r .tlsx_alpn)" = "h2" ]
  [ "$(echo "$r13" | jq -r .tlsx_cipher_suite_name)" = "$(sed -n 's/^.*Cipher is \(.*\)$/\1/p' "$W/c13.log" | head -1)" ]
  r12=$(echo "$r" | jq -c 'select(.tlsx_sni == "old.kf.test")')
  [ "$(echo "$r12" | jq -r .tlsx_version_name)" = "TLS 1.2" ]
  [ "$(echo "$r12" | jq -r .tlsx_alpn)" = "http/1.1" ]
  [ "$(echo "$r12" | jq -r .tlsx_cipher_suite_name)" = "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" ]
  # JA3 and JA3S exactly as tshark computes them
  [ "$(tshark -r "$W/tls.pcap" -d tcp.port==8443,tls -Y tls.handshake.type==1 -T fields -e tls.handshake.ja3 2>/dev/null | sort)" = \
    "$(echo "$r" | jq -r .tlsx_ja3 | sort)" ]
  [ "$(tshark -r "$W/tls.pcap" -d tcp.port==8443,tls -Y tls.handshake.type==2 -T fields -e tls.handshake.ja3s 2>/dev/null | sort)" = \
    "$(echo "$r" | jq -r .tlsx_ja3s | sort)" ]
}

@test "live tls: a TLS 1.3 HelloRetryRequest with middlebox compatibility: both ClientHellos and ServerHellos as tshark" {
  for t in openssl editcap; do command -v $t >/dev/null || skip "$t not installed"; done
  "$KF_ROOT/tests/l7live/capture-tlshrr.sh" "$W/hrr" >"$W/hrr.log" 2>&1 || fail "capture: $(cat "$W/hrr.log")"
  editcap --inject-secrets "tls,$W/hrr/tlshrr.keys" "$W/hrr/tlshrr.pcap" "$W/hrr.pcapng"
  run "$KF_ROOT/tests/l7/tls_hrr_check.sh" "$KF_BIN/kdissect" "$W/hrr.pcapng"
  echo "$output"
  assert_success
  [ "$(kd "$W/hrr.pcapng" | jq -s 'map(select(.tlsx_hello_retry)) | length')" -eq 1 ]
}

@test "live http CONNECT (curl through a Python CONNECT proxy): the tunnel's TLS and HTTP are dissected, as tshark" {
  command -v curl >/dev/null && command -v openssl >/dev/null || skip "curl/openssl not installed"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=kf.test \
    -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
  ip netns exec "$NS" openssl s_server -accept 127.0.0.1:443 -cert "$W/cert.pem" -key "$W/key.pem" \
    -alpn http/1.1 -www >"$W/server.log" 2>&1 &
  ip netns exec "$NS" python3 -m http.server --bind 127.0.0.1 8000 --directory "$W" >"$W/http.log" 2>&1 &
  ip netns exec "$NS" python3 "$KF_ROOT/tests/l7live/connect_proxy.py" 127.0.0.1 3128 >"$W/proxy.log" 2>&1 &
  for _ in $(seq 50); do grep -q ready "$W/proxy.log" 2>/dev/null && break; sleep 0.1; done
  for p in 443 8000; do
    for _ in $(seq 50); do ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null && break; sleep 0.1; done
  done
  tunnels() {
    ip netns exec "$NS" curl -s -k -o /dev/null -x http://127.0.0.1:3128 https://kf.test/tls-in-tunnel
    ip netns exec "$NS" curl -s -o /dev/null -p -x http://127.0.0.1:3128 http://kf.test:8000/http-in-tunnel
  }
  capture connect.pcap tunnels
  # the client's connections to the proxy (the capture also holds the proxy's to the servers)
  out=$(kd "$W/connect.pcap" | jq -c 'select(.dst.port == 3128)')
  echo "$out" | jq -c '[.protocol, .method, .url, .status_code, .tlsx_sni]' >&3
  # tshark (oracle): the CONNECTs and their answers, the ClientHello in the TLS tunnel
  [ "$(tshark -n -r "$W/connect.pcap" -Y 'http.request.method == "CONNECT"' -T fields -e http.request.uri 2>/dev/null | paste -s -d ' ')" = \
    "$(echo "$out" | jq -r 'select(.method == "CONNECT" and .status_code == 200) | .url' | paste -s -d ' ')" ]
  t=$(tshark -n -r "$W/connect.pcap" -Y 'tcp.port == 3128 && tls.handshake.type == 1' -T fields -e tls.handshake.extensions_server_name -e tls.handshake.ja3 2>/dev/null)
  [ -n "$t" ]
  [ "$t" = "$(echo "$out" | jq -r 'select(.tlsx) | "\(.tlsx_sni)\t\(.tlsx_ja3)"')" ]
  # the plain HTTP inside the second tunnel, as curl sent it and http.server answered
  [ "$(echo "$out" | jq -r 'select(.method == "GET") | "\(.url) \(.status_code)"')" = "/http-in-tunnel 404" ]
}

icmp_session() {
  ip netns exec "$NS" ping -c 2 -i 0.2 127.0.0.1 >/dev/null
  ip netns exec "$NS" ping -6 -c 1 ::1 >/dev/null
  ip netns exec "$NS" bash -c 'echo hi > /dev/udp/127.0.0.1/9; echo hi > /dev/udp/::1/9' || true
}

@test "live icmp: echo pairs matched; port unreachable tied to the UDP connection it concerns; as tshark" {
  command -v ping >/dev/null || skip "iputils-ping not installed"
  CAPTURE_FILTER='icmp or icmp6 or udp' capture icmp.pcap icmp_session
  r=$(kd -p icmp "$W/icmp.pcap" | jq -c 'select(.icmp)')
  echo "$r" | jq -c '[.icmp_type_name, .icmp_summary // .icmp_echo_seq]' >&3
  [ "$(echo "$r" | jq -s 'map(select(.icmp_type_name == "echo-request" and .icmp_echo_reply)) | length')" -eq 3 ]
  # each unreachable names the UDP datagram to port 9 it answers, as tshark reads the quote
  [ "$(echo "$r" | jq -s 'map(select(.icmp_code_name == "port-unreachable" and .icmp_conn.proto == "udp" and .icmp_conn.dst_port == 9)) | length')" -eq 2 ]
  t=$(tshark -r "$W/icmp.pcap" -Y "icmp.type == 3 || icmpv6.type == 1" -T fields -e udp.srcport 2>/dev/null | sort)
  [ "$t" = "$(echo "$r" | jq -r 'select(.icmp_conn) | .icmp_conn.src_port' | sort)" ]
  [ "$(tshark -r "$W/icmp.pcap" -Y "icmp.type == 0 || icmpv6.type == 129" 2>/dev/null | wc -l)" -eq 3 ]
}

grpc_session() { # n
  ip netns exec "$NS" env NODE_PATH="$NP" node "$KF_ROOT/tests/l7/grpc/server.js" 127.0.0.1:50051 >"$W/gs.log" 2>&1 &
  for _ in $(seq 100); do grep -q listening "$W/gs.log" 2>/dev/null && break; sleep 0.1; done
  ip netns exec "$NS" env NODE_PATH="$NP" node "$KF_ROOT/tests/l7/grpc/client.js" 127.0.0.1:50051 "$1" >"$W/gc.log"
}

@test "live grpc: @grpc/grpc-js client and server: methods, statuses, messages, protobuf dump; as tshark" {
  command -v node >/dev/null && command -v npm >/dev/null || skip "node/npm not installed"
  NP=$("$KF_ROOT/tests/l7/grpc/setup.sh") || skip "npm could not install @grpc/grpc-js"
  CAPTURE_FILTER='tcp port 50051' capture grpc.pcap grpc_session 20
  [ "$(cat "$W/gc.log")" = "ok 20" ]
  r=$(kd "$W/grpc.pcap" | jq -c 'select(.grpc)')
  [ "$(echo "$r" | jq -s 'map(select(.grpc_method == "SayHello" and .grpc_status == 0 and .grpc_service == "kf.test.Greeter")) | length')" -eq 20 ]
  [ "$(echo "$r" | jq -r 'select(.grpc_method == "Find") | "\(.grpc_status) \(.grpc_message)"')" = "5 no such name: ghost" ]
  [ "$(echo "$r" | jq -r 'select(.grpc_method == "Count") | .grpc_response_messages')" = "3" ]
  # the request message's field 1 (name) shows in the schema-less dump
  [ "$(echo "$r" | jq -s 'map(select(.grpc_request_message.fields[0].value == "user-7")) | length')" -eq 1 ]
  # KFL: grpc && grpc_status != 0 selects exactly the failing call
  [ "$(echo "$r" | jq -s 'map(select(.grpc_status != 0)) | length')" -eq 1 ]
  a=$("$KF_ROOT/tests/l7/tshark_h2_calls.sh" "$W/grpc.pcap" tcp.port==50051,http2)
  b=$(kd "$W/grpc.pcap" | jq -r 'select(.http_version=="2") | (select(.method) | "REQ \(.method) \(.url // "")"), (select(.status_code and .status_code>0) | "RESP \(.status_code)"), (select(.grpc and (.response.trailers["grpc-status"] // .response.headers["grpc-status"])) | "GRPC \(.response.trailers["grpc-status"] // .response.headers["grpc-status"])")' | sort)
  [ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b"); false; }
}

# one nginx answering the same way over HTTP/1.1 (:8080) and h2c with prior knowledge (:8081),
# through a proxy hop (HTTP/1.0 to :8090, not compared) so that request bodies are read
h1h2_session() {
  mkdir -p "$W/ng"
  cat > "$W/ng/nginx.conf" <<NG
daemon off; master_process off; pid $W/ng/pid; error_log $W/ng/error.log;
events { worker_connections 64; }
http {
  access_log off; client_body_temp_path $W/ng; proxy_temp_path $W/ng; fastcgi_temp_path $W/ng;
  uwsgi_temp_path $W/ng; scgi_temp_path $W/ng; server_tokens off; default_type text/plain;
  server {
    listen 127.0.0.1:8080; listen 127.0.0.1:8081 http2;
    gzip on; gzip_min_length 1; gzip_types text/plain; gzip_proxied any;   # when asked for
    location / { proxy_pass http://127.0.0.1:8090; }   # reads the whole request body first
  }
  server {
    listen 127.0.0.1:8090;
    location / { add_header Set-Cookie "Sess=abc; Path=/"; add_header Set-Cookie "theme=dark"; return 200 "ok\n"; }
  }
}
NG
  ip netns exec "$NS" nginx -c "$W/ng/nginx.conf" -p "$W/ng" >"$W/ng/out.log" 2>&1 &
  for _ in $(seq 50); do ip netns exec "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8081' 2>/dev/null && break; sleep 0.1; done
  local v url
  for v in "--http1.1 http://127.0.0.1:8080" "--http2-prior-knowledge http://127.0.0.1:8081"; do
    url=${v#* }
    # shellcheck disable=SC2086
    ip netns exec "$NS" curl -s -o /dev/null ${v% *} -H 'Accept: a' -H 'Accept: b' -H 'accept: c' \
      -H 'Cookie: Sess=1; b=2' -H 'X-Empty;' "$url/items?x=1&x=2&q=a+b%21&flag" || true
    # shellcheck disable=SC2086
    ip netns exec "$NS" curl -s -o /dev/null ${v% *} -H 'Content-Type: application/graphql' \
      --data-binary 'query ListItems { items { id } }' "$url/graphql" || true
    # shellcheck disable=SC2086
    ip netns exec "$NS" curl -s -o /dev/null ${v% *} -H 'Accept-Encoding: gzip' "$url/zipped" || true
  done
  # a last exchange, not compared (HTTP/1.0), so that what is compared is not the capture's tail
  # (tcpdump on a loaded machine may be stopped before it has read the last packets)
  ip netns exec "$NS" curl -s -o /dev/null --http1.0 http://127.0.0.1:8090/end-of-session || true
}

@test "live HTTP/1.1 and h2c (nginx, curl): the same requests give equal request/response objects" {
  command -v nginx >/dev/null && command -v curl >/dev/null || skip "nginx/curl not installed"
  # capture() stops tcpdump once it has written every packet: a loaded machine's tcpdump lags,
  # and stopped at once it lost the compared tail
  capture h1h2.pcap h1h2_session
  kd -p http1,http2 "$W/h1h2.pcap" > "$W/r.ndjson"
  # no duplicate keys anywhere (jq would silently keep the last)
  python3 -c 'import json, sys
def hook(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)): sys.exit("duplicate key in %r" % keys)
    return dict(pairs)
for line in open(sys.argv[1]): json.loads(line, object_pairs_hook=hook)' "$W/r.ndjson"
  # what the application sees, without what differs by version: pseudo-headers and Host vs
  # :authority, hop-by-hop fields, the date
  norm='select(.http) | {method, path, query_string: (.query_string // {}), status_code, gql_operation, gql_operation_type,
         req: (.request.headers | with_entries(select(.key | startswith(":") | not)) | del(.host, .connection)),
         req_cookies: .request.cookies, req_body: .request.body,
         resp: (.response.headers | with_entries(select(.key | startswith(":") | not)) | del(.date, .connection, ."transfer-encoding")),
         resp_cookies: .response.cookies, resp_body: .response.body, resp_from: .response.body_decoded_from}'
  h1=$(jq -c "select(.http_version == \"HTTP/1.1\") | $norm" "$W/r.ndjson" | sort)
  h2=$(jq -c "select(.http_version == \"2\") | $norm" "$W/r.ndjson" | sort)
  echo "$h1" >&3
  [ "$(echo "$h1" | wc -l)" -eq 3 ]
  diff <(echo "$h1") <(echo "$h2")
  # and what they hold is what curl sent and nginx answered
  g=$(echo "$h1" | jq -c 'select(.path == "/items")')
  [ "$(echo "$g" | jq -c '.query_string')" = '{"x":"1,2","q":"a b!","flag":""}' ]
  [ "$(echo "$g" | jq -r '.req.accept')" = "a, b, c" ]
  [ "$(echo "$g" | jq -c '.req_cookies')" = '{"Sess":"1","b":"2"}' ]
  [ "$(echo "$g" | jq -c '.resp_cookies')" = '{"Sess":"abc","theme":"dark"}' ]
  [ "$(echo "$h1" | jq -r 'select(.path == "/graphql") | "\(.gql_operation_type) \(.gql_operation)"')" = "query ListItems" ]
  # a gzip body is decoded the same way by both (one body layer): nginx compressed "ok\n"
  [ "$(echo "$h1" | jq -c 'select(.path == "/zipped") | [.resp["content-encoding"], .resp_from, .resp_body]')" = '["gzip","gzip","ok\n"]' ]
}
