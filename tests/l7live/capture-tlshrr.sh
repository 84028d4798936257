#!/usr/bin/env bash
# capture-tlshrr.sh OUTDIR -> OUTDIR/tlshrr.pcap + OUTDIR/tlshrr.keys (s_client's NSS key log).
# A TLS 1.3 HelloRetryRequest: openssl s_server accepts only the P-256 group, openssl s_client
# offers X25519 then P-256 with a key share for X25519 only, so the server asks for a second
# ClientHello; both sides use middlebox-compatibility mode (ChangeCipherSpec after the
# HelloRetryRequest and before the second ClientHello, RFC 8446 D.4). Then one HTTP/1.0 GET
# answered by s_server -www. tests/l7/captures/tls13_hrr.pcapng is this capture with the key log
# injected (editcap --inject-secrets).
L7_PROTO=tlshrr
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=8443
for t in openssl tcpdump; do command -v $t >/dev/null || l7_die "$t not installed"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=kf.test \
  -keyout "$L7_TMP/key.pem" -out "$L7_TMP/cert.pem" 2>/dev/null
KEYS=$L7_OUT/tlshrr.keys
: >"$KEYS"
l7_bg openssl s_server -accept "$L7_IP:$PORT" -cert "$L7_TMP/cert.pem" -key "$L7_TMP/key.pem" \
  -groups P-256 -alpn http/1.1 -www
l7_wait_port $PORT
l7_capture_start tcp port $PORT
# one write (bash's printf writes line by line; s_server -www answers the request line alone)
env printf 'GET /hrr HTTP/1.0\r\nHost: hrr.kf.test\r\n\r\n' |
  l7_run openssl s_client -connect "$L7_IP:$PORT" -servername hrr.kf.test -alpn http/1.1 -tls1_3 \
    -groups X25519:P-256 -keylogfile "$KEYS" -quiet >"$L7_OUT/s_client.out" 2>"$L7_OUT/s_client.err" ||
  l7_die "s_client failed: $(head -c 300 "$L7_OUT/s_client.err")"
l7_capture_stop
grep -q 'HTTP/1.0 200' "$L7_OUT/s_client.out" || l7_die "no answer to the GET: $(head -c 300 "$L7_OUT/s_client.out")"
[ -s "$KEYS" ] || l7_die "no key log written"
