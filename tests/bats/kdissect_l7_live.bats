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

teardown() { netns_cleanup; }

# capture loopback in the namespace into $W/$1 while "$2…" runs there
capture() { # file cmd...
  local f=$1; shift
  ip netns exec "$NS" tcpdump -i lo --immediate-mode -U -s 0 -w "$W/$f" tcp 2>"$W/tcpdump.log" &
  local tp=$!
  for _ in $(seq 50); do grep -q listening "$W/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
  "$@"
  sleep 0.3
  kill -INT $tp; wait $tp || true
}

kd() { "$KF_BIN/kdissect" --no-conn "$@"; }

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

icmp_session() {
  ip netns exec "$NS" ping -c 2 -i 0.2 127.0.0.1 >/dev/null
  ip netns exec "$NS" ping -6 -c 1 ::1 >/dev/null
  ip netns exec "$NS" bash -c 'echo hi > /dev/udp/127.0.0.1/9; echo hi > /dev/udp/::1/9' || true
}

@test "live icmp: echo pairs matched; port unreachable tied to the UDP connection it concerns; as tshark" {
  command -v ping >/dev/null || skip "iputils-ping not installed"
  ip netns exec "$NS" tcpdump -i lo --immediate-mode -U -s 0 -w "$W/icmp.pcap" 'icmp or icmp6 or udp' 2>"$W/tcpdump.log" &
  tp=$!
  for _ in $(seq 50); do grep -q listening "$W/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
  icmp_session
  sleep 0.3; kill -INT $tp; wait $tp || true
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
  ip netns exec "$NS" tcpdump -i lo --immediate-mode -U -s 0 -w "$W/grpc.pcap" tcp port 50051 2>"$W/tcpdump.log" &
  tp=$!
  for _ in $(seq 50); do grep -q listening "$W/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
  grpc_session 20
  sleep 0.3; kill -INT $tp; wait $tp || true
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
