#!/usr/bin/env bash
# Oracle for PostgreSQL: what tshark decodes, one line per item, sorted:
# "QUERY <text>" per Query/Parse message (newlines as \n as tshark prints them; non-ASCII bytes
# dropped and cut at 200 bytes, since tshark shows UTF-8 as replacement characters),
# "TAG <CommandComplete tag>", "ERR <SQLSTATE>" (ErrorResponse classes only: notices and
# warnings, classes 00-02, are left out).
# Usage: tshark_pgsql.sh CAPTURE [DECODE_AS]
f=$1 da=${2:-}
us=$'\x1f'
tshark -r "$f" ${da:+-d "$da"} -Y pgsql -T fields -E occurrence=a -E aggregator="$us" \
  -e pgsql.query -e pgsql.tag -e pgsql.code 2>/dev/null | awk -F'\t' -v us="$us" '
  { n = split($1, q, us); for (i = 1; i <= n; i++) if (q[i] != "") print "QUERY " q[i];
    n = split($2, t, us); for (i = 1; i <= n; i++) if (t[i] != "") print "TAG " t[i];
    n = split($3, e, us); for (i = 1; i <= n; i++) if (e[i] != "" && e[i] !~ /^0[012]/) print "ERR " e[i] }' | LC_ALL=C tr -d '\200-\377' | cut -c1-200 | LC_ALL=C sort
