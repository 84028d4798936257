#!/usr/bin/env bats
# kdissect decrypts TLS with logged secrets (issue 18): one live capture made in a network namespace
# by tests/l7live/capture-tlsdec.sh — curl (OpenSSL) to a Python HTTPS server with each TLS 1.3
# suite and each TLS 1.2 AES-GCM, ChaCha20-Poly1305 and AES-CBC (SHA, SHA256, SHA384; with and
# without encrypt-then-MAC) suite, an openssl s_client connection with two TLS 1.3 key updates,
# curl --http2 to nghttpd — with the clients' key log. The oracle is tshark with that key log:
# its HTTP and HTTP/2 requests (method, path) and responses (status) must equal kdissect's,
# (a) with --tls-keylog and (b) with the key log injected into the capture as a Decryption Secrets
# Block (editcap --inject-secrets). Debian: curl openssl python3 nghttp2-server tcpdump tshark.
load helpers

setup_file() {
  export TD=$BATS_FILE_TMPDIR/tlsdec
  [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1 || return 0
  for t in curl openssl python3 nghttpd tcpdump tshark editcap; do command -v $t >/dev/null || return 0; done
  "$KF_ROOT/tests/l7live/capture-tlsdec.sh" "$TD" >"$BATS_FILE_TMPDIR/capture.log" 2>&1 || true
  [ -s "$TD/tlsdec.pcap" ] && editcap --inject-secrets "tls,$TD/tlsdec.keys" "$TD/tlsdec.pcap" "$TD/dsb.pcapng" 2>/dev/null || true
}

setup() {
  require_live
  for t in curl openssl python3 nghttpd tcpdump tshark editcap; do command -v $t >/dev/null || skip "$t not installed"; done
  [ -s "$TD/tlsdec.pcap" ] || fail "capture failed: $(cat "$BATS_FILE_TMPDIR/capture.log")"
  W=$BATS_TEST_TMPDIR
}
teardown() { records_checked; }   # kdissect_kept's records: issue 13's registry check

# tshark with the key log: "METHOD PATH STATUS" per HTTP/1 and HTTP/2 call, sorted
oracle() { tshark_http_calls "$TD/tlsdec.pcap" -o "tls.keylog_file:$TD/tlsdec.keys"; }

# ClientHellos in the capture (tshark): kdissect writes one handshake record for each
hellos() { tshark -n -r "$TD/tlsdec.pcap" -Y 'tls.handshake.type == 1' 2>/dev/null | wc -l; }

# kdissect's records made of plaintext: "METHOD PATH STATUS", sorted
ours() { jq -r 'select(.tls) | "\(.method) \(.url // .path) \(.status_code)"' | sort; }

@test "(a) --tls-keylog: every HTTP and HTTP/2 call tshark decrypts, same method, path, status" {
  oracle >"$W/oracle"
  cat "$W/oracle" >&3
  [ "$(wc -l <"$W/oracle")" -eq 35 ]        # 11 HTTPS connections x 3 calls + 2 HTTP/2 streams
  kdissect_kept --no-conn --stats --tls-keylog "$TD/tlsdec.keys" "$TD/tlsdec.pcap" 2>"$W/stats" >"$W/out"
  ours <"$W/out" >"$W/ours"
  diff "$W/oracle" "$W/ours"
  grep -qx 'tls_decrypted 12' "$W/stats"
  grep -qx 'tls_undecrypted 0' "$W/stats"
  # each record keeps its connection's TLS fields; protocols as the plaintext says
  [ "$(jq -s 'map(select(.tls)) | map(select(.tlsx_sni == "kf.test" and (.tlsx_cipher_suite_name | length) > 0)) | length' "$W/out")" -eq 35 ]
  [ "$(jq -s 'map(select(.tls and .protocol == "HTTP2")) | length' "$W/out")" -eq 2 ]
  [ "$(jq -s 'map(select(.tls and .protocol == "HTTP" and .http)) | length' "$W/out")" -eq 33 ]
  # the handshake records are still there, one per ClientHello as tshark counts them (12
  # connections; curl --http2 to nghttpd gets a HelloRetryRequest: two ClientHellos)
  [ "$(jq -s 'map(select(.tlsx)) | length' "$W/out")" -eq "$(hellos)" ]
}

@test "(b) keys as a Decryption Secrets Block in the pcapng: the same calls as tshark" {
  [ -s "$TD/dsb.pcapng" ]
  oracle >"$W/oracle"
  kdissect_kept --no-conn "$TD/dsb.pcapng" | ours >"$W/ours"
  diff "$W/oracle" "$W/ours"
  # -j 2 reads the DSB in each worker
  kdissect_kept --no-conn -j 2 "$TD/dsb.pcapng" | ours >"$W/ours2"
  diff "$W/oracle" "$W/ours2"
}

@test "each TLS version and suite: its three calls decrypted, with the suite the handshake names" {
  kdissect_kept --no-conn --tls-keylog "$TD/tlsdec.keys" "$TD/tlsdec.pcap" >"$W/out"
  check() { # case version suite
    run jq -r --arg c "/$1/" 'select(.tls and (.url | startswith($c))) | "\(.tlsx_version_name)|\(.tlsx_cipher_suite_name)|\(.status_code)"' "$W/out"
    echo "$1: $output" >&3
    [ "$(echo "$output" | sort | tr '\n' ' ')" = "$2|$3|200 $2|$3|201 $2|$3|404 " ]
  }
  check t13-aes128gcm "TLS 1.3" TLS_AES_128_GCM_SHA256
  check t13-aes256gcm "TLS 1.3" TLS_AES_256_GCM_SHA384
  check t13-chacha20 "TLS 1.3" TLS_CHACHA20_POLY1305_SHA256
  check t12-aes128gcm "TLS 1.2" TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
  check t12-aes256gcm "TLS 1.2" TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
  check t12-chacha20 "TLS 1.2" TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
  check t12-cbc-sha "TLS 1.2" TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
  check t12-cbc-sha256 "TLS 1.2" TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
  check t12-cbc-sha384 "TLS 1.2" TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
  check cbc-mte "TLS 1.2" TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
  check keyupdate "TLS 1.3" TLS_AES_256_GCM_SHA384
  # the key updates happened where tshark sees them: both sides, twice (client asks, server follows)
  [ "$(tshark -r "$TD/tlsdec.pcap" -o "tls.keylog_file:$TD/tlsdec.keys" -Y 'tls.handshake.type == 24' 2>/dev/null | wc -l)" -ge 2 ]
  # encrypt-then-MAC was on for curl's CBC connections and off for s_client -no_etm's (ServerHello ext 22)
  [ "$(tshark -r "$TD/tlsdec.pcap" -Y 'tls.handshake.type == 2 and tls.handshake.extension.type == 22' 2>/dev/null | wc -l)" -eq 3 ]
}

@test "without keys: nothing decrypted, the handshake records as with keys" {
  kdissect_kept --stats "$TD/tlsdec.pcap" 2>"$W/stats" >"$W/plain"
  [ "$(jq -s 'map(select(.tls)) | length' "$W/plain")" -eq 0 ]
  grep -qx 'tls_undecrypted 0' "$W/stats"
  kdissect_kept --tls-keylog "$TD/tlsdec.keys" "$TD/tlsdec.pcap" >"$W/keys"
  diff <(jq -c 'select(.tlsx) | del(.id)' "$W/plain") <(jq -c 'select(.tlsx) | del(.id)' "$W/keys")
  # conn records name the inner protocol too when decrypted
  [ "$(jq -s 'map(select(.conn and (.conn_l7_detected | index("HTTP")))) | length' "$W/keys")" -eq 11 ]
}

@test "wrong or missing secrets never stop the run: those connections stay TLS records, counted" {
  # every secret's first hex digit changed: nothing decrypts, exit 0, all twelve counted
  awk '{ if (NF == 3) { d = substr($3, 1, 1); $3 = (d == "0" ? "1" : "0") substr($3, 2) } print }' \
    "$TD/tlsdec.keys" >"$W/wrong.keys"
  kdissect_kept --no-conn --stats --tls-keylog "$W/wrong.keys" "$TD/tlsdec.pcap" >"$W/out" 2>"$W/stats"
  grep -qx 'tls_decrypted 0' "$W/stats"
  grep -qx 'tls_undecrypted 12' "$W/stats"
  [ "$(jq -s 'map(select(.tls)) | length' "$W/out")" -eq 0 ]
  [ "$(jq -s 'map(select(.tlsx)) | length' "$W/out")" -eq "$(hellos)" ]
  # only the TLS 1.2 secrets: the 1.3 connections stay undecrypted
  grep '^CLIENT_RANDOM' "$TD/tlsdec.keys" >"$W/half.keys"
  kdissect_kept --no-conn --stats --tls-keylog "$W/half.keys" "$TD/tlsdec.pcap" >"$W/out" 2>"$W/stats"
  grep -qx 'tls_decrypted 7' "$W/stats"
  grep -qx 'tls_undecrypted 5' "$W/stats"
  [ "$(jq -s 'map(select(.tls)) | length' "$W/out")" -eq 21 ]
  # the packet of one request missing (a gap in the client's records of one TLS 1.3 connection):
  # that request and the next one on the connection are lost, everything else decrypts, no stop
  f=$(tshark -r "$TD/tlsdec.pcap" -o "tls.keylog_file:$TD/tlsdec.keys" -Y 'http.request.uri == "/t13-aes256gcm/missing"' \
      -T fields -e frame.number 2>/dev/null)
  [ -n "$f" ]
  editcap "$TD/tlsdec.pcap" "$W/gap.pcap" "$f" 2>/dev/null
  run "$KF_BIN/kdissect" --no-conn --tls-keylog "$TD/tlsdec.keys" "$W/gap.pcap"
  [ "$status" -eq 0 ]
  echo "$output" | jq -r 'select(.tls and .method) | "\(.method) \(.url // .path) \(.status_code)"' | sort >"$W/gapout"
  oracle | grep -v -e '/t13-aes256gcm/missing' -e '/t13-aes256gcm/created' >"$W/want"
  diff "$W/want" "$W/gapout"
}

@test "--tls-keylog: a missing or unreadable key log is bad input (exit 2, one line)" {
  run "$KF_BIN/kdissect" --tls-keylog "$W/nope.keys" "$TD/tlsdec.pcap"
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == "kdissect: "*"nope.keys: No such file or directory" ]]
  printf 'CLIENT_RANDOM 00zz\n' >"$W/bad.keys"
  run "$KF_BIN/kdissect" --tls-keylog "$W/bad.keys" "$TD/tlsdec.pcap"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == *"bad.keys: 1 unreadable key log line" ]]
}

# gRPC over TLS: a capture of its own (tests/l7live/capture-grpctls.sh): curl --http2 as a gRPC
# client (OpenSSL, SSLKEYLOGFILE) to a python3-grpcio server over TLS, three unary calls with
# grpc-status 0, 5 and 12. The oracle is tshark with the key log (tshark_grpc_calls).
@test "(a), (b) gRPC over TLS, --tls-keylog and DSB: method, path, status, grpc-status, message counts as tshark decrypts them" {
  grpctls_capture "$W"
  [ -z "$(tshark_grpc_calls "$W/g/grpctls.pcap" 50443)" ]     # without keys tshark sees no call
  kdissect_kept --no-conn --stats --tls-keylog "$W/g/grpctls.keys" "$W/g/grpctls.pcap" >"$W/out" 2>"$W/stats"
  grep -qx 'tls_decrypted 3' "$W/stats"
  grpc_calls_jq '.tls' "$W/out" >"$W/ours"
  diff "$W/oracle" "$W/ours"
  # every call: protocol GRPC, service and method from the path, the connection's TLS fields
  [ "$(jq -s 'map(select(.tls and .protocol == "GRPC" and .grpc and .grpc_service == "kf.Shop"
                       and ("/kf.Shop/" + .grpc_method) == .path and .tlsx_sni == "kf.test")) | length' "$W/out")" -eq 3 ]
  # the request message, decoded as protobuf: field 1 = "id-7" (what the client sent; Nope's
  # message may never have gone out, see capture-grpctls.sh)
  [ "$(jq -r 'select(.tls and .grpc_request_messages > 0) | .grpc_request_message.fields[0].value' "$W/out" | sort | uniq -c |
       awk '{ print ($1 >= 2) ? $2 : "too few" }')" = "id-7" ]
  [ "$("$KF_BIN/kfl" 'tls && grpc && grpc_status != 0' <"$W/out" | wc -l)" -eq 2 ]
  # (b) the key log injected as a Decryption Secrets Block: the same calls
  editcap --inject-secrets "tls,$W/g/grpctls.keys" "$W/g/grpctls.pcap" "$W/dsb.pcapng" 2>/dev/null
  kdissect_kept --no-conn "$W/dsb.pcapng" |
    jq -r 'select(.tls) | "\(.method) \(.path) \(.status_code) \(.grpc_status) \(.grpc_request_messages) \(.grpc_response_messages) \(.grpc_message // "")"' |
    sort | diff "$W/oracle" -
}
