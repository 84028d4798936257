#!/usr/bin/env bash
# capture-tlsdec.sh OUTDIR -> OUTDIR/tlsdec.pcap + OUTDIR/tlsdec.keys (NSS key log written by the
# clients: curl's SSLKEYLOGFILE, openssl s_client -keylogfile).
# HTTPS in a network namespace: curl (OpenSSL) against tests/l7live/https_server.py (HTTP/1.1) with
# each TLS 1.3 suite and each TLS 1.2 AEAD and AES-CBC suite, one case per path prefix /<case>/;
# openssl s_client with encrypt-then-MAC off (/cbc-mte/) and with a TLS 1.3 key update in the
# middle of a keep-alive connection (/keyupdate/); curl --http2 against nghttpd (/h2/).
# Every case sends GET /<case>/a, GET /<case>/missing (404) and POST /<case>/created (201).
L7_PROTO=tlsdec
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
for t in curl openssl python3 nghttpd; do command -v $t >/dev/null || l7_die "$t not installed"; done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kf.test \
  -keyout "$L7_TMP/key.pem" -out "$L7_TMP/cert.pem" 2>/dev/null
KEYS=$L7_OUT/tlsdec.keys
: >"$KEYS"
mkdir -p "$L7_TMP/htdocs/h2" && echo hello >"$L7_TMP/htdocs/h2/a"

l7_bg python3 "$HERE/https_server.py" "$L7_IP" 8443 "$L7_TMP/cert.pem" "$L7_TMP/key.pem"
l7_bg nghttpd -a "$L7_IP" 9443 "$L7_TMP/key.pem" "$L7_TMP/cert.pem" -d "$L7_TMP/htdocs"
l7_wait_port 8443
l7_wait_port 9443
l7_capture_start tcp

# case, then curl's options for version and suite
https_case() {
  local c=$1; shift
  local o=(-sk --max-time 10 --resolve "kf.test:8443:$L7_IP" "$@")
  l7_run env SSLKEYLOGFILE="$KEYS" curl "${o[@]}" "https://kf.test:8443/$c/a" -o /dev/null \
    "https://kf.test:8443/$c/missing" -o /dev/null \
    --next "${o[@]}" -d x=1 "https://kf.test:8443/$c/created" -o /dev/null || l7_die "curl $c failed"
}
https_case t13-aes128gcm --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256
https_case t13-aes256gcm --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384
https_case t13-chacha20 --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256
https_case t12-aes128gcm --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
https_case t12-aes256gcm --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES256-GCM-SHA384
https_case t12-chacha20 --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-CHACHA20-POLY1305
https_case t12-cbc-sha --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA
https_case t12-cbc-sha256 --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA256
https_case t12-cbc-sha384 --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES256-SHA384

# openssl s_client: a request, then a command line of its own; waits for each answer
sclient() { # path-prefix command-letter-or-empty s_client-options...
  local c=$1 k=$2; shift 2
  local in="$L7_TMP/$c.in" out="$L7_TMP/$c.out"
  rm -f "$in"; mkfifo "$in"
  l7_run openssl s_client -connect "$L7_IP:8443" -servername kf.test -keylogfile "$KEYS" -quiet "$@" \
    <"$in" >"$out" 2>"$L7_TMP/$c.err" &
  local pid=$!
  exec 7>"$in"
  printf 'GET /%s/a HTTP/1.1\r\nHost: kf.test\r\n\r\n' "$c" >&7
  for _ in $(seq 100); do grep -q 'GET /'"$c"'/a' "$out" 2>/dev/null && break; sleep 0.05; done
  [ -n "$k" ] && printf '%s\n' "$k" >&7
  printf 'GET /%s/missing HTTP/1.1\r\nHost: kf.test\r\n\r\n' "$c" >&7
  for _ in $(seq 100); do grep -q 'GET /'"$c"'/missing' "$out" 2>/dev/null && break; sleep 0.05; done
  printf 'POST /%s/created HTTP/1.1\r\nHost: kf.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nx=1' "$c" >&7
  for _ in $(seq 100); do grep -q 'POST /'"$c"'/created' "$out" 2>/dev/null && break; sleep 0.05; done
  exec 7>&-
  wait "$pid" || true
  grep -q "POST /$c/created" "$out" || l7_die "s_client $c: no answer ($(head -c 300 "$L7_TMP/$c.err"))"
}
sclient cbc-mte "" -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256 -no_etm
# command letters (K: KeyUpdate) work only without -quiet and -ign_eof; stdin stays open until the end
sclient_k() {
  local c=keyupdate in="$L7_TMP/ku.in" out="$L7_TMP/ku.out"
  rm -f "$in"; mkfifo "$in"
  l7_run openssl s_client -connect "$L7_IP:8443" -servername kf.test -keylogfile "$KEYS" -tls1_3 \
    <"$in" >"$out" 2>"$L7_TMP/ku.err" &
  local pid=$!
  exec 7>"$in"
  printf 'GET /%s/a HTTP/1.1\r\nHost: kf.test\r\n\r\n' "$c" >&7
  for _ in $(seq 100); do grep -q 'GET /'"$c"'/a' "$out" 2>/dev/null && break; sleep 0.05; done
  printf 'K\n' >&7          # KeyUpdate(update_requested): both sides change keys
  for _ in $(seq 100); do grep -q KEYUPDATE "$L7_TMP/ku.err" 2>/dev/null && break; sleep 0.05; done
  printf 'GET /%s/missing HTTP/1.1\r\nHost: kf.test\r\n\r\n' "$c" >&7
  for _ in $(seq 100); do grep -q 'GET /'"$c"'/missing' "$out" 2>/dev/null && break; sleep 0.05; done
  printf 'K\n' >&7
  for _ in $(seq 100); do [ "$(grep -c KEYUPDATE "$L7_TMP/ku.err")" -ge 2 ] && break; sleep 0.05; done
  printf 'POST /%s/created HTTP/1.1\r\nHost: kf.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nx=1' "$c" >&7
  for _ in $(seq 100); do grep -q 'POST /'"$c"'/created' "$out" 2>/dev/null && break; sleep 0.05; done
  exec 7>&-
  wait "$pid" || true
  grep -q "POST /$c/created" "$out" || l7_die "s_client keyupdate: no answer ($(head -c 300 "$L7_TMP/ku.err"))"
  [ "$(grep -c KEYUPDATE "$L7_TMP/ku.err")" -ge 2 ] || l7_die "s_client keyupdate: no key update"
}
sclient_k

l7_run env SSLKEYLOGFILE="$KEYS" curl -sk --http2 --max-time 10 --resolve "kf.test:9443:$L7_IP" \
  "https://kf.test:9443/h2/a" -o /dev/null "https://kf.test:9443/h2/missing" -o /dev/null \
  || l7_die "curl --http2 failed"
l7_capture_stop
[ -s "$KEYS" ] || l7_die "no key log written"
