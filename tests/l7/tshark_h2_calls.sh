#!/usr/bin/env bash
# Oracle for HTTP/2 and gRPC: the requests and responses tshark decodes in a capture, one line
# each, sorted: "REQ <method> <path>", "RESP <status>", "GRPC <grpc-status>".
# Usage: tshark_h2_calls.sh CAPTURE [DECODE_AS]   (e.g. tcp.port==3000,http2)
f=$1 da=${2:-}
tshark -r "$f" ${da:+-d "$da"} -Y http2 -T fields -E occurrence=a -E aggregator='|' \
  -e http2.headers.method -e http2.headers.path -e http2.headers.status -e http2.header.name \
  -e http2.header.value 2>/dev/null | awk -F'\t' '
  { nm = split($1, m, "|"); split($2, p, "|");
    for (i = 1; i <= nm; i++) if (m[i] != "") print "REQ " m[i] " " p[i];
    ns = split($3, s, "|"); for (i = 1; i <= ns; i++) if (s[i] != "" && s[i] !~ /^1/) print "RESP " s[i];
    nh = split($4, hn, "|"); split($5, hv, "|");
    for (i = 1; i <= nh; i++) if (hn[i] == "grpc-status") print "GRPC " hv[i] }' | sort
