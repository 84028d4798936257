#!/usr/bin/env bats
# ksnap capture --tls (issue 18 part 2): OpenSSL's plaintext from uprobes, stored as synthetic TCP
# segments on an interface named ebpf_tls. One live run (tests/l7live/capture-tlsebpf.sh): curl to
# a Python HTTPS server (TLS 1.3 and 1.2, AES-GCM and ChaCha20), to openssl s_server -www and,
# over HTTP/2, to nghttpd, with the clients' key log, captured by tcpdump and by
# `ksnap capture --tls` at once. The oracle is tshark with that key log on tcpdump's ciphertext:
# its HTTP and HTTP/2 requests (method, path) and responses (status) must equal what tshark finds,
# with no keys at all, in the ebpf_tls packets of the ksnap store.
# Debian: curl openssl python3 nghttp2-server tcpdump tshark.
load helpers

setup_file() {
  export TD=$BATS_FILE_TMPDIR/tlsebpf
  [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1 || return 0
  for t in curl openssl python3 nghttpd tcpdump tshark; do command -v $t >/dev/null || return 0; done
  KF_BIN=$KF_BIN "$KF_ROOT/tests/l7live/capture-tlsebpf.sh" "$TD" >"$BATS_FILE_TMPDIR/capture.log" 2>&1 || true
}

teardown() { netns_cleanup; }

setup() {
  require_live
  for t in curl openssl python3 nghttpd tcpdump tshark; do command -v $t >/dev/null || skip "$t not installed"; done
  [ -s "$TD/tlsebpf.pcap" ] && [ -d "$TD/store/n1" ] || fail "capture failed: $(cat "$BATS_FILE_TMPDIR/capture.log")"
  W=$BATS_TEST_TMPDIR
  SEG=$(ls "$TD"/store/n1/*.pcapng | head -1)
}

# the store's ebpf_tls packets alone (Wireshark keys TCP streams by addresses and ports only: the
# same connection's ciphertext on lo would otherwise be taken for retransmissions)
plain() { tshark -r "$SEG" -Y 'frame.interface_name == "ebpf_tls"' -w "$W/plain.pcapng" 2>/dev/null; }

# requests FILE [tshark options]: "METHOD PATH" per HTTP/1 request, sorted
requests() { tshark -r "$@" -Y http.request -T fields -E separator=' ' -e http.request.method -e http.request.uri 2>/dev/null | sort; }

@test "ksnap --tls: the plaintext calls equal tshark's decryption of the ciphertext with the key log" {
  tshark_http_calls "$TD/tlsebpf.pcap" -o "tls.keylog_file:$TD/tlsebpf.keys" >"$W/oracle"
  cat "$W/oracle" >&3
  [ "$(wc -l <"$W/oracle")" -eq 14 ]    # 4 x 3 HTTP/1.1 (TLS 1.3, 1.2; AES-GCM, ChaCha20), 2 HTTP/2
  plain
  # plaintext HTTP/2 on a port of its own: tshark needs telling (ALPN said it in the ciphertext)
  tshark_http_calls "$W/plain.pcapng" -d tcp.port==9443,http2 | grep -v ' /www/' >"$W/ours"
  diff "$W/oracle" "$W/ours"
  # s_server -www answers HTTP/1.0 until the connection closes; tshark does not end such a body at
  # a TLS close_notify, so its decryption has the requests only: compare those, and the statuses
  # (s_server -www answers 200 to any path) come from the plaintext, whose stream ends with a FIN
  requests "$TD/tlsebpf.pcap" -o "tls.keylog_file:$TD/tlsebpf.keys" >"$W/oracle.req"
  requests "$W/plain.pcapng" >"$W/ours.req"
  diff "$W/oracle.req" "$W/ours.req"
  grep -qx 'GET /www/missing' "$W/ours.req"
  [ "$(tshark_http_calls "$W/plain.pcapng" | grep -c '^GET /www/.* 200$')" -eq 2 ]
  # without the key log tshark finds no call in the ciphertext (the oracle is not the plaintext)
  [ -z "$(tshark_http_calls "$TD/tlsebpf.pcap")" ]
}

@test "ksnap --tls store, no keys: kdissect's calls equal tshark's decryption with the key log; capture_source ebpf_tls, tls true" {
  tshark_http_calls "$TD/tlsebpf.pcap" -o "tls.keylog_file:$TD/tlsebpf.keys" >"$W/oracle"
  [ "$(wc -l <"$W/oracle")" -eq 14 ]
  "$KF_BIN/kdissect" --no-conn "$TD/store" >"$W/out"
  record_fields "$W/out"
  jq -r 'select(.capture_source == "ebpf_tls") | "\(.method) \(.url // .path) \(.status_code)"' "$W/out" | sort >"$W/ours"
  # s_server's two HTTP/1.0 calls: tshark's decryption has their requests only (see above)
  grep -v ' /www/' "$W/ours" | diff "$W/oracle" -
  [ "$(grep -c '^GET /www/' "$W/ours")" -eq 2 ]
  # every plaintext record is tls (Kubeshark's KFL meaning), on its own connection: the same
  # 5-tuples' ciphertext still gives its TLS records (one ClientHello each, two where nghttpd
  # asked for another: a HelloRetryRequest)
  [ "$(jq -s 'map(select(.capture_source == "ebpf_tls" and .tls == true and .capture_backend == "ebpf")) | length' "$W/out")" -eq 16 ]
  [ "$(jq -s 'map(select(.capture_source == "ebpf_tls" and (.tls | not))) | length' "$W/out")" -eq 0 ]
  [ "$(jq -s 'map(select(.protocol == "TLS" and .capture_source == "ebpf")) | length' "$W/out")" -ge 7 ]
  [ "$(jq -s 'map(select(.protocol == "TLS" and .capture_source == "ebpf_tls")) | length' "$W/out")" -eq 0 ]
  [ "$("$KF_BIN/kfl" 'tls && capture_source == "ebpf_tls"' <"$W/out" | wc -l)" -eq 16 ]
  # -j 2: the same calls
  "$KF_BIN/kdissect" --no-conn -j 2 "$TD/store" | jq -r 'select(.capture_source == "ebpf_tls") | "\(.method) \(.url // .path) \(.status_code)"' | sort | diff "$W/ours" -
}

@test "ksnap --tls: one interface named ebpf_tls (raw IP); each connection starts with a handshake and its segments carry plaintext in sequence" {
  run tshark -r "$SEG" -T fields -e frame.interface_name -e frame.interface_description
  [ "$status" -eq 0 ]
  echo "$output" | sort -u | grep -qx $'ebpf_tls\tn1/ebpf_tls'
  plain
  # every TCP stream of the plaintext: SYN, SYN-ACK, then no segment tshark calls lost,
  # retransmitted or out of order
  local streams syns
  streams=$(tshark -r "$W/plain.pcapng" -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)
  syns=$(tshark -r "$W/plain.pcapng" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' 2>/dev/null | wc -l)
  [ "$streams" -eq 7 ]                  # one per curl case (--next reuses it), 2 s_server, 1 nghttpd
  [ "$syns" -eq "$streams" ]
  [ -z "$(tshark -r "$W/plain.pcapng" -Y 'tcp.analysis.lost_segment || tcp.analysis.retransmission || tcp.analysis.out_of_order' 2>/dev/null)" ]
  # checksums are right (tcpdump -vv checks both)
  ! tcpdump -r "$W/plain.pcapng" -nn -vv 2>/dev/null | grep -q 'incorrect'
}

@test "ksnap --tls: the -v log says where the uprobes went; the stats count the calls" {
  grep -q -- '--tls: uprobes on .*libssl.so' "$TD/ks.err"
  grep -q -- '--tls: sockets through' "$TD/ks.err"
}

@test "ksnap --tls: a libssl of its own (as in a container image) is probed once a process maps it" {
  require_live
  local ns port=$((20000 + $$ % 10000)) lib=$W/lib
  mkdir -p "$lib" && cp "$(ldconfig -p | awk '/libssl.so.3 .*x86-64|libssl.so.3 .*AArch64/ { print $NF; exit }')" "$lib/"
  [ -s "$lib/libssl.so.3" ]
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kf.test \
    -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
  ns=$(netns_make tlslib)
  ip netns exec "$ns" "$KF_BIN/ksnap" capture --dir "$W/s" --node n1 -i lo --tls -v -f "tcp port $port" 2>"$W/err" &
  local ks=$!
  for _ in $(seq 100); do grep -q -- '--tls: uprobes on' "$W/err" && break; sleep 0.1; done
  ip netns exec "$ns" openssl s_server -accept "127.0.0.1:$port" -cert "$W/cert.pem" -key "$W/key.pem" -www -quiet >/dev/null 2>&1 &
  for _ in $(seq 100); do ip netns exec "$ns" bash -c "exec 9<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break; sleep 0.1; done
  # the client maps the copy, a file the host's library folders do not have: found by the scan
  # of /proc/PID/maps (every 2 s); the request goes out once ksnap says its probes are in place.
  # Its pid is a shell for 2.5 s first, so a scan reads it before it maps any libssl (as a pod's
  # process is `runc init` or a shell before it execs): it must be read again once it has.
  # (Only the client gives plaintext: s_server -www reads and writes through BIO_f_ssl, which in
  # OpenSSL 3 calls the library's internals, not SSL_read/SSL_write: its calls are never seen.)
  mkfifo "$W/in"
  ip netns exec "$ns" sh -c 'sleep 2.5; exec env LD_LIBRARY_PATH="$0" openssl s_client -connect "127.0.0.1:$1" -quiet' \
    "$lib" "$port" <"$W/in" >"$W/out" 2>/dev/null &
  local cl=$!
  exec 7>"$W/in"
  local on=0
  for _ in $(seq 150); do grep -q "uprobes on $lib/libssl.so.3 (mapped by pid $cl)" "$W/err" && { on=1; break; }; sleep 0.1; done
  [ "$on" = 1 ] || { exec 7>&-; stop_bounded $ks; cat "$W/err"; fail "no uprobes on the copy within 15 s"; }
  # the request in one write: bash's printf writes line by line, and under load s_client sent the
  # request line alone; s_server -www answers that line and closes, so the head never ended with
  # its empty line and no HTTP request was there to find (in the ciphertext either)
  env printf 'GET /copylib HTTP/1.0\r\n\r\n' >&7
  exec 7>&-
  wait $cl || true
  stop_bounded $ks
  netns_cleanup
  cat "$W/err"
  grep -q '^HTTP/1.0 200' "$W/out"
  SEG=$(ls "$W"/s/n1/*.pcapng)
  plain
  [ "$(requests "$W/plain.pcapng")" = "GET /copylib" ]
}

@test "ksnap --tls where no libssl can be probed: says so once, captures the rest" {
  require_live
  local ns
  ns=$(netns_make tlsoff)
  ip -n "$ns" addr add 10.99.0.1/32 dev lo
  ip netns exec "$ns" "$KF_BIN/ksnap" capture --dir "$W/s" --node n1 -i lo --tls --tls-lib /nonexistent/libssl.so.3 \
    2>"$W/err" &
  local pid=$!
  for _ in $(seq 100); do compgen -G "$W/s/n1/*.pcapng.part" >/dev/null && break; sleep 0.1; done
  ip netns exec "$ns" ping -c 2 -i 0.2 -W 1 10.99.0.1 >/dev/null
  stop_bounded $pid
  netns_cleanup
  cat "$W/err"
  [ "$(grep -c -- '--tls' "$W/err")" -eq 2 ]   # the one about --tls-lib, the one that TLS is off
  grep -q 'capturing without TLS plaintext' "$W/err"
  [ "$(tshark -r "$(ls "$W"/s/n1/*.pcapng)" -Y icmp 2>/dev/null | wc -l)" -eq 4 ]
  ! tshark -r "$(ls "$W"/s/n1/*.pcapng)" -T fields -e frame.interface_name 2>/dev/null | grep -q ebpf_tls
}

@test "ksnap capture --tls-max-call: bad sizes are usage errors" {
  run "$KF_BIN/ksnap" capture --dir "$BATS_TEST_TMPDIR/x" --tls --tls-max-call 1M
  [ "$status" -eq 2 ]
  [[ "$output" == *"--tls-max-call"* ]]
  run "$KF_BIN/ksnap" capture --dir "$BATS_TEST_TMPDIR/x" --tls --tls-max-call 0
  [ "$status" -eq 2 ]
}

# A segment as ksnap writes one (pcapng, little-endian): lo and ebpf_tls IDBs, a packet on each,
# ISBs with isb_osdrop 3 (lo) and 7 (ebpf_tls); written here with Python's struct, not by ksnap.
mkseg() { # path
  python3 - "$1" <<'PY'
import struct, sys
def opt(code, val):
    return struct.pack('<HH', code, len(val)) + val + b'\0' * (-len(val) % 4)
def block(t, body):
    n = 12 + len(body)
    return struct.pack('<II', t, n) + body + struct.pack('<I', n)
out = block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1) + opt(0, b''))
for name in (b'lo', b'ebpf_tls'):
    out += block(1, struct.pack('<HHI', 101, 0, 262144) + opt(2, name) + opt(9, b'\x09') + opt(0, b''))
pkt = bytes.fromhex('4500001400004000400600007f0000017f000001')
ts = 1_700_000_000 * 10**9
for i in (0, 1):
    out += block(6, struct.pack('<IIIII', i, ts >> 32, ts & 0xffffffff, len(pkt), len(pkt)) + pkt + opt(0, b''))
for i, drop in ((0, 3), (1, 7)):
    out += block(5, struct.pack('<III', i, ts >> 32, ts & 0xffffffff) + opt(7, struct.pack('<Q', drop)) + opt(0, b''))
open(sys.argv[1], 'wb').write(out)
PY
}

@test "ksnap ls: drops of the ebpf_tls interface are shown apart (tls_drops), within the node's drops" {
  mkdir -p "$BATS_TEST_TMPDIR/s/n1"
  mkseg "$BATS_TEST_TMPDIR/s/n1/20231114T221320.000000000Z.pcapng"
  [ "$(tshark -r "$BATS_TEST_TMPDIR/s/n1/20231114T221320.000000000Z.pcapng" 2>/dev/null | wc -l)" -eq 2 ]
  run "$KF_BIN/ksnap" ls --json "$BATS_TEST_TMPDIR/s"
  [ "$status" -eq 0 ]
  [ "$(jq '.nodes[0].drops' <<<"$output")" -eq 10 ]
  [ "$(jq '.nodes[0].tls_drops' <<<"$output")" -eq 7 ]
  run "$KF_BIN/ksnap" ls "$BATS_TEST_TMPDIR/s"
  [[ "$output" == *"tls drops      7"* ]]
}

@test "ksnap --tls: the ebpf_tls interface says how it was captured (IDB comment ebpf_tls), the others ebpf (capinfos)" {
  run capinfos "$SEG"
  assert_success
  # capinfos lists each interface's Name, then its Comment
  awk '/Name = / { n = $3 } /Comment = kforensics-capture: / { print n, $4 }' <<<"$output" | sort -u >"$W/caps"
  cat "$W/caps" >&3
  grep -qx 'ebpf_tls ebpf_tls' "$W/caps"
  [ "$(grep -vc ' ebpf$' "$W/caps")" -eq 1 ]
}

# gRPC over TLS (tests/l7live/capture-grpctls.sh): curl --http2 as a gRPC client to a
# python3-grpcio server, captured by tcpdump (with curl's key log) and by ksnap capture --tls.
# The oracle is tshark with the key log on tcpdump's ciphertext; kdissect reads the store with no keys.
@test "(c) gRPC over TLS, ksnap --tls store, no keys: kdissect's gRPC calls equal tshark's decryption with the key log" {
  grpctls_capture "$W"
  "$KF_BIN/kdissect" --no-conn "$W/g/store" >"$W/out"
  record_fields "$W/out"
  grpc_calls_jq '.capture_source == "ebpf_tls"' "$W/out" >"$W/ours"
  diff "$W/oracle" "$W/ours"
  [ "$(jq -s 'map(select(.capture_source == "ebpf_tls" and .tls == true and .protocol == "GRPC" and .grpc_service == "kf.Shop")) | length' "$W/out")" -eq 3 ]
  [ "$("$KF_BIN/kfl" 'tls && grpc && grpc_status == 5' <"$W/out" | jq -r .grpc_method)" = Missing ]
  # tshark on the store's ebpf_tls packets alone, no keys (HTTP/2 named by port: no ALPN in plaintext)
  SEG=$(ls "$W"/g/store/n1/*.pcapng)
  plain
  tshark_grpc_calls "$W/plain.pcapng" 50443 -d tcp.port==50443,http2 | diff "$W/oracle" -
}
