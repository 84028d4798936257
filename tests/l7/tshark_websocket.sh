#!/usr/bin/env bash
# Oracle for WebSocket: per frame tshark decodes, "OP <opcode> <masked>" for a frame that starts
# a message or is a control frame, "CONT <masked>" for a continuation frame; sorted.
# Usage: tshark_websocket.sh CAPTURE [DECODE_AS]
f=$1 da=${2:-}
tshark -r "$f" ${da:+-d "$da"} -Y websocket -T fields -E occurrence=a -E aggregator='|' \
  -e websocket.opcode -e websocket.mask 2>/dev/null | awk -F'\t' '
  { n = split($1, o, "|"); split($2, m, "|")
    for (i = 1; i <= n; i++) { mk = (m[i] == "1" || m[i] == "True") ? 1 : 0
      if (o[i] == 0) print "CONT " mk; else print "OP " o[i] " " mk } }' | LC_ALL=C sort
