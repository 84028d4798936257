#!/usr/bin/env bash
# capture-grpctls.sh OUTDIR -> OUTDIR/grpctls.pcap (tcpdump: the ciphertext), OUTDIR/grpctls.keys
# (curl's NSS key log), OUTDIR/store (`ksnap capture --tls` of the same traffic: the ciphertext on
# lo and curl's plaintext on its ebpf_tls interface), OUTDIR/ks.err (its -v log).
# gRPC over TLS in a network namespace: curl --http2 (OpenSSL, a gRPC client by hand: content-type
# application/grpc, te: trailers, one length-prefixed protobuf message) to a real gRPC server
# (tests/l7live/grpc_tls_server.py, python3-grpcio) — unary /kf.Shop/GetItem (grpc-status 0),
# /kf.Shop/Missing (5, NOT_FOUND), /kf.Shop/Nope (12, UNIMPLEMENTED, from gRPC itself).
# The server's own TLS (gRPC's, through memory BIOs) gives ksnap no socket: the plaintext seen is
# curl's. Env: KF_BIN (ksnap).
L7_PROTO=grpctls
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3            # Debian's, with python3-grpcio (not a pyenv one)
for t in curl openssl; do command -v $t >/dev/null || l7_die "$t not installed"; done
$PY -c 'import grpc' 2>/dev/null || l7_die "python3-grpcio not installed"
[ -x "${KF_BIN:-}/ksnap" ] || l7_die "KF_BIN/ksnap not found"
PORT=50443

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kf.test \
  -keyout "$L7_TMP/key.pem" -out "$L7_TMP/cert.pem" 2>/dev/null
KEYS=$L7_OUT/grpctls.keys
: >"$KEYS"

STORE=$L7_OUT/store
ip netns exec "$L7_NS" "$KF_BIN/ksnap" capture --dir "$STORE" --node n1 -i lo --tls -v \
  -f "host $L7_IP" --segment-time 1h >/dev/null 2>"$L7_OUT/ks.err" 3>&- &
KS=$!
L7_PIDS+=("$KS")
for _ in $(seq 100); do grep -q -- '--tls: uprobes on\|--tls: .*capturing without' "$L7_OUT/ks.err" 2>/dev/null && break; sleep 0.1; done
grep -q -- '--tls: uprobes on' "$L7_OUT/ks.err" || l7_die "ksnap --tls did not attach: $(cat "$L7_OUT/ks.err")"

l7_bg $PY "$HERE/grpc_tls_server.py" "$L7_IP" $PORT "$L7_TMP/cert.pem" "$L7_TMP/key.pem"
l7_wait_port $PORT
l7_capture_start tcp port $PORT

# the request message: field 1 (string) "id-7", length-prefixed (uncompressed flag, 4-byte length)
printf '\0\0\0\0\6\012\004id-7' >"$L7_TMP/req.bin"
for m in GetItem Missing Nope; do
  l7_run env SSLKEYLOGFILE="$KEYS" curl -sk --http2 --max-time 10 --resolve "kf.test:$PORT:$L7_IP" \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @"$L7_TMP/req.bin" \
    -D "$L7_OUT/$m.head" -o /dev/null "https://kf.test:$PORT/kf.Shop/$m" || rc=$?
  # an unknown method: gRPC answers trailers-only at once, often with a RST_STREAM before it has
  # read the request's end (then the request's message may never be sent), which curl calls a
  # framing error (92)
  [ "${rc:-0}" -eq 0 ] || { [ "$m" = Nope ] && [ "$rc" -eq 92 ]; } || l7_die "curl $m failed ($rc)"
  rc=0
done
# (Nope's answer curl may drop with that error: the oracle, tshark, says what it was)
for want in GetItem:0 Missing:5; do
  grep -q "^grpc-status: ${want#*:}" "$L7_OUT/${want%%:*}.head" || l7_die "${want%%:*}: no grpc-status ${want#*:}"
done
l7_capture_stop
kill -TERM "$KS"
for _ in $(seq 100); do kill -0 "$KS" 2>/dev/null || break; sleep 0.1; done   # at most 10 s
kill -0 "$KS" 2>/dev/null && l7_die "ksnap capture --tls did not stop within 10 s of SIGTERM"
wait "$KS" || l7_die "ksnap capture exited $?: $(cat "$L7_OUT/ks.err")"
[ -s "$KEYS" ] || l7_die "no key log written"
