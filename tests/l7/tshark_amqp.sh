#!/usr/bin/env bash
# Oracle for AMQP 0-9-1: per method frame tshark decodes, "M <class> <method>", and per
# basic.publish "PUB <exchange> <routing key>"; sorted.  Usage: tshark_amqp.sh CAPTURE [DECODE_AS]
f=$1 da=${2:-}
tshark -r "$f" ${da:+-d "$da"} -Y amqp -T fields -E occurrence=a -E aggregator='|' \
  -e amqp.method.class -e amqp.method.method -e amqp.method.arguments.exchange \
  -e amqp.method.arguments.routing_key 2>/dev/null | awk -F'\t' '
  { n = split($1, c, "|"); split($2, m, "|"); split($3, e, "|"); split($4, r, "|"); pe = 0
    for (i = 1; i <= n; i++) if (c[i] != "") { print "M " c[i] " " m[i]
      if (c[i] == 60 && m[i] == 40) { pe++; print "PUB " e[pe] " " r[pe] }
      else if (c[i] == 60 && (m[i] == 60 || m[i] == 50 || m[i] == 71)) pe++ } }' | LC_ALL=C sort
