#!/usr/bin/env bash
# capture-tlsebpf.sh OUTDIR -> OUTDIR/tlsebpf.pcap (tcpdump: the ciphertext), OUTDIR/tlsebpf.keys
# (the clients' NSS key log), OUTDIR/store (`ksnap capture --tls` of the same traffic: the
# ciphertext on lo and OpenSSL's plaintext on its ebpf_tls interface), OUTDIR/ks.err (its -v log).
# HTTPS in a network namespace, every client and server using the system's libssl.so.3: curl to
# tests/l7live/https_server.py (HTTP/1.1 keep-alive) with TLS 1.3 and TLS 1.2 (AES-GCM and
# ChaCha20), curl to `openssl s_server -www` (HTTP/1.0, the end of the response is the end of the
# connection) and curl --http2 to nghttpd. Every case sends GET /<case>/a and GET /<case>/missing,
# the HTTP/1.1 ones also POST /<case>/created.
# ksnap's uprobes see every process on the machine that uses libssl; -f "host L7_IP" keeps this
# namespace's connections only (the filter applies to the synthetic segments too).
# Env: KF_BIN (ksnap).
L7_PROTO=tlsebpf
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
for t in curl openssl python3 nghttpd; do command -v $t >/dev/null || l7_die "$t not installed"; done
[ -x "${KF_BIN:-}/ksnap" ] || l7_die "KF_BIN/ksnap not found"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kf.test \
  -keyout "$L7_TMP/key.pem" -out "$L7_TMP/cert.pem" 2>/dev/null
KEYS=$L7_OUT/tlsebpf.keys
: >"$KEYS"
mkdir -p "$L7_TMP/htdocs/h2" && echo hello >"$L7_TMP/htdocs/h2/a"

# ksnap first, so that its uprobes are in place before any server maps libssl… which does not
# matter (uprobes on the library file cover processes already running), but the store then
# holds every packet of every connection
STORE=$L7_OUT/store
ip netns exec "$L7_NS" "$KF_BIN/ksnap" capture --dir "$STORE" --node n1 -i lo --tls -v \
  -f "host $L7_IP" --segment-time 1h >/dev/null 2>"$L7_OUT/ks.err" 3>&- &
KS=$!
for _ in $(seq 100); do grep -q -- '--tls: uprobes on\|--tls: .*capturing without' "$L7_OUT/ks.err" 2>/dev/null && break; sleep 0.1; done
grep -q -- '--tls: uprobes on' "$L7_OUT/ks.err" || { kill "$KS"; l7_die "ksnap --tls did not attach: $(cat "$L7_OUT/ks.err")"; }

l7_bg python3 "$HERE/https_server.py" "$L7_IP" 8443 "$L7_TMP/cert.pem" "$L7_TMP/key.pem"
l7_bg openssl s_server -accept "$L7_IP:4433" -cert "$L7_TMP/cert.pem" -key "$L7_TMP/key.pem" -www -quiet
l7_bg nghttpd -a "$L7_IP" 9443 "$L7_TMP/key.pem" "$L7_TMP/cert.pem" -d "$L7_TMP/htdocs"
l7_wait_port 8443
l7_wait_port 4433
l7_wait_port 9443
l7_capture_start tcp

https_case() { # case curl-options...
  local c=$1; shift
  local o=(-sk --max-time 10 --resolve "kf.test:8443:$L7_IP" "$@")
  l7_run env SSLKEYLOGFILE="$KEYS" curl "${o[@]}" "https://kf.test:8443/$c/a" -o /dev/null \
    "https://kf.test:8443/$c/missing" -o /dev/null \
    --next "${o[@]}" -d x=1 "https://kf.test:8443/$c/created" -o /dev/null || l7_die "curl $c failed"
}
https_case t13 --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256
https_case t13-chacha --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256
https_case t12 --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES256-GCM-SHA384
https_case t12-chacha --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-CHACHA20-POLY1305
for p in www/a www/missing; do
  l7_run env SSLKEYLOGFILE="$KEYS" curl -sk --max-time 10 --resolve "kf.test:4433:$L7_IP" \
    "https://kf.test:4433/$p" -o /dev/null || l7_die "curl s_server failed"
done
l7_run env SSLKEYLOGFILE="$KEYS" curl -sk --http2 --max-time 10 --resolve "kf.test:9443:$L7_IP" \
  "https://kf.test:9443/h2/a" -o /dev/null "https://kf.test:9443/h2/missing" -o /dev/null \
  || l7_die "curl --http2 failed"
l7_capture_stop
kill -TERM "$KS"
for _ in $(seq 100); do kill -0 "$KS" 2>/dev/null || break; sleep 0.1; done   # at most 10 s
kill -0 "$KS" 2>/dev/null && { kill -KILL "$KS"; l7_die "ksnap capture --tls did not stop within 10 s of SIGTERM"; }
wait "$KS" || l7_die "ksnap capture exited $?: $(cat "$L7_OUT/ks.err")"
[ -s "$KEYS" ] || l7_die "no key log written"
