#!/usr/bin/env bash
# Oracle for MongoDB: per message tshark decodes, sorted: "REQ <opcode> <request id> <what>"
# (what = the command, the first element of an OP_MSG document; the full collection name of an
# OP_QUERY) and "RESP <response to>".  Usage: tshark_mongodb.sh CAPTURE [DECODE_AS]
f=$1 da=${2:-}
tshark -r "$f" ${da:+-d "$da"} -Y mongo -T fields -E occurrence=f \
  -e mongo.opcode -e mongo.request_id -e mongo.response_to -e mongo.element.name \
  -e mongo.full_collection_name 2>/dev/null | while IFS=$'\t' read -r op id to name coll; do
    if [ "$((to))" -eq 0 ]; then
      if [ "$op" = 2004 ]; then echo "REQ $op $((id)) $coll"; else echo "REQ $op $((id)) $name"; fi
    else echo "RESP $((to))"; fi
  done | LC_ALL=C sort
