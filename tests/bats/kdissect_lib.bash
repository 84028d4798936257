# Helpers for the kdissect tests: tshark as an oracle for HTTP/1 and DNS counts.
# Each function prints a sorted "kind value" list, one per message, so two lists compare
# with diff. tshark's decode-as (-d) from SOURCES.tsv's fallback column is used when tshark
# sees nothing by default.

kd_decode_as() { # capture -> "-d tcp.port==P,http" (+ no desegmenting when that is what finds it)
  local rel=${1#"$KF_CORPUS"/}
  awk -F'\t' -v f="$rel" '$1==f && $14=="0" && $15 ~ /^decode-as/ {
      split($15, a, /[ :;]+/); d = "-d " a[2]
      if (a[3] == "0" && $15 ~ /no-desegment: [1-9]/) d = d " -o tcp.desegment_tcp_streams:FALSE"
      print d }' "$KF_CORPUS/SOURCES.tsv"
}
# tshark counts a message only once it is complete (when it desegments, the default)
kd_desegments() { case "$(kd_decode_as "$1")" in *desegment*) return 1;; esac; return 0; }

# HTTP: "req METHOD" per request, "resp CODE" per response
tshark_http() { # capture
  local d; d=$(kd_decode_as "$1")
  # shellcheck disable=SC2086
  tshark -n -r "$1" $d -Y 'http.request || http.response' -T fields -E occurrence=a -E aggregator='|' \
    -e http.request.method -e http.response.code 2>/dev/null |
    awk -F'\t' '{ n = split($1, m, "|"); for (i = 1; i <= n; i++) if (m[i] != "") print "req " m[i];
                  n = split($2, r, "|"); for (i = 1; i <= n; i++) if (r[i] != "") print "resp " r[i] }' | sort
}
kd_http() { # ndjson [complete-only]
  jq -r --arg c "${2:-}" 'select(.http == true and .protocol == "HTTP") |
    (if .method and ($c == "" or (.request.incomplete | not)) then "req " + .method else empty end),
    (if (.status_code // 0) > 0 and ($c == "" or (.response.incomplete | not)) then "resp " + (.status_code|tostring) else empty end),
    ((.informational // [])[] | "resp " + tostring)' "$1" | sort
}

# DNS messages: "q" per query, "r RCODE" per response (every message of a packet: TCP may
# carry several); names compared separately as a set (mDNS asks several per message).
tshark_dns() { # capture
  local d; d=$(kd_decode_as "$1")
  # shellcheck disable=SC2086
  # the full RCODE: the header's 4 bits and an EDNS OPT record's extended bits (RFC 6891 6.1.3),
  # when every message of the packet has its OPT (else the header's)
  tshark -n -r "$1" $d -Y 'dns || mdns' -T fields -E occurrence=a -E aggregator='|' -e dns.flags.response -e dns.flags.rcode \
      -e dns.resp.ext_rcode 2>/dev/null |
    awk -F'\t' 'function hex(s,  v, i) { s = tolower(s); sub(/^0x/, "", s); v = 0
                  for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
                { n = split($1, f, "|"); split($2, r, "|"); m = split($3, x, "|");
                  for (i = 1; i <= n; i++) if (f[i] == "0" || f[i] == "False") print "q";
                  else print "r " (m == n ? hex(x[i]) * 16 + r[i] : r[i]) }' | sort
}
kd_dns() { # ndjson
  jq -r 'select(.dns == true) | (if .dns_request then "q" else empty end), (if .dns_response then "r " + (.status_code|tostring) else empty end)' "$1" | sort
}
tshark_dns_names() { # capture
  local d; d=$(kd_decode_as "$1")
  # shellcheck disable=SC2086
  tshark -n -r "$1" $d -Y 'dns || mdns' -T fields -E occurrence=a -E aggregator='|' -e dns.qry.name 2>/dev/null |
    tr '|' '\n' | awk 'NF { if ($0 == "<Root>") print "."; else if ($0 !~ /^</) print }' | sort -u
}
kd_dns_names() { # ndjson
  jq -r 'select(.dns == true) | .dns_questions[]?' "$1" | sort -u
}

# tcp.analysis counts: "retrans N", "dupack N", "zerowin N", "rst N" (whole capture)
tshark_tcpan() { # capture
  local f
  for f in retransmission:tcp.analysis.retransmission fast:tcp.analysis.fast_retransmission \
           dupack:tcp.analysis.duplicate_ack zerowin:tcp.analysis.zero_window \
           lost:tcp.analysis.lost_segment ooo:tcp.analysis.out_of_order rst:tcp.flags.reset==1 \
           keepalive:tcp.analysis.keep_alive; do
    echo "${f%%:*} $(tshark -n -r "$1" -Y "${f#*:}" -T fields -e frame.number 2>/dev/null | wc -l)"
  done
}
kd_tcpan() { # ndjson
  jq -s -r '[.[] | select(.tcp_conn == true) | .tcp_metrics] |
    "retransmission \(map(.retransmissions) | add // 0)",
    "fast \(map(.fast_retransmissions) | add // 0)",
    "dupack \(map(.dup_acks) | add // 0)",
    "zerowin \(map(.zero_window_events) | add // 0)",
    "lost \(map(.missing_segments) | add // 0)",
    "ooo \(map(.out_of_order) | add // 0)",
    "rst \(map(.rst_count) | add // 0)",
    "keepalive \(map(.keepalive_count) | add // 0)"' "$1"
}
