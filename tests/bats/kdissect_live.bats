#!/usr/bin/env bats
# Issue 6's live proof: real servers and clients (Debian packages, and the npm gRPC library) in a
# network namespace that tests/l7live/capture-<proto>.sh creates, captured with tcpdump; kdissect
# must report the same calls, commands/methods, status/error codes, topics and TLS parameters as
# tshark on the same capture (tests/l7live/oracle.bash builds both lists).
# A protocol whose dissector has not landed yet (kdissect -p list does not know it) is skipped;
# a server package that is missing skips too, and fails with KF_REQUIRE_LIVE=1.
load helpers
load ../l7live/oracle

setup() {
  require_live
  local t
  for t in tcpdump tshark jq gawk; do command -v $t >/dev/null || skip "$t not installed"; done
  L7=$KF_ROOT/tests/l7live
  W=$BATS_TEST_TMPDIR
}
teardown() { records_checked; }   # every key of every record is registered, none twice (issue 13)

need() { # command... : the server/client programs of a test
  local t
  for t; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] && continue
    [ "${KF_REQUIRE_LIVE:-0}" = 1 ] && fail "KF_REQUIRE_LIVE=1 but $t is not installed"
    skip "$t not installed"
  done
}

need_grpc_js() { # @grpc/grpc-js and @grpc/proto-loader in tests/l7live/node_modules (git-ignored)
  [ -d "$L7/node_modules/@grpc/grpc-js" ] && [ -d "$L7/node_modules/@grpc/proto-loader" ] && return 0
  (cd "$L7" && npm install --no-audit --no-fund --omit=dev) >"$W/npm.log" 2>&1 3>&- && return 0
  [ "${KF_REQUIRE_LIVE:-0}" = 1 ] && fail "KF_REQUIRE_LIVE=1 but npm install failed: $(tail -3 "$W/npm.log")"
  skip "npm install of @grpc/grpc-js failed (no registry?)"
}

dissector() { # kdissect -p name: skip while it is not in kdissect's table
  "$KF_BIN/kdissect" -p list | cut -f1 | grep -qx "$1" || skip "kdissect: $1 not implemented yet"
}

capture() { # proto : run tests/l7live/capture-<proto>.sh into $W/cap
  run timeout 90 "$L7/capture-$1.sh" "$W/cap" 3>&-
  [ "$status" -eq 0 ] || fail "capture-$1.sh failed ($status): $output"
  CAP=$W/cap/$1.pcap
}

compare() { # name port dissector : tshark_<name> vs kd_<name> on $CAP (both lists stay in $W)
  "tshark_$1" "$CAP" "$2" >"$W/tshark.txt"
  "$KF_BIN/kdissect" --no-conn -p "$3" "$CAP" >"$W/kd.ndjson"
  record_fields "$W/kd.ndjson"
  kd_$1 <"$W/kd.ndjson" >"$W/kd.txt"
  [ -s "$W/tshark.txt" ] || fail "tshark decodes no $1 in $CAP"
  diff -u "$W/tshark.txt" "$W/kd.txt" || fail "$1: kdissect (+) differs from tshark (-) on $CAP$(keep_capture "$1")"
  # the same with flows sharded over two worker threads
  "$KF_BIN/kdissect" --no-conn -j 2 -p "$3" "$CAP" | keep_records | kd_$1 >"$W/kd_j2.txt"
  diff -u "$W/kd.txt" "$W/kd_j2.txt" || fail "$1: kdissect -j 2 (+) differs from -j 1 (-) on $CAP"
}

has() { # line... : tshark saw what the session did (so an empty or failed session cannot pass)
  local l
  for l; do grep -qxF -- "$l" "$W/tshark.txt" || fail "session incomplete: no '$l' in tshark's view$(keep_capture session)"; done
}
keep_capture() { # name : a failing live capture is kept for a look (the test's own folder goes away)
  local d=${KF_KEEP_DIR:-/tmp/kf-live-failures} f
  mkdir -p "$d" && f=$d/$1-$(date +%Y%m%dT%H%M%S)-$$.pcap && cp "$CAP" "$f" && printf ' (capture kept: %s)' "$f"
}

@test "live redis: redis-server + redis-cli, pipeline and errors as tshark sees them" {
  need redis-server redis-cli; dissector redis
  capture redis
  compare redis 6379 redis
  has "REQ SET user:1" "REQ HSET profile:1" "REQ LPUSH p:1" \
      "ERR WRONGTYPE Operation against a key holding the wrong kind of value" "ERR ERR value is not an integer or out of range"
  has "REQ SET blob:1" "REQ GET blob:1"                    # a 300 kB value, both ways
  has "REQ SET v6:key" "REQ GET v6:key"                    # over IPv6
  [ "$(grep -c '^REQ' "$W/tshark.txt")" -eq 19 ]
  [ "$(jq -r 'select(.redis_key == "v6:key" and .redis_type == "GET") | "\(.dst.ip) \(.redis_response)"' "$W/kd.ndjson")" = \
    "$(tshark -n -r "$CAP" -Y 'resp && ipv6' -T fields -e ipv6.dst 2>/dev/null | head -1) over-ipv6" ]
}

@test "live tls: openssl s_server + s_client, TLS 1.3/1.2/1.1: SNI, ALPN, versions, suites, JA3/JA3S as tshark sees them" {
  need openssl; dissector tls
  capture tls
  compare tls 8443 tls
  [ "$(wc -l <"$W/tshark.txt")" -eq 5 ]
  grep -q ' sni=api.kf.test offered=h2 alpn=h2 version=0x0304 ' "$W/tshark.txt"
  grep -q ' sni=legacy.kf.test offered=http/1.1,h2 alpn=h2 version=0x0303 suite=0xc02c ' "$W/tshark.txt"
  grep -q ' sni=any.kf.test offered=http/1.1 alpn=http/1.1 version=0x0304 .* versions=0x0304,0x0303,' "$W/tshark.txt"
  grep -q ' sni=old.kf.test .* version=0x0302 suite=0xc009 ' "$W/tshark.txt"
  # RFC 8996: only the TLS 1.1 handshake is flagged deprecated
  [ "$(jq -r 'select(.tlsx_deprecated) | .tlsx_sni' "$W/kd.ndjson")" = old.kf.test ]
}

@test "live postgresql: postgres + psql, tags and SQLSTATEs as tshark sees them" {
  need psql runuser; dissector postgresql
  capture postgresql
  compare postgresql 5432 postgresql
  has "STARTUP postgres shop" "TAG INSERT 0 2" "TAG SELECT 2" "ERR 42P01" "ERR 22012" "ERR 23505" "ERR 28000" \
      "SSLREQUEST" "QUERY SELECT item, qty FROM orders WHERE id = \$1;" "TAG COPY 3" "TAG SELECT 5000"
  [ "$(grep -c '^SYNC$' "$W/tshark.txt")" -eq 10 ]      # pgbench: 2 x 2 unnamed, 2 + 4 prepared cycles
  # the session that asked for TLS: answered 'S', then a TLS 1.3 handshake, as tshark sees it
  [ "$(jq -r 'select(.postgresql_message == "SSLREQUEST") | .postgresql_ssl_response' "$W/kd.ndjson")" = S ]
  "$KF_BIN/kdissect" --no-conn "$CAP" | keep_records | kd_tls >"$W/kd_tls.txt"
  tshark_tls "$CAP" 5432 no >"$W/tshark_tls.txt"
  grep -q ' version=0x0304 ' "$W/tshark_tls.txt"
  diff -u "$W/tshark_tls.txt" "$W/kd_tls.txt"
}

@test "live mysql: mariadbd + mariadb client, queries and error codes as tshark sees them" {
  need mariadbd mariadb mariadb-install-db; dissector mysql
  capture mysql
  compare mysql 3306 mysql
  has "LOGIN app shop" "ERR 1146" "ERR 1064" "ERR 1062" "ERR 1045" "QUERY SELECT item, qty FROM orders ORDER BY id" \
      "QUERY SELECT seq, MD5(seq) FROM seq_1_to_5000"
  # the TLS session: the SSL request packet, then a handshake as tshark sees it
  [ "$(jq -s 'map(select(.mysql_ssl_request)) | length' "$W/kd.ndjson")" -eq 1 ]
  "$KF_BIN/kdissect" --no-conn "$CAP" | keep_records | kd_tls >"$W/kd_tls.txt"
  tshark_tls "$CAP" 3306 no >"$W/tshark_tls.txt"
  [ "$(wc -l <"$W/tshark_tls.txt")" -eq 1 ]
  diff -u "$W/tshark_tls.txt" "$W/kd_tls.txt"
}

@test "live mysql: a host refused in place of the greeting (ERR 1130) is no command, as tshark sees it" {
  need mariadbd mariadb mariadb-install-db; dissector mysql
  capture mysql
  CAP=$W/cap/mysql-refused.pcap
  compare mysql 3306 mysql
  [ "$(cat "$W/tshark.txt")" = "ERR 1130" ]
  [ "$(jq -r .mysql_error_code "$W/kd.ndjson")" = 1130 ]
}

@test "live amqp: rabbitmq-server + pika, methods, routing keys, queues, close codes, a 300 kB body as tshark sees them" {
  need /usr/lib/rabbitmq/bin/rabbitmq-server; dissector amqp
  /usr/bin/python3 -c 'import pika' 2>/dev/null || skip "python3-pika not installed"
  capture amqp
  compare amqp 5672 amqp
  has "PUB orders order.eu.created" "DELIVER orders order.eu.paid" "GETOK orders order.us.created" \
      "QUEUE 50.20 orders.eu" "CLOSE 20.40 404" "CLOSE 10.50 200" "CLOSE 60.50 312" "RETURN orders order.nowhere"
  [ "$(grep -c '^GETOK  orders.us$' "$W/tshark.txt")" -eq 2 ]
  [ "$(jq -s 'map(select(.amqp_reply_method_id == 71)) | map(.amqp_body_size) | max' "$W/kd.ndjson")" -eq 300000 ]
}

@test "live grpc: @grpc/grpc-js server + client, methods, statuses, headers, messages as tshark and the client see them" {
  need node npm; dissector http2; need_grpc_js
  capture grpc
  compare h2 50051 http2
  has "REQ 5 POST /kf.live.Orders/GetOrder" "GRPC 5 5" "GRPC 7 0" "H 1 req grpc-encoding: gzip"
  grep -Eq '^MSG [0-9]+ 7 resp 3 15 0$' "$W/tshark.txt"      # the server stream: 3 messages
  grep -Eq '^MSG [0-9]+ 1 req 1 [0-9]+ 1$' "$W/tshark.txt"    # the gzip channel: compressed flag
  # KFL's grpc fields against what the client was told: "<method> <status>" per call, in order
  [ "$(jq -r 'select(.grpc) | "\(.grpc_method) \(.grpc_status)"' "$W/kd.ndjson")" = "$(cut -d' ' -f1,2 "$W/cap/client.log")" ]
  # grpc-message is percent-encoded on the wire (gRPC over HTTP/2 spec); the record shows the text
  [ "$(jq -r 'select(.grpc_status == 5) | .grpc_message' "$W/kd.ndjson")" = "no order 99" ]
}

@test "live grpc: a gzip-compressed message is dumped after decompression, as tshark does" {
  need node npm; dissector http2; need_grpc_js
  capture grpc
  # tshark inflates it (grpc-encoding: gzip) and shows field 1 = 2, field 2 = 64 x "x"
  tshark -n -r "$CAP" -d tcp.port==50051,http2 -Y 'grpc.compressed_flag == 1' -V 2>/dev/null >"$W/tshark.txt"
  grep -q 'Message-encoded entity body (gzip): [0-9]* bytes -> 68 bytes' "$W/tshark.txt"
  grep -q 'Field(1): 2 ' "$W/tshark.txt"
  "$KF_BIN/kdissect" --no-conn -p http2 "$CAP" >"$W/kd.ndjson"
  record_fields "$W/kd.ndjson"
  m=$(jq -c 'select(.grpc_request_message.compressed) | .grpc_request_message' "$W/kd.ndjson")
  [ "$(echo "$m" | jq -c '[.fields[]? | [.field, .value]]')" = "[[1,2],[2,\"$(printf 'x%.0s' $(seq 64))\"]]" ] ||
    fail "kdissect's dump of the gzip message: $m"
}

@test "live http2: nghttpd + curl (prior knowledge) and node's multiplexing client, HPACK-decoded headers as tshark sees them" {
  need nghttpd curl node; dissector http2
  capture http2
  compare h2 8080 http2
  has "REQ 1 HEAD /api/status.json" "REQ 1 POST /api/status.json" "RESP 1 404" "REQ 11 GET /index.html" "RESP 7 404"
  [ "$(jq -s 'map(select(.http_version == "2")) | length' "$W/kd.ndjson")" -eq 10 ]
}
