# tshark's view and kdissect's view of a live capture, each as a sorted list of lines, so the two
# compare with diff (sourced by tests/bats/kdissect_live.bats). Every pair describes the same
# facts: one line per call or message, with its command/method/status/error/topic.
# tshark is the independent oracle; nothing here comes from kdissect's own test scripts.

# The captures are taken on a namespace's loopback with two CPUs sending, so a segment can be
# recorded after the one that follows it; tshark 4.0 does not reassemble across that by default
# (tcp.reassemble_out_of_order: FALSE) and then misses the messages in it, which kdissect
# reassembles: the oracle is asked to reassemble them too.
tshark() { command tshark -o tcp.reassemble_out_of_order:TRUE "$@"; }

# hex "414243" -> "ABC" (tshark prints RESP bulk strings as hex)
_unhex_awk='function unhex(h,   s, i) { s = ""; for (i = 1; i < length(h); i += 2) s = s sprintf("%c", strtonum("0x" substr(h, i, 2))); return s }'

# Redis: "REQ <VERB> <key>" per command array the client sent, "REPLY" per top-level value
# the server sent, "ERR <message>" per error reply. (The live session's replies are scalars,
# so every value tshark shows on the server side is top level.)
tshark_redis() { # capture port
  tshark -n -r "$1" -d "tcp.port==$2,resp" -Y resp -T fields -E occurrence=a -E aggregator=$'\x1f' \
    -e tcp.srcport -e resp.array.length -e resp.bulk_string.value -e resp.string -e resp.error \
    -e resp.integer -e resp.reassembled_in_next_frame 2>/dev/null | gawk -F'\t' -v port="$2" "$_unhex_awk"'
    function count(s,   a) { return s == "" ? 0 : split(s, a, "\x1f") }
    # a value cut by the segment end is shown partially, and again whole where it completes:
    # the partial one (the packet'"'"'s last, flagged reassembled_in_next_frame) is left out
    $1 == port { n = count($2) + count($3) + count($4) + count($5) + count($6) - ($7 != "")
                 for (i = 0; i < n; i++) print "REPLY"
                 m = split($5, e, "\x1f"); for (i = 1; i <= m; i++) print "ERR " e[i]; next }
    { na = split($2, len, "\x1f") - ($7 != ""); split($3, b, "\x1f"); k = 1
      for (i = 1; i <= na; i++) { v = toupper(unhex(b[k])); key = len[i] > 1 ? unhex(b[k + 1]) : ""
        if (v == "ECHO") key = ""          # redis-cli --pipe ends with ECHO <random>: not a key
        print "REQ " v " " key; k += len[i] } }' | LC_ALL=C sort
}
kd_redis() { # ndjson on stdin
  jq -r 'select(.redis) |
    (select(.redis_request_size > 0) | "REQ \(.redis_type) \(if .redis_type == "ECHO" then "" else .redis_key // "" end)"),
    (select(.redis_response_size > 0) | "REPLY"),
    (select(.redis_error) | "ERR \(.redis_error_message)")' | LC_ALL=C sort
}

# TLS: per handshake (keyed by the client port) "<port> sni=<SNI> offered=<ALPN,…> alpn=<chosen>
# version=<hex> suite=<hex> versions=<offered, hex> suites=<number offered> ja3=<md5> ja3s=<md5>".
# The chosen ALPN is the ServerHello's; TLS 1.3 hides it in the encrypted extensions, where we
# (documented) show the first offered: so does this line. One line per ClientHello, with the
# ServerHello that answered it: a HelloRetryRequest makes two on one connection (the first
# ClientHello answered by the HelloRetryRequest, the second by the ServerHello), as kdissect's
# records.
tshark_tls() { # capture port [no]  (no: tshark finds TLS itself, e.g. after PostgreSQL's SSLRequest)
  local da="-d tcp.port==$2,tls"; [ "${3:-}" = no ] && da=
  # shellcheck disable=SC2086
  tshark -n -r "$1" $da -Y 'tls.handshake.type == 1 || tls.handshake.type == 2' \
    -T fields -E occurrence=a -E aggregator=, -e tcp.srcport -e tcp.dstport -e tls.handshake.type \
    -e tls.handshake.version -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str \
    -e tls.handshake.extensions.supported_version -e tls.handshake.ciphersuite \
    -e tls.handshake.cipher_suites_length -e tls.handshake.ja3 -e tls.handshake.ja3s 2>/dev/null | gawk -F'\t' -v port="$2" '
    $1 != port { c = $1 SUBSEP (++nc[$1]); port_of[c] = $1; sni[c] = $5; off[c] = $6; split($6, a, ","); first[c] = a[1]
                 vers[c] = $7 != "" ? $7 : $4; ns[c] = $9 / 2; ja3[c] = $10; next }
    { c = $2 SUBSEP (++nsh[$2]); split($7, sv, ","); ver[c] = sv[1] != "" ? sv[1] : $4; split($8, s, ","); suite[c] = s[1]
      alpn[c] = $6; ja3s[c] = $11 }
    END { for (c in sni) printf "%s sni=%s offered=%s alpn=%s version=%s suite=%s versions=%s suites=%d ja3=%s ja3s=%s\n",
            port_of[c], sni[c], off[c], alpn[c] != "" ? alpn[c] : first[c], ver[c], suite[c], vers[c], ns[c], ja3[c], ja3s[c] }' |
    LC_ALL=C sort
}
kd_tls() { # ndjson on stdin
  jq -r '{"SSL 3.0": "0x0300", "TLS 1.0": "0x0301", "TLS 1.1": "0x0302", "TLS 1.2": "0x0303", "TLS 1.3": "0x0304"} as $v |
    select(.tlsx) | "\(.src.port) sni=\(.tlsx_sni // "") offered=\(.tlsx_alpn_offered // [] | join(","))" +
    " alpn=\(.tlsx_alpn // "") version=\(.tlsx_version) suite=\(.tlsx_cipher_suite)" +
    " versions=\(.tlsx_versions // [] | map($v[.] // .) | join(",")) suites=\(.tlsx_cipher_suites // [] | length)" +
    " ja3=\(.tlsx_ja3 // "") ja3s=\(.tlsx_ja3s // "")"' |
    gawk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(version|suite)=[0-9]+$/) { split($i, kv, "="); $i = sprintf("%s=0x%04x", kv[1], kv[2]) } print }' |
    LC_ALL=C sort
}

# PostgreSQL: "SSLREQUEST" per SSLRequest, "STARTUP <user> <database>" per StartupMessage,
# "QUERY <text>" per simple Query or Parse, "SYNC" per Sync (one extended cycle), "TAG <tag>"
# per CommandComplete, "ERR <SQLSTATE>" per ErrorResponse.
tshark_postgresql() { # capture port
  tshark -n -r "$1" -d "tcp.port==$2,pgsql" -Y pgsql -T fields -E occurrence=a -E aggregator=$'\x1f' \
    -e pgsql.type -e pgsql.query -e pgsql.tag -e pgsql.code -e pgsql.parameter_name -e pgsql.parameter_value \
    2>/dev/null | gawk -F'\t' '
    { n = split($1, t, "\x1f"); for (i = 1; i <= n; i++) {
        if (t[i] == "SSL request") print "SSLREQUEST"
        if (t[i] == "Sync") print "SYNC"
        if (t[i] == "Startup message") { m = split($5, pn, "\x1f"); split($6, pv, "\x1f"); u = d = ""
          for (j = 1; j <= m; j++) { if (pn[j] == "user") u = pv[j]; if (pn[j] == "database") d = pv[j] }
          print "STARTUP " u " " d } }
      n = split($2, q, "\x1f"); for (i = 1; i <= n; i++) print "QUERY " q[i]
      n = split($3, g, "\x1f"); for (i = 1; i <= n; i++) print "TAG " g[i]
      n = split($4, e, "\x1f"); for (i = 1; i <= n; i++) print "ERR " e[i] }' | LC_ALL=C sort
}
kd_postgresql() { # ndjson on stdin
  jq -r 'select(.postgresql) |
    (if .postgresql_message == "SSLREQUEST" then "SSLREQUEST"
     elif .postgresql_message == "STARTUP" then "STARTUP \(.postgresql_user // "") \(.postgresql_database // "")"
     elif .postgresql_message == "QUERY" then "QUERY \(.postgresql_query)"
     elif .postgresql_message == "EXTENDED" then "SYNC",
       (select(.postgresql_frontend_messages // "" | contains("P")) | (.postgresql_queries // [.postgresql_query])[] | "QUERY \(.)")
     else "OTHER \(.postgresql_message)" end),
    (.postgresql_tags // "" | split(";")[] | select(. != "") | "TAG " + .),
    (select(.postgresql_error_code) | "ERR \(.postgresql_error_code)")' | LC_ALL=C sort
}

# MySQL/MariaDB: "LOGIN <user> <schema>" per handshake response, "CMD <number>" per command,
# "QUERY <text>" per COM_QUERY, "ERR <code>" per ERR packet (at login or after a command).
tshark_mysql() { # capture port
  tshark -n -r "$1" -d "tcp.port==$2,mysql" -Y mysql -T fields -E occurrence=a -E aggregator=$'\x1f' \
    -e mysql.user -e mysql.schema -e mysql.command -e mysql.query -e mysql.error_code 2>/dev/null | gawk -F'\t' '
    $1 != "" { print "LOGIN " $1 " " $2 }
    { n = split($3, c, "\x1f"); for (i = 1; i <= n; i++) print "CMD " c[i]
      n = split($4, q, "\x1f"); for (i = 1; i <= n; i++) print "QUERY " q[i]
      n = split($5, e, "\x1f"); for (i = 1; i <= n; i++) print "ERR " e[i] }' | LC_ALL=C sort
}
kd_mysql() { # ndjson on stdin
  jq -r '{"COM_SLEEP":0,"COM_QUIT":1,"COM_INIT_DB":2,"COM_QUERY":3,"COM_FIELD_LIST":4,"COM_STATISTICS":9,
          "COM_PING":14,"COM_CHANGE_USER":17,"COM_STMT_PREPARE":22,"COM_STMT_EXECUTE":23,"COM_STMT_CLOSE":25,
          "COM_STMT_RESET":26,"COM_SET_OPTION":27,"COM_RESET_CONNECTION":31} as $num | select(.mysql) |
    (if .mysql_command == "HANDSHAKE" then (select(.mysql_user) | "LOGIN \(.mysql_user) \(.mysql_database // "")")
     else "CMD \($num[.mysql_command] // .mysql_command)" end),
    (select(.mysql_command == "COM_QUERY" and .mysql_query) | "QUERY \(.mysql_query)"),
    (select(.mysql_error_code) | "ERR \(.mysql_error_code)")' | LC_ALL=C sort
}

# AMQP 0-9-1: "M <class>.<method>" per method frame (replies included), "PUB|DELIVER|GETOK
# <exchange> <routing key>" for basic.publish, basic.deliver, basic.get-ok, "QUEUE <c.m> <queue>"
# for queue.declare/bind/delete, basic.consume/get, "CLOSE <c.m> <reply code>" for the closes
# and basic.return (with "RETURN <exchange> <routing key>").
# tshark lists each argument across a frame's methods in order: consumed per method kind.
tshark_amqp() { # capture port
  tshark -n -r "$1" -d "tcp.port==$2,amqp" -Y amqp -T fields -E occurrence=a -E aggregator=$'\x1f' \
    -e amqp.method.class -e amqp.method.method -e amqp.method.arguments.exchange \
    -e amqp.method.arguments.routing_key -e amqp.method.arguments.queue \
    -e amqp.method.arguments.reply_code 2>/dev/null | gawk -F'\t' '
    BEGIN { split("40.10 40.20 50.20 50.50 60.40 60.50 60.60 60.71", a, " "); for (i in a) hasex[a[i]] = 1
            split("50.20 50.50 60.40 60.50 60.60 60.71", a, " "); for (i in a) haskey[a[i]] = 1
            split("50.10 50.11 50.20 50.30 50.40 50.50 60.20 60.70", a, " "); for (i in a) hasq[a[i]] = 1
            split("10.50 20.40 60.50", a, " "); for (i in a) hascode[a[i]] = 1
            split("50.10 50.20 50.40 60.20 60.70", a, " "); for (i in a) showq[a[i]] = 1
            name["60.40"] = "PUB"; name["60.60"] = "DELIVER"; name["60.71"] = "GETOK"; name["60.50"] = "RETURN" }
    { n = split($1, c, "\x1f"); split($2, m, "\x1f"); split($3, ex, "\x1f"); split($4, rk, "\x1f")
      split($5, q, "\x1f"); split($6, rc, "\x1f"); ie = ik = iq = ic = 0
      for (i = 1; i <= n; i++) { cm = c[i] "." m[i]; print "M " cm
        e = hasex[cm] ? ex[++ie] : ""; k = haskey[cm] ? rk[++ik] : ""
        qq = hasq[cm] ? q[++iq] : ""; code = hascode[cm] ? rc[++ic] : ""
        if (cm in name) print name[cm] " " e " " k
        if (showq[cm]) print "QUEUE " cm " " qq
        if (cm == "10.50" || cm == "20.40" || cm == "60.50") print "CLOSE " cm " " code } }' | LC_ALL=C sort
}
kd_amqp() { # ndjson on stdin
  jq -r 'select(.amqp) | . as $r | "\(.amqp_class_id).\(.amqp_method_id)" as $cm |
    "M \($cm)", (select(.amqp_reply_method_id) | "M \(.amqp_class_id).\(.amqp_reply_method_id)"),
    (if $cm == "60.40" then "PUB" elif $cm == "60.60" then "DELIVER"
     elif $cm == "60.70" and .amqp_reply_method_id == 71 then "GETOK" else empty end | "\(.) \($r.amqp_exchange // "") \($r.amqp_routing_key // "")"),
    (select($cm | IN("50.10", "50.20", "50.40", "60.20", "60.70")) | "QUEUE \($cm) \(.amqp_queue // "")"),
    (select($cm | IN("10.50", "20.40", "60.50")) | "CLOSE \($cm) \(.amqp_reply_code // "")"),
    (select($cm == "60.50") | "RETURN \(.amqp_exchange // "") \(.amqp_routing_key // "")")' | LC_ALL=C sort
}

# HTTP/2 and gRPC (h2c): per stream "REQ <stream> <method> <path>", "RESP <stream> <status>"
# (1xx left out), "GRPC <stream> <grpc-status>" where the header was sent, every header field
# as decoded (HPACK) "H <stream> <req|resp|trl> <name>: <value>" (trl: a server header block after
# the first), and for gRPC messages "MSG <client port> <stream> <req|resp> <count> <first length>
# <compressed>". tshark lists a packet's frames in order; the gRPC messages of a packet go to the
# stream of its DATA frames (one stream per packet in these sessions: a packet carrying DATA of
# two streams prints AMBIGUOUS and fails the test).
tshark_h2() { # capture port
  tshark -n -r "$1" -d "tcp.port==$2,http2" -Y http2 -T fields -E occurrence=a -E aggregator=$'\x1f' \
    -e tcp.srcport -e http2.type -e http2.streamid -e http2.header.count -e http2.header.name \
    -e http2.header.value -e grpc.message_length -e grpc.compressed_flag -e tcp.dstport 2>/dev/null |
    gawk -F'\t' -v port="$2" '
    { nt = split($2, ty, "\x1f"); split($3, sid, "\x1f"); split($4, hc, "\x1f")
      split($5, hn, "\x1f"); split($6, hv, "\x1f"); b = 0; off = 0; ds = ""; k = 0
      for (i = 1; i <= nt; i++) {
        if (ty[i] == 1) { b++; delete h                  # one header block per HEADERS frame
          side = ($1 == port) ? (seenresp[$9, sid[i]]++ ? "trl" : "resp") : "req"
          for (j = off + 1; j <= off + hc[b]; j++) { h[hn[j]] = hv[j]; print "H " sid[i] " " side " " hn[j] ": " hv[j] }
          off += hc[b]
          if (":method" in h) print "REQ " sid[i] " " h[":method"] " " h[":path"]
          if (":status" in h && h[":status"] !~ /^1/) print "RESP " sid[i] " " h[":status"]
          if ("grpc-status" in h) print "GRPC " sid[i] " " h["grpc-status"] }
        if (ty[i] == 0 && index(ds " ", " " sid[i] " ") == 0) { ds = ds " " sid[i]; k++ } }
      nl = split($7, ml, "\x1f"); split($8, cf, "\x1f")
      if (nl > 0) { if (k != 1) { print "AMBIGUOUS"; next }
        s = (($1 == port) ? $9 : $1) " " substr(ds, 2); d = ($1 == port) ? "resp" : "req"
        for (i = 1; i <= nl; i++) if (cnt[s " " d]++ == 0) first[s " " d] = ml[i] " " (cf[i] == "1" || cf[i] == "True") } }
    END { for (key in cnt) print "MSG " key " " cnt[key] " " first[key] }' | LC_ALL=C sort
}
kd_h2() { # ndjson on stdin
  jq -r 'select(.http_version == "2") | .http2_stream_id as $s |
    (select(.method) | "REQ \($s) \(.method) \(.request.headers[":path"] // .path)"),
    (select((.status_code // 0) >= 200) | "RESP \($s) \(.status_code)"),
    ((.response.headers["grpc-status"] // empty), (.response.trailers["grpc-status"] // empty) | "GRPC \($s) \(.)"),
    (.request.headers // {} | to_entries[] | "H \($s) req \(.key): \(.value)"),
    (.response.headers // {} | to_entries[] | "H \($s) resp \(.key): \(.value)"),
    (.response.trailers // {} | to_entries[] | "H \($s) trl \(.key): \(.value)"),
    (select((.grpc_request_messages // 0) > 0) | "MSG \(.src.port) \($s) req \(.grpc_request_messages) \(.grpc_request_message.size) \(if .grpc_request_message.compressed then 1 else 0 end)"),
    (select((.grpc_response_messages // 0) > 0) | "MSG \(.src.port) \($s) resp \(.grpc_response_messages) \(.grpc_response_message.size) \(if .grpc_response_message.compressed then 1 else 0 end)")' |
    LC_ALL=C sort
}
