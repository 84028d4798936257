#!/usr/bin/env bats
# kdissect's framed protocols (issue 14: the engine's framed mode, tools/kdissect/engine_frame.c,
# and the pending-call table for MySQL and HTTP/2): requests without a response are "unanswered"
# and counted, an oversize frame's head is parsed and its rest skipped, a bad frame is followed
# by a resync instead of the loss of the direction. Captures are generated
# (tests/kdissect/mkcap_framed.py); tshark is the oracle where it dissects the case.
load helpers

setup() {
  [ -x "$KF_BIN/kdissect" ] || fail "kdissect not built in $KF_BIN"
  command -v tshark >/dev/null || skip "tshark not installed"
  MK=$KF_ROOT/tests/kdissect/mkcap_framed.py
}

kd() { "$KF_BIN/kdissect" --no-conn "$@"; }
unanswered_stat() { "$KF_BIN/kdissect" --no-conn --stats "$1" 2>&1 >/dev/null | awk '$1 == "unanswered" {print $2}'; }

@test "mysql: a command whose answer never comes is unanswered and counted (tshark as oracle)" {
  python3 "$MK" mysql-unanswered "$BATS_TEST_TMPDIR/m.pcap"
  # tshark: the client's commands, and whether a server packet follows before the next one
  want=$(tshark -n -r "$BATS_TEST_TMPDIR/m.pcap" -Y mysql -T fields -e tcp.stream -e tcp.srcport -e mysql.query 2>/dev/null |
         awk -F'\t' '$2 != 3306 && $3 != "" { if (q[$1] != "") print q[$1]; q[$1] = $3; next }
                     $2 == 3306 { q[$1] = "" }
                     END { for (s in q) if (q[s] != "") print q[s] }' | sort)
  [ "$(echo "$want" | wc -l)" -eq 2 ]
  got=$(kd "$BATS_TEST_TMPDIR/m.pcap" | jq -r 'select(.unanswered) | .mysql_query' | sort)
  [ "$got" = "$want" ] || fail "unanswered: got [$got], tshark [$want]"
  # the answered ones are not
  [ "$(kd "$BATS_TEST_TMPDIR/m.pcap" | jq -r 'select(.unanswered | not) | .mysql_command' | sort | tr '\n' ' ')" = "COM_QUERY COM_QUERY HANDSHAKE " ]
  [ "$(unanswered_stat "$BATS_TEST_TMPDIR/m.pcap")" = 2 ]
}

@test "http2/grpc: streams reset or never answered are unanswered, per stream, and counted (tshark as oracle)" {
  python3 "$MK" h2-unanswered "$BATS_TEST_TMPDIR/h.pcap"
  # tshark: streams the client opened (HEADERS) on which the server sent nothing
  want=$(tshark -n -r "$BATS_TEST_TMPDIR/h.pcap" -d tcp.port==50051,http2 -Y http2 -T fields -e tcp.srcport -e http2.streamid -e http2.type 2>/dev/null |
         awk -F'\t' '{ n = split($2, id, ","); split($3, ty, ",")
                       for (i = 1; i <= n; i++) { if (id[i] == 0) continue
                         if ($1 == 50051) ans[id[i]] = 1; else if (ty[i] == 1) req[id[i]] = 1 } }
                     END { for (s in req) if (!ans[s]) print s }' | sort -n | tr '\n' ' ')
  [ "$want" = "3 5 7 " ]
  got=$(kd "$BATS_TEST_TMPDIR/h.pcap" | jq -r 'select(.unanswered) | .http2_stream_id' | sort -n | tr '\n' ' ')
  [ "$got" = "$want" ] || fail "unanswered streams: got [$got], tshark [$want]"
  # the reset one says how (tshark: RST_STREAM error 8, CANCEL); the gRPC call is GRPC; stream 1 answered
  [ "$(kd "$BATS_TEST_TMPDIR/h.pcap" | jq -r 'select(.http2_stream_id == 3) | .http2_rst_code')" = 8 ]
  [ "$(tshark -n -r "$BATS_TEST_TMPDIR/h.pcap" -d tcp.port==50051,http2 -Y 'http2.type == 3' -T fields -e http2.rst_stream.error 2>/dev/null)" = 8 ]
  [ "$(kd "$BATS_TEST_TMPDIR/h.pcap" | jq -r 'select(.http2_stream_id == 7) | "\(.protocol) \(.grpc_method) \(.unanswered)"')" = "GRPC SayHello true" ]
  [ "$(kd "$BATS_TEST_TMPDIR/h.pcap" | jq -r 'select(.http2_stream_id == 1) | "\(.status_code) \(.unanswered // false)"')" = "200 false" ]
  [ "$(unanswered_stat "$BATS_TEST_TMPDIR/h.pcap")" = 3 ]
}

@test "grpc: a response without grpc-status (a proxy's 404/503) gets the status a gRPC client maps it to (tshark as oracle of what was sent)" {
  python3 "$MK" h2-grpc-status "$BATS_TEST_TMPDIR/g.pcap"
  # tshark: stream, :status, grpc-status (empty when the response carried none)
  want=$(tshark -n -r "$BATS_TEST_TMPDIR/g.pcap" -d tcp.port==50051,http2 -Y 'http2.type == 1 && tcp.srcport == 50051' -T fields -E aggregator=, \
           -e http2.streamid -e http2.headers.status -e http2.header.name -e http2.header.value 2>/dev/null |
         awk -F'\t' '{ split($1, id, ","); n = split($3, hn, ","); split($4, hv, ","); g = ""
                       for (i = 1; i <= n; i++) if (hn[i] == "grpc-status") g = hv[i]
                       if ($2 != "") st[id[1]] = $2; if (g != "") gs[id[1]] = g }
                     END { for (k in st) print k, st[k], (k in gs ? gs[k] : "-") }' | sort -n)
  [ "$want" = $'1 404 -\n3 503 -\n5 418 -\n7 200 5' ] || fail "tshark: [$want]"
  got=$(kd "$BATS_TEST_TMPDIR/g.pcap" | jq -r '"\(.http2_stream_id) \(.status_code) \(.grpc_status) \(.protocol)"' | sort -n)
  # gRPC's HTTP-to-gRPC mapping: 404 UNIMPLEMENTED (12), 503 UNAVAILABLE (14), others UNKNOWN (2);
  # a grpc-status sent is taken as it is
  [ "$got" = $'1 404 12 GRPC\n3 503 14 GRPC\n5 418 2 GRPC\n7 200 5 GRPC' ] || fail "kdissect: [$got]"
  # so a filter for failed gRPC calls finds all four
  [ "$(kd "$BATS_TEST_TMPDIR/g.pcap" | "$KF_BIN/kfl" 'grpc && grpc_status != 0' | wc -l)" -eq 4 ]
}

@test "framed mode: DNS over TCP resynchronises after a bad length prefix (tshark as oracle)" {
  python3 "$MK" dns-tcp-resync "$BATS_TEST_TMPDIR/d.pcap"
  want=$(tshark -n -r "$BATS_TEST_TMPDIR/d.pcap" -Y 'dns.flags.response == 1' -T fields -e dns.qry.name -e dns.a 2>/dev/null | sort)
  [ "$(echo "$want" | wc -l)" -eq 2 ]
  got=$(kd "$BATS_TEST_TMPDIR/d.pcap" | jq -r 'select(.dns) | "\(.dns_questions[0])\t\(.dns_answers[0])"' | sort)
  [ "$got" = "$want" ] || fail "got [$got], tshark [$want]"
  st=$("$KF_BIN/kdissect" --no-conn --stats "$BATS_TEST_TMPDIR/d.pcap" 2>&1 >/dev/null)
  echo "$st" | grep -qx 'parse_errors 1'
  echo "$st" | grep -qx 'resyncs 1'
}

@test "framed mode: an oversize Kafka frame's head is parsed, its rest skipped, the next request found (tshark as oracle)" {
  python3 "$MK" kafka-big "$BATS_TEST_TMPDIR/k.pcap"
  # tshark reassembles both requests: api key, correlation id, topic, length
  want=$(tshark -n -r "$BATS_TEST_TMPDIR/k.pcap" -d tcp.port==9092,kafka -Y 'kafka && tcp.dstport == 9092' -T fields -e kafka.api_key -e kafka.correlation_id -e kafka.topic_name -e kafka.len 2>/dev/null)
  got=$(kd "$BATS_TEST_TMPDIR/k.pcap" | jq -r '"\(.kafka_api_key)\t\(.kafka_correlation_id)\t\(.kafka_request_summary)\t\(.kafka_request_size)\t\(.kafka_response)"')
  [ "$(echo "$want" | wc -l)" -eq 2 ]
  [ "$got" = "$(echo "$want" | sed 's/$/\ttrue/')" ] || fail "got [$got], tshark [$want]"
  # 300 KiB is more than KD_FRAME_MAX: the head was enough; no parse error
  "$KF_BIN/kdissect" --no-conn --stats "$BATS_TEST_TMPDIR/k.pcap" 2>&1 >/dev/null | grep -qx 'parse_errors 0'
}

@test "framed mode: after a bad frame the direction resynchronises on the next message (PostgreSQL)" {
  python3 "$MK" pg-resync "$BATS_TEST_TMPDIR/p.pcap"
  # tshark sees the server's two answers (CommandComplete + ReadyForQuery) after the login
  [ "$(tshark -n -r "$BATS_TEST_TMPDIR/p.pcap" -Y 'pgsql.type == "Command completion"' 2>/dev/null | wc -l)" -eq 2 ]
  # before: the 64 bytes of garbage ended the client direction and 'SELECT 2' was lost
  run bash -c "'$KF_BIN/kdissect' --no-conn '$BATS_TEST_TMPDIR/p.pcap' | jq -r '\"\(.postgresql_message) \(.postgresql_query // \"-\") \(.postgresql_success)\"'"
  assert_success
  assert_output $'STARTUP - true\nQUERY SELECT 1 true\nQUERY SELECT 2 true'
  st=$("$KF_BIN/kdissect" --no-conn --stats "$BATS_TEST_TMPDIR/p.pcap" 2>&1 >/dev/null)
  echo "$st" | grep -qx 'parse_errors 1'
  echo "$st" | grep -qx 'resyncs 1'
}
