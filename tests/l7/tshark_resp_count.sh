#!/usr/bin/env bash
# Oracle for Redis: counts the top-level RESP values tshark decodes in each direction.
# Usage: tshark_resp_count.sh CAPTURE SERVER_PORT [DECODE_AS]  ->  "<requests> <replies>"
# A value is a line indented by exactly four spaces under "REdis Serialization Protocol" in
# tshark -V; "[continuation]" segments of a reassembled value carry no such line.
f=$1 port=$2 da=${3:-}
tshark -r "$f" ${da:+-d "$da"} -o tcp.desegment_tcp_streams:TRUE -V -Y resp 2>/dev/null | awk -v port="$port" '
  /^Transmission Control Protocol, Src Port: / { split($0, a, /Src Port: |, Dst Port: |, Seq/); sp = a[2] + 0 }
  /^[^ ]/ { inresp = ($0 ~ /^REdis Serialization Protocol/) ; next }
  inresp && /^    [^ ]/ { if (sp == port) rep++; else req++ }
  END { printf "%d %d\n", req, rep }'
