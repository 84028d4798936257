#!/usr/bin/env bats
# kdissect's L7 protocols (issue 6) against tshark as oracle on every corpus capture of each
# protocol (tests/l7/compare.sh; documented disagreements in tests/l7/exceptions.tsv), golden
# NDJSON (tests/golden/l7, regenerated on purpose by tests/golden/l7/regen.sh), and fields.
load helpers

setup() {
  [ -x "$KF_BIN/kdissect" ] || fail "kdissect not built in $KF_BIN"
  command -v tshark >/dev/null || skip "tshark not installed"
}

kd() { "$KF_BIN/kdissect" --no-conn "$@"; }

oracle() { # proto
  run env KF_BIN="$KF_BIN" KF_CORPUS="$KF_CORPUS" "$KF_ROOT/tests/l7/compare.sh" "$1"
  echo "$output" | grep -v '^ok ' >&3 || true
  [ "$status" -eq 0 ] || { echo "$output" | grep -v '^ok '; fail "kdissect and tshark disagree"; }
  # the comparison must have compared something
  [ "$(echo "$output" | grep -c '^ok ')" -ge "$2" ] || fail "fewer than $2 captures agreed"
}

@test "tls: every TLS capture: the ClientHellos' JA3 and SNI as tshark" { oracle tls 25; }
@test "tls: every TLS capture: the ServerHellos' JA3S and chosen suite as tshark" { oracle tls-server 25; }
@test "redis: every Redis capture: the number of commands and replies as tshark" { oracle redis 15; }
@test "http2/grpc: every HTTP/2 and gRPC capture: methods, paths, statuses, grpc-status as tshark" { oracle http2 20; }
@test "postgresql: every PostgreSQL capture: queries, CommandComplete tags, SQLSTATEs as tshark" { oracle postgresql 28; }
@test "mysql: every MySQL capture: queries and error codes as tshark" { oracle mysql 24; }
@test "kafka: every Kafka capture: api keys, versions, correlation ids, responses, topics as tshark" { oracle kafka 6; }
@test "websocket: every WebSocket capture: frames, opcodes, masking as tshark" { oracle websocket 15; }
@test "amqp: every AMQP capture: method frames and publish exchange/routing key as tshark" { oracle amqp 4; }

@test "golden: L7 records of every corpus capture match tests/golden/l7" {
  n=0
  for g in "$KF_ROOT"/tests/golden/l7/*/*.ndjson; do
    d=$(basename "$(dirname "$g")"); c=$(basename "$g" .ndjson)
    f=$KF_CORPUS/$d/$c
    [ -f "$f" ] || fail "golden $g has no capture $f"
    diff <(kd "$f" | jq -c -f "$KF_ROOT/tests/golden/l7/filter.jq") "$g" > "$BATS_TEST_TMPDIR/d" ||
      { head -c 3000 "$BATS_TEST_TMPDIR/d"; fail "$d/$c differs from its golden file"; }
    n=$((n + 1))
  done
  [ "$n" -ge 100 ] || fail "only $n golden files"
}

@test "tls: fields of a TLS 1.3 handshake (SNI, ALPN, versions, JA3, chosen suite)" {
  run bash -c "'$KF_BIN/kdissect' --no-conn '$KF_CORPUS/tls/sv__tls-alpn-log-detect-02.pcap' | jq -c 'select(.tlsx)'"
  [ "$status" -eq 0 ]
  r=$output
  [ "$(echo "$r" | jq -r .tlsx_sni)" = "p130-contacts.icloud.com" ]
  [ "$(echo "$r" | jq -r .tlsx_ja3)" = "$(tshark -r "$KF_CORPUS/tls/sv__tls-alpn-log-detect-02.pcap" -Y tls.handshake.type==1 -T fields -e tls.handshake.ja3 2>/dev/null)" ]
  [ "$(echo "$r" | jq -r '.tlsx_alpn_offered[0]')" = "h2" ]
  [ "$(echo "$r" | jq -r '.tlsx_versions | join(",")')" = "TLS 1.3,TLS 1.2,TLS 1.1,TLS 1.0" ]
  [ "$(echo "$r" | jq -r .tlsx_cipher_suite_name)" = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" ]
  [ "$(echo "$r" | jq -r .protocol)" = "TLS" ]
  [ "$(echo "$r" | jq -r .tlsx)" = "true" ]
}

@test "tls: deprecated versions and weak suites are flagged; KFL's RC4 filter selects them" {
  r=$(kd "$KF_CORPUS/tls/zeek__tls1_1.pcap" | jq -c 'select(.tlsx)')
  [ "$(echo "$r" | jq -r .tlsx_deprecated)" = "true" ]
  [ "$(echo "$r" | jq -r .tlsx_version_name)" = "TLS 1.1" ]
  [ "$(echo "$r" | jq '[.tlsx_cipher_suites[] | select(contains("RC4"))] | length')" -gt 0 ]
  [ "$(echo "$r" | jq -r .tlsx_info)" != "" ]
  r=$(kd "$KF_CORPUS/tls/zeek__chrome-1250-tls-x25519-kyber.pcap" | jq -c 'select(.tlsx)')
  [ "$(echo "$r" | jq -r .tlsx_deprecated)" = "false" ]
  [ "$(echo "$r" | jq -r .tlsx_weak)" = "false" ]
}

@test "tls: every cipher suite name kdissect knows is tshark's name for it" {
  # tshark -V prints "Cipher Suite: NAME (0xXXXX)"; compare on every suite offered in the corpus
  for f in "$KF_CORPUS"/tls/*.pcap*; do
    tshark -r "$f" -Y tls.handshake.type==1 -V 2>/dev/null | sed -n 's/^ *Cipher Suite: \([A-Z0-9_]*\) (0x\(....\))$/\2 \1/p'
  done | sort -u > "$BATS_TEST_TMPDIR/t"
  for f in "$KF_CORPUS"/tls/*.pcap*; do kd "$f"; done | jq -r 'select(.tlsx) | .tlsx_cipher_suites[]?' | sort -u > "$BATS_TEST_TMPDIR/o"
  n=0
  while read -r hex name; do
    grep -qx "$name" "$BATS_TEST_TMPDIR/o" && { n=$((n + 1)); continue; }
    # unknown to us: must come out as 0xXXXX
    grep -qix "0x$hex" "$BATS_TEST_TMPDIR/o" || fail "suite 0x$hex ($name) has another name in kdissect"
  done < "$BATS_TEST_TMPDIR/t"
  [ "$n" -ge 40 ] || fail "only $n suite names checked"
}

@test "tls: the ClientHello inside PostgreSQL's SSLRequest is found (hand-off)" {
  r=$(kd "$KF_CORPUS/postgres/zeek__psql-aws-ssl-preferred.pcap")
  [ "$(echo "$r" | jq -r 'select(.postgresql) | .postgresql_command')" = "SSLREQUEST" ]
  [ "$(echo "$r" | jq -r 'select(.tlsx) | .tlsx_sni')" = "database-1.cyx4x7yvdoay.us-east-1.rds.amazonaws.com" ]
}

@test "tls: TLS 1.3 HelloRetryRequest (middlebox compatibility): one record per ClientHello, as tshark" {
  # tests/l7/captures/tls13_hrr.pcapng: tests/l7live/capture-tlshrr.sh, key log injected. Before:
  # the dummy ChangeCipherSpec ended parsing; one record, the second ClientHello and ServerHello lost
  run "$KF_ROOT/tests/l7/tls_hrr_check.sh" "$KF_BIN/kdissect" "$KF_ROOT/tests/l7/captures/tls13_hrr.pcapng"
  echo "$output"
  assert_success
  r=$(kd "$KF_ROOT/tests/l7/captures/tls13_hrr.pcapng" | jq -c 'select(.tlsx)')
  [ "$(echo "$r" | jq -s 'map(.tlsx_hello_retry // false)' -c)" = "[true,false]" ]
  [ "$(echo "$r" | jq -r 'select(.tlsx_hello_retry) | .tlsx_info')" = "server asked for another ClientHello (HelloRetryRequest)" ]
}

@test "dtls: found after the STUN checks of a WebRTC 5-tuple (more than 8 datagrams); hellos as tshark" {
  for n in 2 6 60; do   # 4, 12, 120 STUN datagrams (n checks and answers), then the DTLS hellos
    python3 "$KF_ROOT/tests/kdissect/mkcap.py" stun-dtls $n "$BATS_TEST_TMPDIR/w.pcap"
    t=$(tshark -n -r "$BATS_TEST_TMPDIR/w.pcap" -Y 'dtls.handshake.type == 1 || dtls.handshake.type == 2' -T fields \
        -e frame.number -e dtls.handshake.ja3 -e dtls.handshake.ja3s 2>/dev/null | paste -s -d ' ' | tr -s '\t' ' ')
    [ "$(tshark -n -r "$BATS_TEST_TMPDIR/w.pcap" -Y 'stun.type == 0x0001' 2>/dev/null | wc -l)" -eq $((n + 1)) ]
    k=$(kd "$BATS_TEST_TMPDIR/w.pcap" | jq -r 'select(.tlsx) | "\(.capture.first_frame) \(.tlsx_ja3) \(.capture.last_frame) \(.tlsx_ja3s)"')
    echo "n=$n tshark: $t" >&3
    # before: with more than 8 STUN datagrams first the probe gave up; no record
    [ -n "$k" ]
    [ "$t" = "$k" ]
  done
  # bounded: past 256 datagrams probed (400 STUN here) the flow is given up
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" stun-dtls 200 "$BATS_TEST_TMPDIR/w.pcap"
  [ -z "$(kd "$BATS_TEST_TMPDIR/w.pcap" | jq -r 'select(.tlsx)')" ]
}

@test "http: after a 2xx answer to CONNECT the tunnel's bytes are detected again (TLS, HTTP), as tshark" {
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" connect "$BATS_TEST_TMPDIR/c.pcap"
  f=$BATS_TEST_TMPDIR/c.pcap
  out=$(kd "$f")
  # tshark: the four CONNECTs and their answers
  t=$(tshark -n -r "$f" -Y http.request -T fields -e http.request.method -e http.request.uri 2>/dev/null | tr '\t' ' ')
  [ "$t" = "$(echo "$out" | jq -r 'select(.method == "CONNECT") | "\(.method) \(.url)"')" ]
  t=$(tshark -n -r "$f" -Y http.response -T fields -e http.response.code 2>/dev/null | paste -s -d ' ')
  [ "$t" = "$(echo "$out" | jq -r 'select(.method == "CONNECT") | .status_code' | paste -s -d ' ')" ]
  # tshark dissects the TLS of the first tunnel: its ClientHello and ServerHello are ours
  t=$(tshark -n -r "$f" -Y 'tcp.stream == 0 && (tls.handshake.type == 1 || tls.handshake.type == 2)' -T fields \
      -e frame.number -e tls.handshake.extensions_server_name -e tls.handshake.ja3 -e tls.handshake.ja3s 2>/dev/null |
      paste -s -d ' ' | tr -s '\t ' ' ')
  k=$(echo "$out" | jq -r 'select(.tlsx and .capture.first_frame < 10) | "\(.capture.first_frame) \(.tlsx_sni) \(.tlsx_ja3) \(.capture.last_frame) \(.tlsx_ja3s)"')
  echo "tshark: $t" >&3
  [ -n "$t" ]
  [ "$t" = "$k" ]   # before: nothing after the CONNECT was dissected
  # tshark misses a ClientHello sent with the CONNECT (eager clients) and plain HTTP in a tunnel;
  # the capture's bytes say what they are (tests/kdissect/mkcap.py connect)
  [ "$(echo "$out" | jq -r 'select(.tlsx) | .tlsx_sni' | paste -s -d ' ')" = "api.kf.test eager.kf.test" ]
  [ "$(echo "$out" | jq -r 'select(.method == "GET") | "\(.url) \(.status_code) \(.capture.first_frame)"')" = "/inside 204 26" ]
  # refused (407): no tunnel, nothing more
  [ "$(echo "$out" | jq -s 'map(select(.capture.first_frame > 30)) | length')" -eq 1 ]
}

@test "http: header, cookie and query names with \" and \\ are escaped once (tshark's header lines as oracle)" {
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" http-escape "$BATS_TEST_TMPDIR/e.pcap"
  f=$BATS_TEST_TMPDIR/e.pcap
  # the field names as tshark reads the header lines, lower-cased
  t=$(tshark -n -r "$f" -Y http -T fields -E occurrence=a -E aggregator='|' -e http.request.line -e http.response.line 2>/dev/null |
      tr '\t|' '\n\n' | sed -n 's/^\([^:]*\):.*/\1/p' | tr 'A-Z' 'a-z' | sort)
  k=$(kd "$f" | jq -r '(.request.headers, .response.headers) | keys[]' | sort)
  [ "$t" = "$k" ]
  # before: the names were escaped twice ("x-\\\"q\\\\" in the JSON text, x-\"q\\ once parsed)
  run bash -c "'$KF_BIN/kdissect' --no-conn '$f' | jq -c '[(.request.headers | keys), (.request.cookies | keys), (.query_string | keys), (.response.headers | keys)]'"
  assert_output '[["cookie","host","x-\"q\\"],["a\"b","c\\d"],["b\\","k\"ey"],["content-length","weird\\name\""]]'
}

@test "http: start lines and fields at the edges of the syntax read as before the cursor rewrite; statuses as tshark" {
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" http-lines "$BATS_TEST_TMPDIR/l.pcap"
  f=$BATS_TEST_TMPDIR/l.pcap
  # tshark: the statuses, and the methods (it does not know FOO)
  [ "$(tshark -n -r "$f" -Y http.response -T fields -e http.response.code 2>/dev/null | paste -s -d ' ')" = \
    "$(kd "$f" | jq -r .status_code | paste -s -d ' ')" ]
  [ "$(tshark -n -r "$f" -Y http.request -T fields -e http.request.method 2>/dev/null | paste -s -d ' ')" = \
    "$(kd "$f" | jq -r 'select(.method != "FOO") | .method' | paste -s -d ' ')" ]
  # targets, versions, reasons, folded fields: what http1.c read before parse_head went through kf_cursor
  run bash -c "'$KF_BIN/kdissect' --no-conn '$f' | jq -c '[.method, .url, .http_version, .status_text, .request.headers]'"
  assert_output '["OPTIONS","","HTTP/1.1","",{}]
["GET","/a b","HTTP/1.1"," spaced reason ",{}]
["GET","/x","HTTP/1.0","",{}]
["GET","/nover",""," spaced reason ",{}]
["FOO","/x","HTTP/1.1","",{"a":"b c d X : y "}]
["OPTIONS","",""," spaced reason ",{}]
["GET","HTTP/1.1","HTTP/1.1","",{}]
["GET","/x","HTTP/1.1extra"," spaced reason ",{}]
["PUT","/y HTTP/","","",{}]'
}

@test "redis: command, key, sizes, error; KFL's session filter selects by key" {
  r=$(kd "$KF_CORPUS/redis/zeek__set.pcap" | jq -c 'select(.redis)' | head -1)
  [ "$(echo "$r" | jq -r .redis_type)" = "SET" ]
  [ "$(echo "$r" | jq -r .redis_command)" = "SET test hi" ]
  [ "$(echo "$r" | jq -r .redis_key)" = "test" ]
  [ "$(echo "$r" | jq -r '.redis_request_size + .redis_response_size == .redis_total_size')" = "true" ]
  r=$(kd "$KF_CORPUS/redis/deepflow__redis-error.pcap" | jq -c 'select(.redis)')
  [ "$(echo "$r" | jq -r .redis_error)" = "true" ]
  [ "$(echo "$r" | jq -r .redis_error_message)" = "NOAUTH Authentication required." ]
}

@test "redis: pipelined inline commands are matched in order; CLIENT REPLY OFF/SKIP silence replies" {
  r=$(kd "$KF_CORPUS/redis/zeek__pipeline-with-commands.pcap" | jq -r 'select(.redis) | "\(.redis_command)=\(.redis_response)"')
  [ "$(echo "$r" | tr '\n' ' ')" = "PING=PONG PING=PONG SET HI 3=OK GET HI=3 " ] || { echo "$r"; false; }
  r=$(kd "$KF_CORPUS/redis/zeek__reply-off-on.pcap" | jq -c 'select(.redis)')
  [ "$(echo "$r" | jq -s 'map(select(.redis_no_response)) | length')" -eq 4 ]
  [ "$(echo "$r" | jq -s 'map(select(.redis_response_size > 0)) | length')" -eq 4 ]
}

@test "redis: RESP3 subscribe pushes answer SUBSCRIBE; published messages are pushes" {
  r=$(kd "$KF_CORPUS/redis/zeek__pubsub-resp3.pcap" | jq -c 'select(.redis)')
  [ "$(echo "$r" | jq -r 'select(.redis_type=="SUBSCRIBE") | .redis_response' | head -1)" = "push(3)" ]
  [ "$(echo "$r" | jq -r 'select(.redis_type=="SET") | .redis_response' | head -1)" = "OK" ]
  [ "$(echo "$r" | jq -s 'map(select(.redis_push)) | length')" -eq 3 ]
}

@test "http2: HPACK-decoded request and response, query string, stream ids" {
  r=$(kd "$KF_CORPUS/http2/sv__dns-over-http2.pcap" | jq -c 'select(.http_version=="2")' | head -1)
  [ "$(echo "$r" | jq -r .method)" = "GET" ]
  [ "$(echo "$r" | jq -r .path)" = "/dns-query" ]
  [ "$(echo "$r" | jq -r '.query_string.dns | length')" -gt 10 ]
  [ "$(echo "$r" | jq -r .status_code)" = "200" ]
  [ "$(echo "$r" | jq -r '.request.headers[":authority"]')" = "dns.google" ]
  [ "$(echo "$r" | jq -r .grpc_status)" = "-1" ]
  [ "$(echo "$r" | jq -r .http)" = "true" ]
}

@test "http2: a stream reset by the client still gets the response in flight; closed ids are not reopened" {
  r=$(kd "$KF_CORPUS/http2/sv__dns-over-http2.pcap" | jq -c 'select(.http2_stream_id==7)')
  [ "$(echo "$r" | wc -l)" -eq 1 ]
  [ "$(echo "$r" | jq -r .http2_rst_code)" = "8" ]
}

@test "http2: a capture that starts mid-connection degrades gracefully and says so" {
  r=$(kd "$KF_CORPUS/http2/deepflow__http2-multi.pcap" | jq -c 'select(.http_version=="2")')
  [ -n "$r" ]
  [ "$(echo "$r" | jq -s 'map(select(.http2_midstream == true and (.http2_warning | test("mid-connection")))) | length')" -ge 1 ]
}

@test "grpc: method, service, status 0 without trailers, messages, protobuf field dump" {
  r=$(kd "$KF_CORPUS/grpc/deepflow__grpc-server-stream.pcap" | jq -c 'select(.grpc)')
  [ "$(echo "$r" | jq -r .protocol)" = "GRPC" ]
  [ "$(echo "$r" | jq -r .grpc_method)" = "ServerStreamQuery" ]
  [ "$(echo "$r" | jq -r .grpc_service)" = "timeseriesquery.TimeSeriesQueryService" ]
  [ "$(echo "$r" | jq -r .grpc_status)" = "0" ]
  [ "$(echo "$r" | jq -r .grpc_response_messages)" -ge 2 ]
  [ "$(echo "$r" | jq -r '.grpc_request_message.fields[0].value[1].value')" = "host_id" ]
}

@test "postgresql: startup user/database, SQLSTATE on failure; KFL's SELECT filter works" {
  r=$(kd "$KF_CORPUS/postgres/zeek__psql-insert-fail-drop-fail.pcap" | jq -c 'select(.postgresql)')
  [ "$(echo "$r" | jq -r 'select(.postgresql_command=="STARTUP") | .postgresql_user')" = "postgres" ]
  [ "$(echo "$r" | jq -r 'select(.postgresql_success==false) | .postgresql_error_code' | tr '\n' ' ')" = "42804 42P01 " ]
  r=$(kd "$KF_CORPUS/postgres/zeek__psql-login-fail.pcap" | jq -c 'select(.postgresql)')
  [ "$(echo "$r" | jq -r 'select(.postgresql_command=="STARTUP") | .postgresql_success')" = "false" ]
}

@test "postgresql: HTTP on port 5432 is not PostgreSQL" {
  [ "$(kd "$KF_CORPUS/postgres/zeek__http-on-port-5432.pcap" | jq -c 'select(.postgresql or .redis or .mysql)' | wc -l)" -eq 0 ]
}

@test "mysql: handshake user, COM_QUERY text, ERR code and message" {
  r=$(kd "$KF_CORPUS/mysql/deepflow__mysql-error.pcap" | jq -c 'select(.mysql)')
  [ "$(echo "$r" | jq -s 'map(select(.mysql_success==false)) | length')" -ge 1 ]
  [ "$(echo "$r" | jq -r 'select(.mysql_error_code) | .mysql_error_code' | head -1)" = "$(tshark -r "$KF_CORPUS/mysql/deepflow__mysql-error.pcap" -d tcp.port==20130,mysql -Y mysql.error_code -T fields -e mysql.error_code 2>/dev/null | head -1)" ]
  r=$(kd "$KF_CORPUS/mysql/zeek__many-query-attrs.pcap" | jq -c 'select(.mysql)')
  [ "$(echo "$r" | jq -s 'map(select(.mysql_query == "show databases")) | length')" -eq 1 ]
  [ "$(echo "$r" | jq -s 'map(select(.mysql_command == "COM_FIELD_LIST" and .mysql_query == "columns_priv")) | length')" -eq 1 ]
}

@test "kafka: API names, client id, topic and group summaries, error codes; KFL's PRODUCE filter" {
  r=$(kd "$KF_CORPUS/kafka/deepflow__00-produce-v2.pcap" | jq -c 'select(.kafka)')
  [ "$(echo "$r" | jq -r .kafka_api_key_name)" = "PRODUCE" ]
  [ "$(echo "$r" | jq -r .kafka_request_summary)" = "topic2" ]
  [ "$(echo "$r" | jq -r .kafka_client_id)" = "console-producer" ]
  [ "$(echo "$r" | jq -r '.kafka_request and .kafka_response')" = "true" ]
  r=$(kd "$KF_CORPUS/kafka/deepflow__11-join-group-v7.pcap" | jq -c 'select(.kafka)')
  [ "$(echo "$r" | jq -r .kafka_api_key_name)" = "JOIN_GROUP" ]
  [ "$(echo "$r" | jq -r .kafka_request_summary)" = "zzzz12" ]
  [ "$(echo "$r" | jq -r .kafka_flexible)" = "true" ]
  r=$(kd "$KF_CORPUS/kafka/deepflow__01-fetch-v12-ok.pcap" | jq -c 'select(.kafka)')
  [ "$(echo "$r" | jq -r .kafka_request_summary)" = "zqy-test" ]
  [ "$(echo "$r" | jq -r .kafka_error_code)" = "0" ]
}

@test "websocket: text, masking, fragments joined, permessage-deflate inflated, close code" {
  r=$(kd "$KF_CORPUS/websocket/zeek__two-binary-fragments.pcap" | jq -c 'select(.ws)')
  [ "$(echo "$r" | jq -s 'map(select(.ws_frames > 1)) | length')" -ge 1 ]
  r=$(kd "$KF_CORPUS/websocket/sv__websocket-compressed.pcap" | jq -c 'select(.ws and .ws_compressed)' | head -1)
  [ "$(echo "$r" | jq -r '.ws_request_payload_data // .ws_response_payload_data')" = "KEY=07cb9559eff21e3e34f3bbd18240bac3" ]
  r=$(kd "$KF_CORPUS/websocket/zeek__message-too-big-status.pcap" | jq -c 'select(.ws and .ws_opcode == "close")' | head -1)
  [ "$(echo "$r" | jq -r .ws_close_code)" = "1009" ]
}

@test "amqp: basic.publish exchange and routing key, queue.declare with its -ok, channels" {
  r=$(kd "$KF_CORPUS/amqp/ndpi__amqp.pcap" | jq -c 'select(.amqp)')
  [ "$(echo "$r" | jq -r 'select(.amqp_method == "basic.publish") | .amqp_summary' | head -1)" = "celeryev worker.heartbeat" ]
  r=$(kd "$KF_CORPUS/amqp/deepflow__amqp1.pcap" | jq -c 'select(.amqp)')
  [ "$(echo "$r" | jq -s 'map(select(.amqp_method == "queue.declare" and .amqp_reply_method == "queue.declare-ok")) | length')" -ge 1 ]
  [ "$(echo "$r" | jq -s 'map(select(.amqp_method == "connection.start" and .amqp_response)) | length')" -eq 2 ]   # two connections
}

@test "mongodb: synthetic OP_MSG/OP_QUERY conversation: requests, replies, commands as tshark; errors" {
  f=$KF_ROOT/tests/l7/captures/mongo_synthetic.pcap   # made by tests/l7/make_mongo_pcap.sh
  a=$("$KF_ROOT/tests/l7/tshark_mongodb.sh" "$f" tcp.port==27017,mongo)
  b=$(kd "$f" | "$KF_ROOT/tests/l7/ours_mongodb.sh")
  [ "$(echo "$a" | wc -l)" -eq 10 ]
  [ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b"); false; }
  r=$(kd "$f" | jq -c 'select(.mongodb)')
  [ "$(echo "$r" | jq -r 'select(.mongodb_command == "find" and .mongodb_op == "OP_MSG") | "\(.mongodb_database)/\(.mongodb_collection)/\(.mongodb_success)"')" = "shop/orders/true" ]
  [ "$(echo "$r" | jq -r 'select(.mongodb_command == "insert") | .mongodb_success')" = "false" ]
  [ "$(echo "$r" | jq -r 'select(.mongodb_command == "drop") | "\(.mongodb_error_code) \(.mongodb_error_name)"')" = "26 NamespaceNotFound" ]
}

@test "schema: every record of every corpus capture and of tests/l7/captures validates against docs/record.schema.json" {
  /usr/bin/python3 -c 'import jsonschema' 2>/dev/null || fail "python3-jsonschema (Debian package) is not installed"
  v=$KF_ROOT/tests/golden/kdissect/validate.py
  [ -f "$v" ] || skip "validator tests/golden/kdissect/validate.py not present"
  i=0
  # every folder, so a new protocol's captures are checked without an edit here
  for f in "$KF_CORPUS"/*/*.pcap* "$KF_ROOT"/tests/l7/captures/*.pcap*; do
    kd "$f" > "$BATS_TEST_TMPDIR/r$i.ndjson" 2>/dev/null || true   # a broken capture exits 2: what it wrote counts
    i=$((i + 1))
  done
  [ "$i" -ge 300 ]
  run /usr/bin/python3 "$v" "$KF_ROOT/docs/record.schema.json" "$BATS_TEST_TMPDIR"/*.ndjson
  echo "$output" | tail -5
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | tail -1 | cut -d' ' -f1)" -ge 1000 ]
}

@test "calls: a request without a response is unanswered; one whose reply is not due (CLIENT REPLY OFF) is not" {
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" redis-noreply "$BATS_TEST_TMPDIR/r.pcap"
  # tshark (oracle) sees the seven RESP messages the capture holds: five commands, two replies
  [ "$(tshark -n -r "$BATS_TEST_TMPDIR/r.pcap" -Y resp 2>/dev/null | wc -l)" -eq 7 ]
  run bash -c "'$KF_BIN/kdissect' --no-conn '$BATS_TEST_TMPDIR/r.pcap' | jq -r '\"\(.redis_command) \(.redis_response // \"-\") \(.redis_no_response // false) \(.unanswered // false)\"'"
  assert_success
  # before: the lost GET said redis_no_response ("the client turned replies off")
  assert_output $'GET k v false false\nCLIENT REPLY OFF - true false\nSET a 1 - true false\nCLIENT REPLY ON OK false false\nGET lost - false true'
}

@test "http1: pipelined requests are matched in order; a request without response is unanswered at close, after a gap and when 256 wait (tshark as oracle)" {
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" http-unanswered "$BATS_TEST_TMPDIR/h.pcap"
  # pipelining (ports 43001, 43002): tshark's requests and responses per stream, paired in order
  t=$(tshark -2 -n -r "$BATS_TEST_TMPDIR/h.pcap" -Y 'http && (tcp.port == 43001 || tcp.port == 43002)' \
        -T fields -E occurrence=a -E aggregator=, -e tcp.stream -e http.request.uri -e http.response.code 2>/dev/null |
      awk -F'\t' '{ n = split($2 $3, v, ","); for (i = 1; i <= n; i++) if ($2 != "") q[$1, nq[$1]++] = v[i]; else r[$1, nr[$1]++] = v[i]
                    if (!($1 in seen)) { seen[$1] = 1; order[ns++] = $1 } }
           END { for (k = 0; k < ns; k++) { s = order[k]; for (i = 0; i < nq[s]; i++) print q[s, i], (i < nr[s] ? r[s, i] : "unanswered") } }')
  [ "$t" = $'/p1 200\n/p2 201\n/p3 202\n/a1 200\n/a2 unanswered' ]
  k=$(kd "$BATS_TEST_TMPDIR/h.pcap" | jq -r 'select(.src.port == 43001 or .src.port == 43002) | "\(.url) \(.status_code // "unanswered")"')
  [ "$k" = "$t" ]
  # the gap (43003: the response to /lost is not captured) and 300 requests never answered
  # (43004): the requests tshark finds no response for (two passes) are ours unanswered
  t=$(tshark -2 -n -r "$BATS_TEST_TMPDIR/h.pcap" -Y 'http.request && !http.response_in && (tcp.port == 43003 || tcp.port == 43004)' \
        -T fields -e frame.number 2>/dev/null | sort -n | md5sum)
  [ "$(tshark -2 -n -r "$BATS_TEST_TMPDIR/h.pcap" -Y 'http.request && !http.response_in && tcp.port == 43004' 2>/dev/null | wc -l)" -eq 300 ]
  k=$(kd "$BATS_TEST_TMPDIR/h.pcap" | jq -r 'select((.src.port == 43003 or .src.port == 43004) and .unanswered) | .capture.first_frame' | sort -n | md5sum)
  [ "$k" = "$t" ]
  # before: the response after the gap answered /lost and /after went unanswered
  run bash -c "'$KF_BIN/kdissect' --no-conn '$BATS_TEST_TMPDIR/h.pcap' | jq -r 'select(.src.port == 43003) | \"\\(.url) \\(.status_code // \"unanswered\")\"'"
  assert_output $'/lost unanswered\n/after 204'
  run bash -c "'$KF_BIN/kdissect' --no-conn --stats '$BATS_TEST_TMPDIR/h.pcap' 2>&1 >/dev/null | grep '^unanswered '"
  assert_output 'unanswered 302'
}

@test "tls: a ClientHello without ServerHello is unanswered (alone, sent twice, before a gap), counted in --stats (tshark as oracle)" {
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" tls-unanswered "$BATS_TEST_TMPDIR/t.pcap"
  # tshark: per TCP stream, a ClientHello (1) is answered when the next handshake message of the
  # stream is a ServerHello (2); the frames of the others
  t=$(tshark -n -r "$BATS_TEST_TMPDIR/t.pcap" -Y 'tls.handshake.type == 1 || tls.handshake.type == 2' \
        -T fields -e frame.number -e tcp.stream -e tls.handshake.type 2>/dev/null |
      awk '$3 == 1 { if ($2 in ch) print ch[$2]; ch[$2] = $1 } $3 == 2 { delete ch[$2] }
           END { for (s in ch) print ch[s] }' | sort -n | tr '\n' ' ')
  [ "$t" = "12 19 28 " ]
  k=$(kd "$BATS_TEST_TMPDIR/t.pcap" | jq -r 'select(.unanswered) | .capture.first_frame' | sort -n | tr '\n' ' ')
  [ "$k" = "$t" ]
  # the answered ones and the ServerHello alone are not unanswered
  run bash -c "'$KF_BIN/kdissect' --no-conn '$BATS_TEST_TMPDIR/t.pcap' | jq -r 'select(.unanswered | not) | .capture.first_frame'"
  assert_output $'4\n20\n36'
  run bash -c "'$KF_BIN/kdissect' --no-conn --stats '$BATS_TEST_TMPDIR/t.pcap' 2>&1 >/dev/null | grep '^unanswered '"
  assert_output 'unanswered 3'   # before: 0 (TLS kept its own pending hello, uncounted)
}

@test "dns: the extended RCODE of an EDNS OPT record is part of status_code and dns_rcode (tshark as oracle)" {
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" dns-ext-rcode "$BATS_TEST_TMPDIR/d.pcap"
  # tshark: header rcode and the OPT's extended bits -> the full code (RFC 6891 6.1.3)
  t=$(tshark -n -r "$BATS_TEST_TMPDIR/d.pcap" -Y 'dns.flags.response == 1' -T fields -e dns.flags.rcode -e dns.resp.ext_rcode 2>/dev/null |
      awk 'function hex(s,  v, i) { s = tolower(s); sub(/^0x/, "", s); v = 0
             for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
           { printf "%d\n", hex($2) * 16 + $1 }')
  k=$(kd "$BATS_TEST_TMPDIR/d.pcap" | jq -r 'select(.dns_response) | .status_code')
  [ "$t" = "$k" ]
  # before: BADVERS (16) came out as NOERROR, BADCOOKIE (23) as YXRRSET
  run bash -c "'$KF_BIN/kdissect' --no-conn '$BATS_TEST_TMPDIR/d.pcap' | jq -r '\"\(.status_code) \(.dns_rcode)\"'"
  assert_output $'16 BADVERS\n23 BADCOOKIE\n3 NXDOMAIN'
}

@test "icmp: the engine's pending-call table: echo requests without reply are unanswered, and records stay in time order (tshark as oracle)" {
  python3 "$KF_ROOT/tests/kdissect/mkcap.py" icmp-echo "$BATS_TEST_TMPDIR/i.pcap"
  # tshark (two passes): which of A's echo requests got a reply (icmp.resp_in) and which not (icmp.no_resp)
  t=$(tshark -2 -n -r "$BATS_TEST_TMPDIR/i.pcap" -Y 'icmp.type == 8 && ip.src == 10.0.0.1' -T fields -e icmp.seq -e icmp.no_resp 2>/dev/null |
      awk '{ print $1, ($2 == "" ? "answered" : "unanswered") }')
  [ "$t" = $'1 unanswered\n2 answered\n3 unanswered\n4 answered' ]
  k=$(kd "$BATS_TEST_TMPDIR/i.pcap" | jq -r 'select(.icmp and .src.ip == "10.0.0.1") | "\(.icmp_echo_seq) \(if .unanswered then "unanswered" elif .icmp_echo_reply then "answered" else "?" end)"')
  [ "$t" = "$k" ]
  # before: ICMP kept the connection's ordering bound at its NEWEST pending request, so records
  # of other connections were written before the unanswered request 1 (out of time order)
  run bash -c "'$KF_BIN/kdissect' --no-conn '$BATS_TEST_TMPDIR/i.pcap' | jq -s 'map(.timestamp) | (. == sort) and length == 8504'"
  assert_output true
  # --stats counts them (before: 0)
  run bash -c "'$KF_BIN/kdissect' --stats --no-conn '$BATS_TEST_TMPDIR/i.pcap' 2>&1 >/dev/null | grep '^unanswered'"
  assert_output 'unanswered 2'
}

@test "amqp: a method whose -ok reply never came is unanswered (tshark as oracle)" {
  f=$KF_CORPUS/amqp/deepflow__amqp-error.pcap
  # tshark's methods: a request (a method the AMQP 0-9-1 spec answers with method + 1) with no
  # reply later on the same connection and channel
  t=$(tshark -n -r "$f" -Y 'amqp.type == 1' -T fields -e tcp.stream -e frame.number -e amqp.channel \
        -e amqp.method.class -e amqp.method.method 2>/dev/null | awk -F'\t' '
    BEGIN { split("10.10 10.20 10.30 10.40 10.50 20.10 20.20 20.40 40.10 40.20 40.30 50.10 50.20 50.30 50.40 50.50 60.10 60.20 60.30 60.110 85.10 90.10 90.20 90.30", r, " ")
            for (i in r) req[r[i]] = 1 }
    { n = split($3, ch, ","); split($4, cl, ","); split($5, me, ",")
      for (i = 1; i <= n; i++) { m++; row[m] = $1 " " ch[i] " " cl[i] "." me[i]; fr[m] = $2
                                 key[m] = cl[i] "." me[i]; want[m] = $1 " " ch[i] " " cl[i] "." (me[i] + 1) } }
    END { for (i = 1; i <= m; i++) { if (!(key[i] in req)) continue; ok = 0
            for (j = i + 1; j <= m; j++) if (row[j] == want[i]) { ok = 1; break }
            if (!ok) print fr[i] } }')
  [ "$t" = $'11\n13\n27\n29\n50' ]
  # before: no AMQP record said unanswered
  [ "$(kd "$f" | jq -r 'select(.unanswered) | .capture.first_frame')" = "$t" ]
  # a publish (no reply in the protocol) is never unanswered
  [ "$(kd "$KF_CORPUS/amqp/"*.pcap* | jq -s 'map(select(.amqp_method == "basic.publish" and .unanswered)) | length')" -eq 0 ]
}

@test "postgresql: a StartupMessage without response is unanswered, a CancelRequest expects none" {
  run bash -c "'$KF_BIN/kdissect' --no-conn '$KF_CORPUS/postgres/zeek__bad-backend-message-1.pcap' | jq -c 'select(.postgresql_message == \"STARTUP\") | [.unanswered, .postgresql_no_response]'"
  # before: [null,true] (postgresql_no_response, documented as 'the call expects no response')
  assert_output '[true,null]'
  run bash -c "'$KF_BIN/kdissect' --no-conn '$KF_CORPUS/postgres/sv__pgsql__pgsql-cancel-request.pcap' | jq -c 'select(.postgresql_message == \"CANCEL\") | [.unanswered, .postgresql_no_response]'"
  assert_output '[null,true]'
}
