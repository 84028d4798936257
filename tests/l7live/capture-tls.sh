#!/usr/bin/env bash
# openssl s_server and s_client: TLS 1.3, 1.2 and (deprecated) 1.1 handshakes with SNI and ALPN.
# Usage: capture-tls.sh OUTDIR -> OUTDIR/tls.pcap
L7_PROTO=tls
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=8443
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=kf.test \
  -keyout "$L7_TMP/key.pem" -out "$L7_TMP/cert.pem" 2>/dev/null
l7_bg openssl s_server -accept "$L7_IP:$PORT" -cert "$L7_TMP/cert.pem" -key "$L7_TMP/key.pem" \
  -alpn h2,http/1.1 -www -cipher 'DEFAULT:@SECLEVEL=0'
l7_wait_port $PORT
l7_capture_start tcp port $PORT
hello() { echo | l7_run openssl s_client -connect "$L7_IP:$PORT" "$@" >>"$L7_OUT/s_client.log" 2>&1 || true; }
hello -servername api.kf.test -alpn h2 -tls1_3
hello -servername legacy.kf.test -alpn http/1.1,h2 -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384
hello -servername noalpn.kf.test -tls1_2
hello -servername any.kf.test -alpn http/1.1                             # offers 1.3 and 1.2
hello -servername old.kf.test -tls1_1 -cipher 'ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0'   # deprecated
l7_capture_stop
