#!/usr/bin/env bash
# tls_hrr_check.sh KDISSECT CAPTURE: kdissect against tshark (the oracle) on a TLS 1.3 connection
# with a HelloRetryRequest in middlebox-compatibility mode (tests/l7live/capture-tlshrr.sh; the
# capture carries its key log as a Decryption Secrets Block). Prints what differs; exit 1 if any.
# Before the fix kdissect took the dummy ChangeCipherSpec for the start of encryption: one record
# (first ClientHello + HelloRetryRequest), the second ClientHello and the ServerHello unread.
set -u
kd=$1 f=$2
bad=0
check() { # what expected actual
  if [ "$2" != "$3" ]; then printf '%s differs:\n  tshark:   %s\n  kdissect: %s\n' "$1" "$2" "$3"; bad=1; fi
}
out=$("$kd" --no-conn "$f") || { echo "kdissect failed"; exit 1; }
hs=$(echo "$out" | jq -c 'select(.tlsx)')
t=(tshark -n -r "$f")
# one record per ClientHello: the JA3 and SNI of each, in order (frame of the ClientHello)
check "ClientHellos (frame ja3 sni)" \
  "$("${t[@]}" -Y 'tls.handshake.type == 1' -T fields -e frame.number -e tls.handshake.ja3 -e tls.handshake.extensions_server_name 2>/dev/null | tr '\t' ' ')" \
  "$(echo "$hs" | jq -r '"\(.capture.first_frame) \(.tlsx_ja3) \(.tlsx_sni)"')"
# each answered by its ServerHello: the HelloRetryRequest (its random is the RFC 8446 magic) first
magic=cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c
check "ServerHellos (frame ja3s suite hello_retry)" \
  "$("${t[@]}" -Y 'tls.handshake.type == 2' -T fields -e frame.number -e tls.handshake.ja3s -e tls.handshake.ciphersuite -e tls.handshake.random 2>/dev/null |
     while read -r fr ja3s suite rnd; do   # suite: 0x1302
       printf '%s %s %d %s\n' "$fr" "$ja3s" "$((suite))" "$([ "$rnd" = $magic ] && echo true || echo false)"; done)" \
  "$(echo "$hs" | jq -r '"\(.capture.last_frame) \(.tlsx_ja3s) \(.tlsx_cipher_suite) \(.tlsx_hello_retry // false)"')"
check "negotiated versions" "TLS 1.3 TLS 1.3" "$(echo "$hs" | jq -r .tlsx_version_name | tr '\n' ' ' | sed 's/ $//')"
# the plaintext after it (the keys of the second ClientHello's handshake): tshark's requests
check "decrypted requests (method uri)" \
  "$("${t[@]}" -Y http.request -T fields -e http.request.method -e http.request.uri 2>/dev/null | tr '\t' ' ')" \
  "$(echo "$out" | jq -r 'select(.tls and .http) | "\(.method) \(.url)"')"
exit $bad
