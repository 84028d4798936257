#!/usr/bin/env bash
# Oracle for Kafka: what tshark decodes, sorted: "REQ <api_key> <version> <correlation id>" per
# request, "RESP <correlation id>" per response, "TOPIC <name>" per distinct topic named in a
# request (a request naming a topic twice lists it once).  Usage: tshark_kafka.sh CAPTURE [DECODE_AS]
f=$1 da=${2:-}
tshark -r "$f" ${da:+-d "$da"} -Y kafka -T fields -E occurrence=a -E aggregator='|' \
  -e kafka.api_key -e kafka.api_version -e kafka.correlation_id -e kafka.topic_name 2>/dev/null | awk -F'\t' '
  { n = split($3, c, "|"); split($1, k, "|"); split($2, v, "|")
    for (i = 1; i <= n; i++) {
      if (v[i] != "") { print "REQ " k[i] " " v[i] " " c[i]
        m = split($4, t, "|"); delete seen
        for (j = 1; j <= m; j++) if (t[j] != "" && !seen[t[j]]++) print "TOPIC " t[j] }
      else print "RESP " c[i] } }' | LC_ALL=C sort
