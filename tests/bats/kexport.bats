#!/usr/bin/env bats
# kexport's command line: options, exit codes, output files, selection by time, node, IP,
# workload (through metadata), names (NRB), comments, secrets (DSB), merge of inputs.
# Fixtures come from tests/kexport/mkfixture.py (see its header for the story they tell).
load helpers

setup_file() {
  export FX=$BATS_FILE_TMPDIR/fx
  python3 "$KF_ROOT/tests/kexport/mkfixture.py" "$FX"
}
setup() { KX=$KF_BIN/kexport; W=$BATS_TEST_TMPDIR; cd "$FX"; }

# packet count of a capture, read by tcpdump (independent of our reader)
npk() { tcpdump -# -n -r "$1" 2>/dev/null | grep -cE '^ *[0-9]+  '; }
# tshark must open FILE without any message (its root notice aside)
tshark_clean() {
  local e
  e=$(tshark -r "$1" 2>&1 >/dev/null | grep -v 'Running as user "root"') || true
  [ -z "$e" ] || { echo "tshark: $e"; return 1; }
}

@test "kexport --help goes to stdout and exits 0; --version" {
  run "$KX" --help
  assert_success
  assert_output --partial "usage: kexport"
  assert_output --partial "--calls"
  run "$KX" --version
  assert_success
  assert_output --regexp '^kexport [0-9]'
}

@test "kexport: usage errors exit 2 with one line and a hint" {
  run "$KX" -o "$W/x.pcapng"
  assert_failure 2
  assert_output --partial "kexport: no INPUT given"
  assert_output --partial "(see 'kexport --help')"
  run "$KX" -F pcapx worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  run "$KX" --from 'not a time' worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  assert_output --partial "--from 'not a time'"
  run "$KX" --from 2026-03-14T18:00:00Z --to 2026-03-14T17:00:00Z worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  run "$KX" --scope call worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  run "$KX" --snaplen 0 worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  run "$KX" --calls - - -o "$W/x.pcapng" </dev/null
  assert_failure 2
  [ ! -e "$W/x.pcapng" ]
}

@test "kexport: a filter that does not parse is an error and leaves no file" {
  run "$KX" -f 'tcp port' worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  assert_output --regexp "^kexport: -f 'tcp port': .*syntax error"
  [ "${#lines[@]}" -eq 1 ]
  [ ! -e "$W/x.pcapng" ]
  [ -z "$(ls -A "$W")" ]
}

@test "kexport: a missing or corrupt input exits 2 and leaves no file (nor a temporary one)" {
  run "$KX" nosuch.pcap -o "$W/x.pcapng"
  assert_failure 2
  assert_output --partial "nosuch.pcap"
  # a pcap whose second record claims a huge length: corruption, not a cut file
  python3 - "$W/bad.pcap" <<'PY'
import struct, sys
d = open('worker-1.pcap', 'rb').read()
rec1 = 24 + 16 + struct.unpack('<I', d[32:36])[0]
bad = d[:rec1] + struct.pack('<IIII', 1773507700, 0, 0x7ffffff0, 0x7ffffff0) + d[rec1 + 16:]
open(sys.argv[1], 'wb').write(bad)
PY
  mkdir -p "$W/out"
  run "$KX" "$W/bad.pcap" -o "$W/out/x.pcapng"
  assert_failure 2
  [ -z "$(ls -A "$W/out")" ]
}

@test "kexport: an existing output is replaced only when the new one is complete" {
  echo old > "$W/x.pcapng"
  run "$KX" -f 'tcp port' worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  [ "$(cat "$W/x.pcapng")" = old ]
  run "$KX" -f 'udp' worker-1.pcap -o "$W/x.pcapng"
  assert_success
  [ "$(npk "$W/x.pcapng")" -eq 20 ]
}

@test "kexport: nothing matched writes an empty valid capture and exits 1 (pcapng and pcap)" {
  run "$KX" -f 'port 9' worker-1.pcap -o "$W/e.pcapng"
  assert_failure 1
  [ -s "$W/e.pcapng" ]
  [ "$(npk "$W/e.pcapng")" -eq 0 ]
  tcpdump -r "$W/e.pcapng" -w /dev/null 2>/dev/null
  tshark_clean "$W/e.pcapng"
  run "$KX" -F pcap -f 'port 9' worker-1.pcap -o "$W/e.pcap"
  assert_failure 1
  [ "$(npk "$W/e.pcap")" -eq 0 ]
  tshark_clean "$W/e.pcap"
  [ "$(od -An -tx1 -N4 "$W/e.pcap" | tr -d ' ')" = 4d3cb2a1 ]   # ns pcap magic
}

@test "kexport: writes standard output without -o, readable from a pipe" {
  run bash -c "'$KX' -f 'tcp port 8080' worker-1.pcap | tcpdump -n -r - 2>/dev/null | wc -l"
  assert_success
  [ "$output" -eq 24 ]
}

@test "kexport: output opens in tshark without warnings, one IDB per node/interface, merged by time" {
  run "$KX" worker-1.pcap worker-2.pcapng -o "$W/m.pcapng"
  assert_success
  tshark_clean "$W/m.pcapng"
  [ "$(npk "$W/m.pcapng")" -eq $(( $(npk worker-1.pcap) + $(npk worker-2.pcapng) )) ]
  # interface names node/interface
  run bash -c "tshark -r '$W/m.pcapng' -T fields -e frame.interface_name 2>/dev/null | sort | uniq -c"
  assert_output --regexp "worker-1/"
  assert_output --partial "worker-2/eth0"
  [ "${#lines[@]}" -eq 2 ]
  # timestamps never go back
  tshark -r "$W/m.pcapng" -T fields -e frame.time_epoch 2>/dev/null > "$W/ts"
  sort -c -g "$W/ts"
  # ns timestamps of worker-2 kept exactly (the pings are 7 ns apart)
  grep -q '^1773507901.123456789$' "$W/ts"
  grep -q '^1773507901.123456796$' "$W/ts"
}

@test "kexport --node keeps one node; --stats counts per node" {
  run "$KX" --node worker-2 --stats worker-1.pcap worker-2.pcapng -o "$W/n.pcapng"
  assert_success
  [ "$(npk "$W/n.pcapng")" -eq "$(npk worker-2.pcapng)" ]
  assert_output --partial "read 17 packets, matched 17, wrote 17"
  assert_output --partial "node worker-2: read 17, matched 17, wrote 17"
  refute_output --partial "node worker-1"
}

@test "kexport --stats: read, matched, written per node" {
  run "$KX" --stats -f icmp worker-1.pcap worker-2.pcapng -o "$W/s.pcapng"
  assert_success
  assert_output --partial "read 61 packets, matched 3, wrote 3 (pcapng, 1 interface)"
  assert_output --partial "node worker-1: read 44, matched 0, wrote 0"
  assert_output --partial "node worker-2: read 17, matched 3, wrote 3"
}

@test "kexport --from/--to: exactly the packets inside the window (tshark as the oracle)" {
  run "$KX" --from 2026-03-14T17:05:00Z --to 2026-03-14T17:05:00.010Z worker-1.pcap -o "$W/t.pcapng"
  assert_success
  want=$(tshark -r worker-1.pcap -Y 'frame.time_epoch >= 1773507900 && frame.time_epoch <= 1773507900.010' 2>/dev/null | wc -l)
  [ "$want" -gt 0 ]
  [ "$(npk "$W/t.pcapng")" -eq "$want" ]
  # epoch and relative forms parse too
  run "$KX" --from 1773507900 --to 1773507900010ms worker-1.pcap -o "$W/t2.pcapng"
  assert_success
  cmp <(tcpdump -r "$W/t.pcapng" -w - 2>/dev/null | tail -c +25) <(tcpdump -r "$W/t2.pcapng" -w - 2>/dev/null | tail -c +25)
}

@test "kexport -F pcap refuses two link types; a filter narrowing to one works" {
  raw=$KF_CORPUS/dns/zeek__ech.pcap
  [ -f "$raw" ] || skip "corpus missing"
  run "$KX" -F pcap worker-1.pcap "$raw" -o "$W/p.pcap"
  assert_failure 2
  assert_output --partial "one link type"
  [ ! -e "$W/p.pcap" ]
  # ether filters cannot compile for raw IP: said once, those packets left out
  run "$KX" -F pcap -f 'ether src 02:00:00:00:00:01' worker-1.pcap "$raw" -o "$W/p.pcap"
  assert_success
  assert_output --partial "cannot be used on link type"
  [ "$(grep -c 'cannot be used' <<<"$output")" -eq 1 ]
  [ "$(npk "$W/p.pcap")" -eq "$(tcpdump -n -r worker-1.pcap 'ether src 02:00:00:00:00:01' 2>/dev/null | wc -l)" ]
  # pcapng holds both
  run "$KX" worker-1.pcap "$raw" -o "$W/p.pcapng"
  assert_success
  [ "$(tshark -r "$W/p.pcapng" -T fields -e frame.interface_id 2>/dev/null | sort -u | wc -l)" -eq 2 ]
}

@test "kexport --snaplen cuts packets and keeps their original length" {
  run "$KX" --snaplen 60 -f 'tcp port 8080' worker-1.pcap -o "$W/s.pcapng"
  assert_success
  run bash -c "tshark -r '$W/s.pcapng' -T fields -e frame.cap_len -e frame.len 2>/dev/null | sort -u"
  assert_line --regexp '^60	(89|104)$'
  refute_line --regexp '^(6[1-9]|[7-9][0-9]|1[0-9][0-9])	'
}

@test "kexport --ip: packets to or from that address" {
  run "$KX" --ip 10.0.1.4 worker-1.pcap -o "$W/i.pcapng"
  assert_success
  [ "$(npk "$W/i.pcapng")" -eq 20 ]
  run "$KX" --ip 10.0.1.999 worker-1.pcap -o "$W/i.pcapng"
  assert_failure 2
}

@test "kexport --workload across an IP reuse exports only the holder's packets, only while it held the IP" {
  run "$KX" --meta meta-events.ndjson --workload prod/orders-594487879c-aaaaa worker-1.pcap worker-2.pcapng -o "$W/a.pcapng"
  assert_success
  # conn A (port 40000) on both nodes and the pings to .7 at 17:05; nothing of conn B (40001, after reuse)
  [ "$(tshark -r "$W/a.pcapng" -Y 'tcp.port == 40000' 2>/dev/null | wc -l)" -eq 28 ]
  [ "$(tshark -r "$W/a.pcapng" -Y 'icmp' 2>/dev/null | wc -l)" -eq 3 ]
  [ "$(npk "$W/a.pcapng")" -eq 31 ]
  # the Deployment name selects the same pod
  run "$KX" --meta meta-events.ndjson --workload prod/orders worker-1.pcap -o "$W/d.pcapng"
  assert_success
  [ "$(npk "$W/d.pcapng")" -eq 14 ]
  # the later holder: only conn B
  run "$KX" --meta meta-events.ndjson --workload prod/payments-bbb worker-1.pcap -o "$W/b.pcapng"
  assert_success
  [ "$(npk "$W/b.pcapng")" -eq 10 ]
  [ "$(tshark -r "$W/b.pcapng" -Y 'tcp.port == 40001' 2>/dev/null | wc -l)" -eq 10 ]
  # unknown workload, and no metadata at all, are errors
  run "$KX" --meta meta-events.ndjson --workload prod/nothing worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  run "$KX" --workload prod/orders worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  assert_output --partial "needs metadata"
  [ ! -e "$W/x.pcapng" ]
}

@test "kexport --names: an NRB names each IP by its pod as of the capture; tshark -N n shows them" {
  run "$KX" --meta meta-events.ndjson worker-1.pcap -o "$W/n.pcapng"
  assert_success
  tshark_clean "$W/n.pcapng"
  run bash -c "tshark -N n -r '$W/n.pcapng' -T fields -e ip.src_host -e ip.dst_host -e tcp.srcport 2>/dev/null | sort -u"
  # .7 was reused within the file: its name lists both holders, in order (names.bats has the rest)
  assert_line --partial "web-1.prod	orders-594487879c-aaaaa.prod/payments-bbb.prod	40000"
  # --no-names and -F pcap write none
  run "$KX" --no-names --meta meta-events.ndjson worker-1.pcap -o "$W/nn.pcapng"
  run bash -c "tshark -N n -r '$W/nn.pcapng' -T fields -e ip.src_host 2>/dev/null | sort -u"
  refute_output --partial ".prod"
}

@test "kexport --annotate: comments with both sides' workloads on the first packet of each connection" {
  run "$KX" --annotate --meta meta-events.ndjson worker-1.pcap -o "$W/a.pcapng"
  assert_success
  run bash -c "tshark -r '$W/a.pcapng' -T fields -e frame.number -e frame.comment 2>/dev/null | awk -F'\t' '\$2 != \"\"'"
  [ "${#lines[@]}" -eq 2 ]
  assert_line --partial "web-1.prod (pod) 10.0.1.2:40000 -> orders-594487879c-aaaaa.prod (Deployment orders) 10.0.1.7:8080"
  assert_line --partial "web-1.prod (pod) 10.0.1.2:40001 -> payments-bbb.prod (pod) 10.0.1.7:8080"
}

@test "kexport carries a TLS key log: from a DSB in the input, and from --tls-keylog" {
  cap=$KF_CORPUS/http2/pcap2har__http2-dump.pcap
  [ -f "$cap" ] || skip "corpus missing"
  want=$(tshark -r "$cap" -Y http2 2>/dev/null | wc -l)
  [ "$want" -gt 0 ]
  run "$KX" "$cap" -o "$W/d.pcapng"
  assert_success
  [ "$(tshark -r "$W/d.pcapng" -Y http2 2>/dev/null | wc -l)" -eq "$want" ]
  # without the DSB (tcpdump drops it) tshark decrypts nothing; --tls-keylog brings it back
  tcpdump -r "$cap" -w "$W/plain.pcap" 2>/dev/null
  [ "$(tshark -r "$W/plain.pcap" -Y http2 2>/dev/null | wc -l)" -eq 0 ]
  python3 "$KF_ROOT/tests/kexport/dsb_extract.py" "$cap" > "$W/keys.txt"
  [ -s "$W/keys.txt" ]
  run "$KX" --tls-keylog "$W/keys.txt" "$W/plain.pcap" -o "$W/k.pcapng"
  assert_success
  [ "$(tshark -r "$W/k.pcapng" -Y http2 2>/dev/null | wc -l)" -eq "$want" ]
  # pcap cannot carry it: said so
  run "$KX" -F pcap "$cap" -o "$W/d.pcap"
  assert_success
  assert_output --partial "not carried by -F pcap"
  run "$KX" --tls-keylog /nonexistent "$W/plain.pcap" -o "$W/x.pcapng"
  assert_failure 2
  [ ! -e "$W/x.pcapng" ]
}

@test "kexport over a store: nodes from folders, metadata from meta/, names and --workload without --meta" {
  run "$KX" --stats store -o "$W/s.pcapng"
  assert_success
  assert_output --partial "node worker-1: read 44, matched 44, wrote 44"
  run bash -c "tshark -N n -r '$W/s.pcapng' -T fields -e ip.src_host -e ip.dst_host 2>/dev/null | sort -u"
  assert_line "web-1.prod	orders-594487879c-aaaaa.prod/payments-bbb.prod"
  run "$KX" --workload prod/payments-bbb store -o "$W/p.pcapng"
  assert_success
  [ "$(npk "$W/p.pcapng")" -eq 10 ]
  # the same packets, byte for byte, as from the plain file
  cmp <(tcpdump --time-stamp-precision=nano -r "$W/s.pcapng" -w - 2>/dev/null | tail -c +25) \
      <(tcpdump --time-stamp-precision=nano -r worker-1.pcap -w - 2>/dev/null | tail -c +25)
}

@test "kexport over a store: a time window opens only the overlapping segments, under the shared lock" {
  command -v strace >/dev/null || skip "strace not installed"
  ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=openat,flock -o "$W/trace" "$KX" --from 2026-03-14T17:06:00Z --to 2026-03-14T17:07:00Z store -o "$W/w.pcapng"
  opened=$(grep -v ENOENT "$W/trace" | grep -o 'worker-1/[0-9TZ.]*pcapng' | sort -u)
  [ "$opened" = "worker-1/20260314T170500.000000000Z.pcapng" ]
  grep -q 'flock([0-9]*, LOCK_SH' "$W/trace"
  [ "$(npk "$W/w.pcapng")" -eq 1 ]
}

@test "kexport --workload on the samples: across the IP reuse, cart gets only its packets, checkout only its own" {
  cap=$SAMPLES/node-worker-1-cni0.pcap meta=$SAMPLES/meta-events.ndjson
  [ -f "$cap" ] && [ -f "$meta" ] || skip "samples not made yet"
  del=$(jq -r 'select(.type == "DELETED" and (.object.metadata.name | startswith("cart-"))) | .ts' "$meta")
  t=$(date -u -d "$del" +%s.%N)
  for w in "shop/cart:<" "web/checkout:>="; do
    name=${w%%:*} op=${w#*:}
    run "$KX" --meta "$meta" --workload "$name" -F pcap "$cap" -o "$W/w.pcap"
    assert_success
    # the oracle: tshark's selection of that IP before / after the first holder was deleted
    tshark -r "$cap" -Y "ip.addr == 10.0.53.150 && frame.time_epoch $op $t" -F nsecpcap -w "$W/ref.pcap" 2>/dev/null
    [ "$(npk "$W/ref.pcap")" -gt 0 ]
    cmp <(tcpdump --time-stamp-precision=nano -r "$W/ref.pcap" -w - 2>/dev/null | tail -c +25) \
        <(tcpdump --time-stamp-precision=nano -r "$W/w.pcap" -w - 2>/dev/null | tail -c +25) ||
      fail "$name: packets differ from tshark's selection ($(npk "$W/w.pcap") vs $(npk "$W/ref.pcap"))"
  done
  # a Deployment, and a service (through the pods its selector picks), select their pods' IPs
  for w in "shop/orders:10.0.53.101" "kube-system/kube-dns:10.0.53.10" "kube-system/coredns:10.0.53.10"; do
    run "$KX" --meta "$meta" --workload "${w%%:*}" -F pcap "$cap" -o "$W/s.pcap"
    assert_success
    tshark -r "$cap" -Y "ip.addr == ${w#*:}" -F nsecpcap -w "$W/ref.pcap" 2>/dev/null
    cmp <(tcpdump --time-stamp-precision=nano -r "$W/ref.pcap" -w - 2>/dev/null | tail -c +25) \
        <(tcpdump --time-stamp-precision=nano -r "$W/s.pcap" -w - 2>/dev/null | tail -c +25) ||
      fail "${w%%:*}: packets differ from tshark's ip.addr == ${w#*:}"
  done
  # names as of the capture: the reused IP is named with both holders, in the order they held it
  run "$KX" --meta "$meta" "$cap" -o "$W/n.pcapng"
  run bash -c "tshark -N n -r '$W/n.pcapng' -T fields -e ip.src_host 2>/dev/null | sort -u"
  assert_line --regexp '^cart-6f8d9b7c4-ab12c\.shop/checkout-7c9d8f6b5-qw8rt\.web$'
  assert_line --regexp '^orders-594487879c-7xkqp\.shop$'
}

@test "kexport reads a .ksnap snapshot (metadata inside), standard input and gzip" {
  if "$KF_BIN/ksnap" freeze --dir store --from 2026-03-14T17:00:00Z --to 2026-03-14T17:20:00Z -o "$W/s.ksnap" 2>/dev/null; then
    run "$KX" --workload prod/payments-bbb "$W/s.ksnap" -o "$W/k.pcapng"
    assert_success
    [ "$(npk "$W/k.pcapng")" -eq 10 ]
    run bash -c "tshark -N n -r '$W/k.pcapng' -T fields -e frame.interface_name -e ip.dst_host 2>/dev/null | sort -u"
    assert_line "worker-1/eth0	payments-bbb.prod"
  else
    echo "# ksnap freeze not available: snapshot part not run" >&3
  fi
  run bash -c "'$KX' -f udp - < worker-1.pcap > '$W/stdin.pcapng'"
  assert_success
  [ "$(npk "$W/stdin.pcapng")" -eq 20 ]
  gzip -c worker-1.pcap > "$W/w1.pcap.gz"
  run "$KX" -f udp "$W/w1.pcap.gz" -o "$W/gz.pcapng"
  assert_success
  [ "$(npk "$W/gz.pcapng")" -eq 20 ]
}

@test "kexport: a write error exits 3 with one line (disk full, no folder)" {
  run bash -c "'$KX' worker-1.pcap > /dev/full"
  assert_failure 3
  assert_output "kexport: standard output: No space left on device"
  run "$KX" worker-1.pcap -o /nonexistent/x.pcapng
  assert_failure 3
  assert_output --partial "kexport: /nonexistent/x.pcapng:"
}

@test "kexport: a capture cut short (a killed capture) is exported up to its last whole packet, with a warning" {
  head -c 3000 worker-1.pcap > "$W/cut.pcap"
  run "$KX" "$W/cut.pcap" -o "$W/c.pcapng"
  assert_success
  assert_output --partial "cut.pcap: cut short at offset"
  want=$(tcpdump -n -r "$W/cut.pcap" 2>/dev/null | wc -l)
  [ "$want" -gt 0 ]
  [ "$(npk "$W/c.pcapng")" -eq "$want" ]
}

@test "kexport: a single node's export names its node in the SHB, so reading it back keeps the node" {
  run "$KX" --node worker-2 worker-1.pcap worker-2.pcapng -o "$W/n2.pcapng"
  assert_success
  run "$KX" --stats "$W/n2.pcapng" -o "$W/again.pcapng"
  assert_output --partial "node worker-2: read 17"
  run "$KX" -f udp worker-1.pcap -o "$W/n1.pcapng"
  run "$KX" --stats "$W/n1.pcapng" -o "$W/again.pcapng"
  assert_output --partial "node worker-1: read 20"
  # several nodes: the comment says how the file was made instead
  run "$KX" worker-1.pcap worker-2.pcapng -o "$W/m.pcapng"
  run bash -c "capinfos '$W/m.pcapng' 2>/dev/null | grep 'Capture comment'"
  assert_output --partial "kforensics kexport:"
}
