#!/usr/bin/env bash
# redis-server and redis-cli in a namespace of their own: SET/GET/INCR/HSET, a pipeline, an
# error reply.  Usage: capture-redis.sh OUTDIR -> OUTDIR/redis.pcap
L7_PROTO=redis
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=6379
l7_bg redis-server --port $PORT --bind "$L7_IP" "$L7_IP6" --protected-mode no --save '' --appendonly no --daemonize no --dir "$L7_TMP"
l7_wait_port $PORT
l7_capture_start tcp port $PORT
cli() { l7_run redis-cli -h "$L7_IP" -p $PORT "$@"; }
cli SET user:1 alice >/dev/null
cli GET user:1 >/dev/null
cli INCR counter >/dev/null
cli INCR counter >/dev/null
cli HSET profile:1 name alice age 30 >/dev/null
cli HGET profile:1 name >/dev/null
cli INCR user:1 >/dev/null || true                      # WRONGTYPE/not an integer: error reply
cli NOSUCHCMD x >/dev/null || true                      # unknown command: error reply
head -c 300000 /dev/zero | tr '\0' v | cli -x SET blob:1 >/dev/null   # a value over many segments
cli GET blob:1 >/dev/null
l7_run redis-cli -h "$L7_IP6" -p $PORT SET v6:key over-ipv6 >/dev/null   # the same over IPv6
l7_run redis-cli -h "$L7_IP6" -p $PORT GET v6:key >/dev/null
resp() { local a; printf '*%d\r\n' $#; for a; do printf '$%d\r\n%s\r\n' ${#a} "$a"; done; }
{ resp SET p:1 a; resp SET p:2 b; resp GET p:1; resp INCR p:n; resp LPUSH p:1 x; resp DEL p:1 p:2; } |
  cli --pipe >"$L7_OUT/pipe.log" 2>&1 || true            # pipelined in one write; one error among them
l7_capture_stop
