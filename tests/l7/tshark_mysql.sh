#!/usr/bin/env bash
# Oracle for MySQL: what tshark decodes, one line per item, sorted: "QUERY <text>" per
# COM_QUERY / COM_STMT_PREPARE (newlines as \n; non-ASCII dropped; first 200 bytes),
# "ERR <code>" per ERR packet.  Usage: tshark_mysql.sh CAPTURE [DECODE_AS]
f=$1 da=${2:-}
us=$'\x1f'
tshark -r "$f" ${da:+-d "$da"} -Y mysql -T fields -E occurrence=a -E aggregator="$us" \
  -e mysql.query -e mysql.error_code 2>/dev/null | awk -F'\t' -v us="$us" '
  { n = split($1, q, us); for (i = 1; i <= n; i++) if (q[i] != "") print "QUERY " q[i];
    n = split($2, e, us); for (i = 1; i <= n; i++) if (e[i] != "") print "ERR " e[i] }' |
  LC_ALL=C tr -d '\200-\377' | cut -c1-200 | LC_ALL=C sort
