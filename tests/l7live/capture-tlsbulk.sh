#!/usr/bin/env bash
# capture-tlsbulk.sh OUTDIR -> OUTDIR/tlsbulk.pcap + OUTDIR/tlsbulk.keys: bulk HTTPS for bench/tls.sh.
# In a network namespace: curl (OpenSSL) fetches a 1 MiB body KF_TLSBULK_N times (default 8) per
# connection from tests/l7live/https_server.py over TLS 1.3 (each of its three suites) and TLS 1.2
# (AES-128-GCM, ChaCha20-Poly1305, AES-128-CBC-SHA256), and from nghttpd over HTTP/2 (TLS 1.3);
# SSLKEYLOGFILE is the key log.
L7_PROTO=tlsbulk
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
N=${KF_TLSBULK_N:-8}
for t in curl openssl python3 nghttpd; do command -v $t >/dev/null || l7_die "$t not installed"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kf.test \
  -keyout "$L7_TMP/key.pem" -out "$L7_TMP/cert.pem" 2>/dev/null
KEYS=$L7_OUT/tlsbulk.keys
: >"$KEYS"
mkdir -p "$L7_TMP/htdocs" && head -c 1048576 /dev/urandom >"$L7_TMP/htdocs/big"
l7_bg python3 "$HERE/https_server.py" "$L7_IP" 8443 "$L7_TMP/cert.pem" "$L7_TMP/key.pem"
l7_bg nghttpd -a "$L7_IP" 9443 "$L7_TMP/key.pem" "$L7_TMP/cert.pem" -d "$L7_TMP/htdocs"
l7_wait_port 8443
l7_wait_port 9443
l7_capture_start tcp
bulk() { # port path curl-options...
  local port=$1 path=$2 urls=() i; shift 2
  for ((i = 0; i < N; i++)); do urls+=("https://kf.test:$port/$path/big$i" -o /dev/null); done
  l7_run env SSLKEYLOGFILE="$KEYS" curl -sk --max-time 60 --resolve "kf.test:$port:$L7_IP" "$@" "${urls[@]}" \
    || l7_die "curl $path failed"
}
bulk 8443 t13-aes128gcm --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256
bulk 8443 t13-aes256gcm --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384
bulk 8443 t13-chacha20 --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256
bulk 8443 t12-aes128gcm --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
bulk 8443 t12-chacha20 --tls-max 1.2 --ciphers ECDHE-ECDSA-CHACHA20-POLY1305
bulk 8443 t12-cbc-sha256 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA256
# nghttpd serves one file: the same path N times on one HTTP/2 connection
urls=(); for ((i = 0; i < N; i++)); do urls+=("https://kf.test:9443/big" -o /dev/null); done
l7_run env SSLKEYLOGFILE="$KEYS" curl -sk --http2 --max-time 60 --resolve "kf.test:9443:$L7_IP" "${urls[@]}" \
  || l7_die "curl --http2 failed"
l7_capture_stop
