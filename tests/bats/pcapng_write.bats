#!/usr/bin/env bats
# The pcapng writer (lib/kf_pcapng.c) and the pcap output (kf_pcap_out) checked with Wireshark's
# tools as the independent oracle: files open in tshark and capinfos without a word on stderr,
# and tshark sees what we wrote (ns times, interfaces, comments, directions, NRB names, DSB, ISB).
# A read → write round trip of the corpus (kf_capread → kf_pcapng) keeps every packet, timestamp
# to the ns, interface and comment, as tshark reports them before and after.
# The files come from build/tests/test_pcapng --write-sample / --write-pcap / --roundtrip.
load helpers

setup() {
  : "${KF_UNITS:=$KF_ROOT/build/tests}"
  T=$KF_UNITS/test_pcapng
  [ -x "$T" ] || fail "$T not built"
  command -v tshark >/dev/null || fail "tshark missing (scripts/install-deps)"
  W=$(mktemp -d)
}
teardown() { rm -rf "$W"; }

# Runs a Wireshark tool and fails if it wrote anything to stderr (tshark's note about running as
# root is the one line allowed: it says nothing about the file).
quiet() {
  "$@" > "$W/stdout" 2> "$W/stderr" || { cat "$W/stderr"; fail "$1 failed"; }
  grep -v '^Running as user "root" and group "root". This could be dangerous.$' "$W/stderr" > "$W/stderr.rest" || true
  if [ -s "$W/stderr.rest" ]; then cat "$W/stderr.rest"; fail "$1 printed a warning"; fi
  cat "$W/stdout"
}

@test "written pcapng opens in capinfos and tshark without a warning" {
  "$T" --write-sample "$W/s.pcapng"
  run quiet capinfos "$W/s.pcapng"
  assert_success
  assert_line --regexp '^File type: +Wireshark/\.\.\. - pcapng$'
  assert_line --regexp '^Number of packets: +4$'
  assert_line --regexp '^File timestamp precision: +nanoseconds \(9\)$'
  run quiet tshark -r "$W/s.pcapng"
  assert_success
  [ "${#lines[@]}" -eq 4 ]
  # a two-pass read checks the whole file too
  run quiet tshark -2 -r "$W/s.pcapng"
  assert_success
}

@test "tshark sees ns timestamps, interface names and descriptions, comments, directions" {
  "$T" --write-sample "$W/s.pcapng"
  run quiet tshark -r "$W/s.pcapng" -T fields -E separator='|' -e frame.time_epoch -e frame.interface_id \
    -e frame.interface_name -e frame.interface_description -e frame.comment -e frame.packet_flags_direction
  assert_success
  assert_line --index 0 '1773509025.123456789|0|worker-1/eth0|node worker-1 uplink|SYN from orders|0x00000002'
  assert_line --index 1 '1773509025.123457790|1|worker-1/cni0|pod bridge||0x00000001'
  assert_line --index 2 '1773509025.125456791|0|worker-1/eth0|node worker-1 uplink|request → payment (UTF-8 comment)|0x00000002'
  assert_line --index 3 '1773509028.123456792|1|worker-1/cni0|pod bridge||'
}

@test "section header, interface filter, ISB, NRB and DSB are seen by capinfos" {
  "$T" --write-sample "$W/s.pcapng"
  run quiet capinfos "$W/s.pcapng"
  assert_success
  assert_line --regexp '^Capture hardware: +x86_64 test rig$'
  assert_line --regexp '^Capture oper-sys: +Linux 6.1 \(demo\)$'
  assert_line --regexp '^Capture application: +kforensics test_pcapng$'
  assert_line --regexp '^Capture comment: +kforensics-node: worker-1$'
  assert_line --regexp '^Number of interfaces in file: 2$'
  assert_line --regexp '^ +Name = worker-1/eth0$'
  assert_line --regexp '^ +Filter string = tcp port 8080$'
  assert_line --regexp '^ +Time resolution = 0x09$'
  assert_line --regexp '^ +Capture length = 65535$'
  assert_line --regexp '^ +Comment = kforensics-capture: ebpf$'   # an IDB comment (ksnap's backend)
  [ "$(grep -c 'Number of stat entries = 1' <<<"$output")" -eq 2 ]
  assert_line --regexp '^Number of resolved IPv4 addresses in file: 1$'
  assert_line --regexp '^Number of resolved IPv6 addresses in file: 1$'
  assert_line --regexp '^Number of decryption secrets in file: 1$'
}

@test "tshark resolves addresses with the names from our NRB" {
  "$T" --write-sample "$W/s.pcapng"
  run quiet tshark -r "$W/s.pcapng" -N n -T fields -e ip.dst_host
  assert_success
  assert_line --index 0 'payment-7d9f8b6c5-x2x7k.shop'
  # without name resolution the address stays numeric: the name came from the file
  run quiet tshark -r "$W/s.pcapng" -n -T fields -e ip.dst_host
  assert_line --index 0 '10.0.53.205'
}

@test "ns pcap through libpcap: capinfos and tshark agree on type and ns times" {
  "$T" --write-pcap "$W/p.pcap"
  run quiet capinfos "$W/p.pcap"
  assert_success
  assert_line --regexp '^File type: +Wireshark/tcpdump/\.\.\. - nanosecond pcap$'
  assert_line --regexp '^Number of packets: +4$'
  run quiet tshark -r "$W/p.pcap" -T fields -e frame.time_epoch -e frame.len
  assert_success
  assert_line --index 0 "$(printf '1773509025.123456789\t54')"
  assert_line --index 3 "$(printf '1773509028.123456792\t42')"
  # tcpdump reads it too (libpcap)
  run tcpdump -nn -r "$W/p.pcap" --nano
  assert_success
  assert_line --partial '17:23:45.123456789 IP 10.0.53.101.40312 > 10.0.53.205.8080: Flags [S]'
}

@test "a TLS key log injected by editcap (DSB) survives our read → write byte for byte" {
  command -v editcap >/dev/null || fail "editcap missing"
  "$T" --write-pcap "$W/p.pcap"
  printf 'CLIENT_RANDOM %064d %096d\n' 7 9 > "$W/keys.txt"
  printf 'CLIENT_RANDOM %064d %096d\n' 8 10 >> "$W/keys.txt"
  run quiet editcap --inject-secrets "tls,$W/keys.txt" "$W/p.pcap" "$W/inj.pcapng"
  assert_success
  "$T" --roundtrip "$W/inj.pcapng" "$W/out.pcapng"
  run quiet capinfos "$W/out.pcapng"
  assert_line --regexp '^Number of decryption secrets in file: 1$'
  "$T" --dump-dsb "$W/out.pcapng" > "$W/dsb.out" 2> "$W/dsb.err"
  cmp "$W/keys.txt" "$W/dsb.out"
  grep -q 'type=0x544c534b' "$W/dsb.err"
}

# tshark's fields for every record ($1) into $2, stderr into $2.err; fails when tshark fails.
# Normalised for comparison:
#  - times padded to 9 decimals (tshark prints a µs file with 6);
#  - custom blocks, which tshark lists as records without time or interface, are dropped (the
#    reader skips them by design); a classic pcap's empty interface id is 0.
fields() {
  tshark -r "$1" -T fields -e frame.time_epoch -e frame.len -e frame.cap_len -e frame.interface_id \
    -e frame.comment > "$2.raw" 2> "$2.err" || return 1
  awk -F'\t' 'BEGIN{OFS="\t"} $1=="" && $4=="" {next}
      {if ($1 != "") {split($1, a, "."); f = a[2]; while (length(f) < 9) f = f "0"; $1 = a[1] "." f}
       if ($4 == "") $4 = 0; print}' "$2.raw" > "$2"
}

roundtrip_compare() { # file
  local f=$1 b
  b=$(basename "$f")
  # files tshark itself rejects are reader tests, not writer tests
  fields "$f" "$W/in" || { echo "# skip (tshark rejects): $b" >&3; return 0; }
  "$T" --roundtrip "$f" "$W/$b.out.pcapng" 2> "$W/rt.err" || { cat "$W/rt.err"; echo "roundtrip failed: $b"; return 1; }
  fields "$W/$b.out.pcapng" "$W/out.t" || { cat "$W/out.t.err"; echo "tshark fails on our copy of $b"; return 1; }
  if grep -v '^Running as user "root"' "$W/out.t.err" | grep -q .; then
    cat "$W/out.t.err"; echo "tshark complains about our copy of $b"; return 1
  fi
  # a Simple Packet Block carries no time (tshark shows none); ours must carry some, so blank it
  awk -F'\t' 'BEGIN{OFS="\t"} NR==FNR {t[FNR] = $1; next} {if (t[FNR] == "") $1 = ""; print}' "$W/in" "$W/out.t" > "$W/out"
  diff "$W/in" "$W/out" > "$W/diff" || { echo "$b differs after the round trip:"; head -10 "$W/diff"; return 1; }
  n=$((n + 1))
}

@test "corpus pcapng: read → write keeps every packet, ns timestamp, interface and comment" {
  [ -d "$KF_CORPUS/pcapng" ] || fail "corpus not found at $KF_CORPUS"
  n=0
  for f in "$KF_CORPUS"/pcapng/*.pcapng "$KF_CORPUS"/pcapng/*.pcap; do
    case $(basename "$f") in
      # the sub-second field is out of range (≥ 1e6 µs / ≥ 1e9 ns); tshark prints it unnormalised
      # (…370.1000000000, a negative time) while the reader carries the overflow into seconds
      tcpdump__timestamp_invalid_micro.pcap|tcpdump__timestamp_invalid_nano.pcap) continue ;;
    esac
    roundtrip_compare "$f" || fail "round trip broke $f"
  done
  [ "$n" -ge 50 ] || fail "only $n corpus files compared"
}

@test "corpus captures of each protocol folder: read → write round trip matches tshark" {
  n=0
  for d in "$KF_CORPUS"/*/; do
    [ "$(basename "$d")" = pcapng ] && continue
    for f in $(ls "$d" | grep -E '\.(pcap|pcapng|cap)$' | head -2); do
      roundtrip_compare "$d$f" || fail "round trip broke $d$f"
    done
  done
  [ "$n" -ge 10 ] || fail "only $n corpus files compared"
}

@test "bundled samples: open without warnings and survive a read → write round trip" {
  n=0
  for f in "$SAMPLES"/*.pcap "$SAMPLES"/*.pcapng; do
    run quiet capinfos "$f"
    assert_success
    roundtrip_compare "$f" || fail "round trip broke $f"
  done
  [ "$n" -eq 3 ] || fail "expected 3 sample captures, compared $n"
}

@test "real TLS: the sample's key log (DSB) still decrypts HTTPS after our read → write" {
  f=$SAMPLES/node-worker-1-tls.pcapng
  run quiet tshark -r "$f" -Y http -T fields -e http.request.method -e http.request.uri -e http.response.code
  assert_success
  expect=$output
  [ "${#lines[@]}" -eq 4 ] || fail "sample should decrypt to 2 requests + 2 responses: $output"
  "$T" --roundtrip "$f" "$W/tls.pcapng"
  run quiet tshark -r "$W/tls.pcapng" -Y http -T fields -e http.request.method -e http.request.uri -e http.response.code
  assert_success
  assert_output "$expect"
  # and without the DSB nothing is readable: the decryption came from the block we wrote
  run quiet editcap --discard-all-secrets "$W/tls.pcapng" "$W/nokeys.pcapng"
  run quiet tshark -r "$W/nokeys.pcapng" -Y http
  assert_output ""
}

@test "samples/make-samples.sh regenerates the story with real programs in netns (live)" {
  require_live
  for t in dumpcap editcap python3 curl redis-server redis-cli dnsmasq dig openssl; do
    command -v "$t" >/dev/null || fail "$t missing (scripts/install-deps)"
  done
  mkdir -p "$W/s"
  run "$SAMPLES/make-samples.sh" "$W/s"
  assert_success
  p=$W/s/node-worker-1-cni0.pcap
  # 14 HTTP responses, four of them 5xx
  run quiet tshark -r "$p" -Y http.response -T fields -e http.response.code
  [ "${#lines[@]}" -eq 14 ] || fail "want 14 HTTP responses, got ${#lines[@]}: $(echo $output)"
  [ "$(printf '%s\n' "${lines[@]}" | grep -c '^5')" -eq 4 ]
  # the slow path takes more than a second
  run quiet tshark -r "$p" -Y 'http.time > 1' -T fields -e http.request.uri -e http.response_for.uri
  assert_output --partial /api/reports/daily
  # DNS with NXDOMAIN answers, redis SET/GET, a refused connection
  run quiet tshark -r "$p" -Y 'dns.flags.rcode == 3 && dns.qry.name == "inventory.shop.svc.cluster.local"'
  [ "${#lines[@]}" -eq 1 ]
  run quiet tshark -r "$p" -Y 'tcp.srcport == 9090 && tcp.flags.reset == 1'
  [ "${#lines[@]}" -eq 1 ]
  run quiet tshark -r "$p" -Y 'tcp.dstport == 6379' -T fields -e tcp.payload
  assert_output --partial "$(printf 'session:123' | od -An -tx1 | tr -d ' \n')"
  # IP reuse: 10.0.53.150 is cart first, checkout later, and the events say when
  run quiet tshark -r "$p" -Y 'ip.src == 10.0.53.150 && http.request' -T fields -e http.user_agent
  assert_line --index 0 'cart/2.1'
  assert_line --index 5 'checkout/0.9'
  grep -q '"type":"DELETED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"cart-' "$W/s/meta-events.ndjson"
  [ "$(grep -c '"podIP":"10.0.53.150"' "$W/s/meta-events.ndjson")" -ge 3 ]
  run quiet capinfos "$W/s/node-worker-1-pods.pcapng"
  assert_line --regexp '^Number of interfaces in file: 4$'
  # gRPC over HTTP/2: four calls, one UNAVAILABLE
  run quiet tshark -r "$p" -d tcp.port==50051,http2 -Y 'http2.headers.path == "/shop.fraud.v1.FraudCheck/Score"'
  [ "${#lines[@]}" -ge 1 ]
  run quiet tshark -r "$p" -d tcp.port==50051,http2 -Y 'http2.header.value == "fraud model not loaded for BIN 400000"'
  [ "${#lines[@]}" -eq 1 ]
  # HTTPS readable through the injected key log
  run quiet tshark -r "$W/s/node-worker-1-tls.pcapng" -Y http.response -T fields -e http.response.code
  assert_output "$(printf '200\n503')"
}
