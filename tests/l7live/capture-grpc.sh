#!/usr/bin/env bash
# A gRPC server and client on @grpc/grpc-js (npm, installed into tests/l7live/node_modules on
# first use) over h2c: unary OK, unary NOT_FOUND, a server stream.
# Usage: capture-grpc.sh OUTDIR -> OUTDIR/grpc.pcap (+ OUTDIR/client.log: "<method> <status>")
L7_PROTO=grpc
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=50051
HERE=$(cd "$(dirname "$0")" && pwd)
NODE=/usr/bin/node
[ -x $NODE ] || l7_die "node not found (Debian package nodejs)"
if [ ! -d "$HERE/node_modules/@grpc/grpc-js" ] || [ ! -d "$HERE/node_modules/@grpc/proto-loader" ]; then
  (cd "$HERE" && npm install --no-audit --no-fund --omit=dev >"$L7_TMP/npm.log" 2>&1) ||
    l7_die "npm install of @grpc/grpc-js failed: $(tail -3 "$L7_TMP/npm.log")"
fi
l7_bg $NODE "$HERE/grpc/live.js" server "$L7_IP:$PORT"
l7_wait_port $PORT 30
l7_capture_start tcp port $PORT
l7_run $NODE "$HERE/grpc/live.js" client "$L7_IP:$PORT" >"$L7_OUT/client.log" 2>&1 ||
  l7_die "client failed: $(cat "$L7_OUT/client.log")"
l7_capture_stop
