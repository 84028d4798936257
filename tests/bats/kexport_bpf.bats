#!/usr/bin/env bats
# kexport -f against tcpdump as the oracle: for each (capture, filter) the packets kexport
# writes, with -F pcap and with pcapng, read back by tcpdump, are byte for byte and timestamp
# for timestamp those of `tcpdump --time-stamp-precision=nano -r CAPTURE -w - FILTER`; where
# tcpdump refuses the filter, kexport fails (exit 2) and leaves no file.
# Cases: tests/kexport/bpf_cases.tsv, libpcap's filter_apply cases ($KF_CORPUS/bpf), samples/.
load helpers

setup() { KX=$KF_BIN/kexport; W=$BATS_TEST_TMPDIR; CMP=$KF_ROOT/tests/kexport/bpf_compare.sh; }

# stdin: "name<TAB>capture<TAB>filter" lines. Runs every case, then fails listing mismatches.
run_cases() {
  local name cap filt out n=0 bad=0 refused=0
  while IFS=$'\t' read -r name cap filt; do
    [ -f "$cap" ] || { echo "$name: capture $cap missing"; bad=$((bad + 1)); continue; }
    n=$((n + 1))
    if out=$("$CMP" "$KX" "$cap" "$filt" "$W/c"); then
      [ "$out" = "ok refused" ] && refused=$((refused + 1))
    else
      echo "$name [$filt]: $out"; bad=$((bad + 1))
    fi
  done
  echo "# $n cases ($refused refused by tcpdump and kexport alike), $bad failed" >&3
  [ "$n" -gt 0 ]
  [ "$bad" -eq 0 ]
}

@test "kexport -f = tcpdump on the table of corpus captures and filters" {
  grep -v '^#' "$KF_ROOT/tests/kexport/bpf_cases.tsv" | grep . |
    awk -F'\t' -v c="$KF_CORPUS" '{ print NR "\t" c "/" $1 "\t" $2 }' | run_cases
}

@test "kexport -f = tcpdump on libpcap's filter_apply cases (every savefile, every expression)" {
  j=$KF_CORPUS/bpf/libpcap_filter_apply.json
  [ -f "$j" ] || fail "corpus missing: $j"
  # cases needing a netmask cannot be given to tcpdump -r: left out
  jq -r '.filter_apply_blocks[] | select(.netmask == null) | [.name, .savefile, .expr] | @tsv' "$j" |
    awk -F'\t' -v c="$KF_CORPUS/bpf" '{ print $1 "\t" c "/libpcap__" $2 "\t" $3 }' | run_cases
}

@test "kexport -f = tcpdump on the bundled samples" {
  shopt -s nullglob
  caps=("$KF_ROOT"/samples/*.pcap "$KF_ROOT"/samples/*.pcapng)
  [ ${#caps[@]} -gt 0 ] || skip "no samples yet"
  for c in "${caps[@]}"; do
    for f in 'tcp' 'udp port 53' 'tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0' 'greater 200' 'not ip6'; do
      printf '%s\t%s\t%s\n' "$(basename "$c")" "$c" "$f"
    done
  done | run_cases
}

@test "kexport -f: a record longer than its snaplen is cut as libpcap cuts it" {
  cap=$KF_CORPUS/bpf/libpcap__slip-compressed_sl_print-oobr.pcap
  [ -f "$cap" ] || fail "corpus missing"
  run "$CMP" "$KX" "$cap" inbound "$W/c"
  assert_output "ok 1"
}

@test "kexport --ip with IPv6 and IPv6 fragments = tcpdump's 'host' filter" {
  for x in "dns/ndpi__dns_fragmented.pcap 2001:470:765b::a25:53" "dns/zeek__ipv6-fragmented-dns.pcap 2607:f740:b::f93"; do
    set -- $x
    cap=$KF_CORPUS/$1
    [ -f "$cap" ] || fail "corpus missing: $cap"
    tcpdump --time-stamp-precision=nano -r "$cap" -w "$W/ref.pcap" "host $2" 2>/dev/null
    run "$KX" -F pcap --ip "$2" "$cap" -o "$W/ip.pcap"
    assert_success
    cmp <(tail -c +25 "$W/ref.pcap") \
        <(tcpdump --time-stamp-precision=nano -r "$W/ip.pcap" -w - 2>/dev/null | tail -c +25) ||
      fail "$1: --ip $2 differs from tcpdump 'host $2'"
  done
}
