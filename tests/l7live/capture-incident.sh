#!/usr/bin/env bash
# A small incident on one namespace loopback, for `kstat report`'s live test: a client (.1) calls
# a frontend (.2, found through DNS) whose /api/orders/N waits on a slow backend (.3, 250 ms per
# answer, a 500 for order 5, passed on as 502) and whose /api/pay answers 503; a gRPC service (.4) answers NOT_FOUND to one call in
# four; the DNS server (.5, dnsmasq) answers NXDOMAIN for names it does not know.
# Usage: capture-incident.sh OUTDIR -> OUTDIR/incident.pcap (+ OUTDIR/client.log)
L7_PROTO=incident
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
NODE=/usr/bin/node
for t in python3 curl dig dnsmasq $NODE; do command -v "$t" >/dev/null || l7_die "$t not found"; done
if [ ! -d "$HERE/node_modules/@grpc/grpc-js" ] || [ ! -d "$HERE/node_modules/@grpc/proto-loader" ]; then
  (cd "$HERE" && npm install --no-audit --no-fund --omit=dev >"$L7_TMP/npm.log" 2>&1) ||
    l7_die "npm install of @grpc/grpc-js failed: $(tail -3 "$L7_TMP/npm.log")"
fi
base=${L7_IP%.1}
CLIENT=$L7_IP FRONT=$base.2 BACK=$base.3 GRPC=$base.4 DNS=$base.5
for a in $FRONT $BACK $GRPC $DNS; do ip -n "$L7_NS" addr add "$a/32" dev lo; done

l7_bg dnsmasq --no-daemon --no-resolv --no-hosts --port 53 --listen-address "$DNS" --bind-interfaces \
  --local=/kf.test/ --address=/frontend.kf.test/"$FRONT" --address=/orders.kf.test/"$GRPC" \
  --pid-file="$L7_TMP/dnsmasq.pid" --user=root
l7_bg python3 "$HERE/incident/servers.py" backend "$BACK" 8081
l7_bg python3 "$HERE/incident/servers.py" frontend "$FRONT" 8080 "$BACK"
l7_bg $NODE "$HERE/grpc/live.js" server "$GRPC:50051"
L7_IP=$BACK l7_wait_port 8081 20
L7_IP=$FRONT l7_wait_port 8080 20
L7_IP=$GRPC l7_wait_port 50051 30
for _ in $(seq 50); do l7_run dig +tries=1 +time=1 @"$DNS" frontend.kf.test >/dev/null 2>&1 && break; sleep 0.1; done

l7_capture_start tcp or udp
{
  d() { l7_run dig +tries=1 +time=2 -b "$CLIENT" @"$DNS" "$@" +short; }
  d frontend.kf.test A; d orders.kf.test A
  d payments.kf.test A; d payments.kf.test A; d inventory.kf.test AAAA     # NXDOMAIN x3
  c() { l7_run curl -s -o /dev/null -w '%{http_code} %{url_effective}\n' --interface "$CLIENT" --max-time 5 "$@"; }
  for i in 1 2 3 4 5 6; do c "http://$FRONT:8080/api/orders/$i"; done            # slow (backend)
  for i in 1 2 3 4; do c "http://$FRONT:8080/api/pay?order=$i"; done             # 503
  c "http://$FRONT:8080/health"; c "http://$FRONT:8080/health"
  l7_run $NODE "$HERE/grpc/live.js" client "$GRPC:50051"                       # one NOT_FOUND
} >"$L7_OUT/client.log" 2>&1 || l7_die "client failed: $(tail -5 "$L7_OUT/client.log")"
l7_capture_stop
