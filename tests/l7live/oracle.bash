# tshark's view and kdissect's view of a live capture, each as a sorted list of lines, so the two
# compare with diff (sourced by tests/bats/kdissect_live.bats). Every pair describes the same
# facts: one line per call or message, with its command/method/status/error/topic.
# tshark is the independent oracle; nothing here comes from kdissect's own test scripts.

# hex "414243" -> "ABC" (tshark prints RESP bulk strings as hex)
_unhex_awk='function unhex(h,   s, i) { s = ""; for (i = 1; i < length(h); i += 2) s = s sprintf("%c", strtonum("0x" substr(h, i, 2))); return s }'

# Redis: "REQ <VERB> <key>" per command array the client sent, "REPLY" per top-level value
# the server sent, "ERR <message>" per error reply. (The live session's replies are scalars,
# so every value tshark shows on the server side is top level.)
tshark_redis() { # capture port
  tshark -n -r "$1" -d "tcp.port==$2,resp" -Y resp -T fields -E occurrence=a -E aggregator=$'\x1f' \
    -e tcp.srcport -e resp.array.length -e resp.bulk_string.value -e resp.string -e resp.error \
    -e resp.integer 2>/dev/null | gawk -F'\t' -v port="$2" "$_unhex_awk"'
    function count(s,   a) { return s == "" ? 0 : split(s, a, "\x1f") }
    $1 == port { n = count($2) + count($3) + count($4) + count($5) + count($6)
                 for (i = 0; i < n; i++) print "REPLY"
                 m = split($5, e, "\x1f"); for (i = 1; i <= m; i++) print "ERR " e[i]; next }
    { na = split($2, len, "\x1f"); split($3, b, "\x1f"); k = 1
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
# version=<hex> suite=<hex>". The chosen ALPN is the ServerHello's; TLS 1.3 hides it in the
# encrypted extensions, where we (documented) show the first offered: so does this line.
tshark_tls() { # capture port
  tshark -n -r "$1" -d "tcp.port==$2,tls" -Y 'tls.handshake.type == 1 || tls.handshake.type == 2' \
    -T fields -E occurrence=a -E aggregator=, -e tcp.srcport -e tcp.dstport -e tls.handshake.type \
    -e tls.handshake.version -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str \
    -e tls.handshake.extensions.supported_version -e tls.handshake.ciphersuite 2>/dev/null | gawk -F'\t' -v port="$2" '
    $1 != port { sni[$1] = $5; off[$1] = $6; split($6, a, ","); first[$1] = a[1]; next }
    { c = $2; split($7, sv, ","); ver[c] = sv[1] != "" ? sv[1] : $4; split($8, s, ","); suite[c] = s[1]; alpn[c] = $6 }
    END { for (c in sni) printf "%s sni=%s offered=%s alpn=%s version=%s suite=%s\n", c, sni[c], off[c],
            alpn[c] != "" ? alpn[c] : first[c], ver[c], suite[c] }' | LC_ALL=C sort
}
kd_tls() { # ndjson on stdin
  jq -r 'select(.tlsx) | "\(.src.port) sni=\(.tlsx_sni // "") offered=\(.tlsx_alpn_offered // [] | join(","))" +
    " alpn=\(.tlsx_alpn // "") version=\(.tlsx_version) suite=\(.tlsx_cipher_suite)"' 2>/dev/null |
    gawk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(version|suite)=/) { split($i, kv, "="); if (kv[2] !~ /^0x/) $i = sprintf("%s=0x%04x", kv[1], kv[2]) } print }' |
    LC_ALL=C sort
}

# PostgreSQL: "SSLREQUEST" per SSLRequest, "STARTUP <user> <database>" per StartupMessage,
# "QUERY <text>" per simple Query, "TAG <tag>" per CommandComplete, "ERR <SQLSTATE>" per
# ErrorResponse.
tshark_postgresql() { # capture port
  tshark -n -r "$1" -d "tcp.port==$2,pgsql" -Y pgsql -T fields -E occurrence=a -E aggregator=$'\x1f' \
    -e pgsql.type -e pgsql.query -e pgsql.tag -e pgsql.code -e pgsql.parameter_name -e pgsql.parameter_value \
    2>/dev/null | gawk -F'\t' '
    { n = split($1, t, "\x1f"); for (i = 1; i <= n; i++) {
        if (t[i] == "SSL request") print "SSLREQUEST"
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
     elif .postgresql_message == "QUERY" then "QUERY \(.postgresql_query)" else "OTHER \(.postgresql_message)" end),
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
