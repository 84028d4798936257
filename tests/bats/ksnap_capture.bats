#!/usr/bin/env bats
# ksnap capture against tcpdump on the same interface at the same time: the same packets
# (count, lengths, every byte), with and without -f, over veth and loopback, both backends.
load helpers
load ksnap_capture

setup() { cap_setup; }
teardown() { cap_teardown; }

http_server() { # in NS1 on 10.77.0.1:8080, serving a 100 KB file
  mkdir -p "$T/www"; head -c 100000 /dev/urandom >"$T/www/blob"
  (cd "$T/www" && exec ip netns exec "$NS1" python3 -m http.server 8080 --bind 10.77.0.1 >/dev/null 2>&1) &
  wait_for ip netns exec "$NS2" curl -sf -o /dev/null http://10.77.0.1:8080/
}
http_traffic() {
  local i
  for i in 1 2 3; do ip netns exec "$NS2" curl -sf -o /dev/null http://10.77.0.1:8080/blob; done
}
dns_server() { # dnsmasq in NS1 answering for test.kf
  ip netns exec "$NS1" dnsmasq --no-daemon --no-resolv --no-hosts --port 53 --listen-address 10.77.0.1 \
    --bind-interfaces --address=/test.kf/10.77.0.9 --pid-file="$T/dnsmasq.pid" >/dev/null 2>&1 &
  wait_for ip netns exec "$NS2" dig +short +tries=1 +time=1 @10.77.0.1 a.test.kf >/dev/null
}
dns_traffic() {
  local i
  for i in 1 2 3 4 5; do ip netns exec "$NS2" dig +short @10.77.0.1 "h$i.test.kf" >/dev/null; done
}
filtered() { # filter : ksnap and tcpdump with -f FILTER on va over HTTP and DNS traffic: the same
  # packets, and no DNS among them
  http_server
  dns_server
  td_start "$NS1" va "$1"
  ks_start "$NS1" -i va -f "$1"
  http_traffic; dns_traffic
  wait_for settled "$NS1" "$NS2"
  ks_stop; td_stop
  same_packets "$(segments)" "$T/td.pcap"
  run tsh -r "$(segments | head -1)" -Y dns
  assert_output ""
}

@test "capture: HTTP over veth: same packets as tcpdump (count, bytes, content)" {
  http_server
  td_start "$NS1" va
  ks_start "$NS1" -i va
  http_traffic
  wait_for settled "$NS1" "$NS2"
  ks_stop; td_stop
  same_packets "$(segments)" "$T/td.pcap"
  # the file says which node and interface, direction on every packet
  run tsh -r "$(segments | head -1)" -T fields -e frame.interface_name -e frame.interface_description -e frame.packet_flags_direction -c 1
  assert_output --regexp '^va	n1/va	0x0000000[12]$'
  run capinfos -M "$(segments | head -1)"
  assert_success
}

@test "capture: -f 'tcp port 8080' and DNS noise: exactly tcpdump's packets" {
  filtered 'tcp port 8080'
  # the filter was translated and ran in the kernel, not only in user space
  grep -q -- '-f runs in the kernel' "$T/ks.err"
}

@test "capture: -f in the kernel: loads from computed offsets, scratch memory, arithmetic: tcpdump's packets" {
  # HTTP GETs (offset from the TCP header length), SYN/FIN segments, and TCP segments carrying
  # more than 1000 payload bytes (IP total length minus both header lengths): libpcap compiles
  # this into indexed loads, ldx msh, scratch stores and loads, subtraction and shifts
  filtered 'tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420 or (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0) or (tcp and ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) > 1000)'
  grep -q -- '-f runs in the kernel' "$T/ks.err"
  run tsh -r "$(segments | head -1)" -Y 'http.request.method == "GET"'
  [ "${#lines[@]}" -eq 3 ]
}

@test "capture: -f that the kernel translation does not take (a shift by X) runs in user space: tcpdump's packets" {
  filtered 'tcp and (ip[0] << (ip[1] & 1)) != 0'
  grep -q -- '-f runs in user space only' "$T/ks.err"
}

@test "capture: dig against dnsmasq with -f 'udp port 53' at snaplen 64" {
  http_server
  dns_server
  td_start "$NS1" va -s 64 'udp port 53'
  ks_start "$NS1" -i va -s 64 -f 'udp port 53'
  dns_traffic; http_traffic
  wait_for settled "$NS1" "$NS2"
  ks_stop; td_stop
  same_packets "$(segments)" "$T/td.pcap"
  # snaplen kept, original length recorded
  run tsh -r "$(segments | head -1)" -T fields -e frame.cap_len -Y 'frame.len > 64'
  [ -n "$output" ]
  refute_output --regexp '^(6[5-9]|[7-9][0-9]|[0-9]{3,})$'
}

@test "capture: a filter that reads past the snap length decides on the whole packet" {
  http_server
  # tcp[100] lies beyond a 54-byte snap: ksnap must copy enough to decide, then keep 54 bytes.
  # Oracle: tcpdump at full length with the same filter, cut to 54 bytes afterwards (tcpdump
  # itself at -s 54 loses some ingress packets on veth that it keeps at full length).
  td_start "$NS1" va 'tcp[100] != 0'
  ks_start "$NS1" -i va -s 54 -f 'tcp[100] != 0'
  http_traffic
  wait_for settled "$NS1" "$NS2"
  ks_stop; td_stop
  editcap -s 54 "$T/td.pcap" "$T/td54.pcap"
  same_packets "$(segments)" "$T/td54.pcap"
}

@test "capture: redis-cli against redis-server on loopback: each packet once, as tcpdump" {
  ip netns exec "$NS1" redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  wait_for ip netns exec "$NS1" redis-cli -p 6390 ping >/dev/null
  td_start "$NS1" lo
  ks_start "$NS1" -i lo
  local i
  for i in $(seq 10); do ip netns exec "$NS1" redis-cli -p 6390 set "k$i" "value-$i" >/dev/null; done
  ip netns exec "$NS1" redis-cli -p 6390 get k3 >/dev/null
  wait_for settled "$NS1"
  ks_stop; td_stop
  same_packets "$(segments)" "$T/td.pcap"
  run tsh -r "$(segments | head -1)" -Y 'tcp.port == 6390 && tcp.len > 0'
  [ "${#lines[@]}" -ge 22 ]
}

@test "capture: --backend pcap writes the same packets as tcpdump, in time order" {
  http_server
  td_start "$NS1" va
  ks_start "$NS1" -i va --backend pcap
  http_traffic
  wait_for settled "$NS1" "$NS2"
  # stopped at once: the blocks the kernel has not handed over yet (up to two 20 ms block timer
  # periods) are read before it ends
  ks_stop; td_stop
  same_packets "$(segments)" "$T/td.pcap"
  # the in and out handles' packets merged by time (read as they come, a block of answers went
  # in before the requests and ACKs of the same moment)
  in_time_order "$(segments)"
  # directions recorded there too
  run tsh -r "$(segments | head -1)" -T fields -e frame.packet_flags_direction
  assert_output --partial 0x00000001
  assert_output --partial 0x00000002
}

# http_calls N: kdissect sees N answered HTTP calls in the store (its segment flushed them)
http_calls() {
  [ "$("$KF_BIN/kdissect" --json "$STORE" 2>/dev/null | jq -s 'map(select(.http and .status_code == 200)) | length')" -ge "$1" ]
}

@test "capture: each backend names itself in its IDBs (capinfos) and the records say so: capture_source, capture_backend" {
  http_server
  for be in ebpf pcap; do
    want=ebpf; [ $be = pcap ] && want=af_packet   # libpcap captures through an AF_PACKET socket
    rm -rf "$STORE"
    ks_start "$NS1" -i va --backend $be
    http_traffic
    wait_for http_calls 3
    ks_stop
    run capinfos "$(segments | head -1)"
    assert_success
    assert_line --regexp "^ +Comment = kforensics-capture: $want\$"
    "$KF_BIN/kdissect" --json "$STORE" >"$T/r.ndjson"
    record_fields "$T/r.ndjson"
    n=$(wc -l <"$T/r.ndjson")
    # the three calls, each one record (the pcap backend merges its two direction handles by time)
    [ "$(jq -s 'map(select(.http)) | length' "$T/r.ndjson")" -eq 3 ]
    [ "$(jq -s 'map(select(.http and .method == "GET" and .status_code == 200)) | length' "$T/r.ndjson")" -eq 3 ]
    [ "$(jq -s --arg w $want 'map(select(.capture_source == $w and .capture_backend == $w)) | length' "$T/r.ndjson")" -eq "$n" ]
    run "$KF_BIN/kfl" -c "capture_source == \"$want\" && capture_backend == \"$want\"" "$T/r.ndjson"
    assert_success
    assert_output "$n"
  done
}

@test "capture: --backend pcap with -f matches tcpdump" {
  http_server
  dns_server
  td_start "$NS1" va 'udp'
  ks_start "$NS1" -i va --backend pcap -f udp
  dns_traffic; http_traffic
  wait_for settled "$NS1" "$NS2"
  ks_stop; td_stop
  same_packets "$(segments)" "$T/td.pcap"
}

@test "capture: timestamps are wall-clock time, in order with tcpdump's" {
  http_server
  td_start "$NS1" va
  ks_start "$NS1" -i va
  http_traffic
  wait_for settled "$NS1" "$NS2"
  ks_stop; td_stop
  a=$(tshark -r "$(segments | head -1)" -T fields -e frame.time_epoch -c 1)
  b=$(tshark -r "$T/td.pcap" -T fields -e frame.time_epoch -c 1)
  run python3 -c "import sys; d=abs($a-$b); print(d); sys.exit(0 if d < 0.05 else 1)"
  assert_success
}

@test "capture: packets the ring cannot take are counted: --stats, ISB, epb_dropcount, ls; written + dropped = tcpdump's" {
  http_server
  td_start "$NS1" va
  # a one-page ring cannot hold a 64 KB TSO packet, and the reader is woken late
  ks_start "$NS1" -i va --ring-size 4K --stats 1s
  http_traffic
  wait_for grep -q 'stats: [0-9]* packets written, [1-9][0-9]* dropped' "$T/ks.err"   # counted: the next packet carries them
  ip netns exec "$NS2" curl -sf -o /dev/null http://10.77.0.1:8080/
  wait_for settled "$NS1" "$NS2"
  ks_stop; td_stop
  line=$(grep 'stats:' "$T/ks.err" | tail -1)
  written=$(sed -n 's/.*stats: \([0-9]*\) packets written, \([0-9]*\) dropped.*/\1/p' <<<"$line")
  dropped=$(sed -n 's/.*stats: \([0-9]*\) packets written, \([0-9]*\) dropped.*/\2/p' <<<"$line")
  echo "# written $written dropped $dropped" >&3
  [ "$dropped" -gt 0 ]
  [[ "$line" == *" va $written/$dropped"* ]]
  td=$(tcpdump -r "$T/td.pcap" 2>/dev/null | wc -l)
  [ $((written + dropped)) -eq "$td" ]
  f=$(segments | head -1)
  [ "$(tsh -r "$f" | wc -l)" -eq "$written" ]
  # the ISB says the same; epb_dropcount carries what was lost before each packet
  run "$KF_BIN/ksnap" ls --json "$STORE"
  assert_success
  [ "$(jq '.nodes[0].drops' <<<"$output")" -eq "$dropped" ]
  [ "$(jq '.nodes[0].packets' <<<"$output")" -eq "$written" ]
  epb=$(tsh -r "$f" -T fields -e frame.drop_count | awk '{ s += $1 } END { print s + 0 }')
  [ "$epb" -gt 0 ]
  [ "$epb" -le "$dropped" ]
}
