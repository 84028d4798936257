#!/usr/bin/env bats
# kf_decode against tshark over the corpus: for every packet of every capture whose link type we
# decode (Ethernet, SLL, SLL2, NULL/LOOP, raw IP), the IP addresses and TCP/UDP ports we find
# are the ones tshark shows for the first IP layer, and we never miss plain IP that tshark sees.
load helpers

setup() {
  : "${KF_UNITS:=$KF_ROOT/build/tests}"
  DUMP="$KF_UNITS/test_decode"
  [ -x "$DUMP" ] || fail "$DUMP not built"
  command -v tshark >/dev/null || fail "tshark not installed"
  SRC=$KF_CORPUS/SOURCES.tsv
}

# prints one line per packet that disagrees
decode_compare() {
  local f=$1 rel=$2
  paste -d '\t' \
    <(tshark -r "$f" -T fields -E occurrence=f -e frame.protocols -e ip.src -e ip.dst -e ipv6.src \
        -e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e frame.cb_pen 2>/dev/null |
      awk -F'\t' '$10 == ""') \
    <("$DUMP" --dump "$f" | grep '^[0-9]' | tr ' ' '\t') |
  awk -F'\t' -v rel="$rel" '
    function bad(why) { print rel ": frame " $11 ": " why; nbad++ }
    {
      protos = $1; rc = $12; ver = $13; src = $14; dst = $15; proto = $16; sp = $17; dp = $18
      # first IP layer according to tshark
      n = split(protos, p, ":"); first = ""; next_p = ""
      for (i = 1; i <= n; i++) if (p[i] == "ip" || p[i] == "ipv6") { first = p[i]; next_p = p[i + 1]; break }
      tsrc = first == "ip" ? $2 : $4; tdst = first == "ip" ? $3 : $5
      if (ver != 0) {
        if (first == "") { bad("we see IPv" ver ", tshark sees " protos); next }
        if (src != tsrc || dst != tdst) { bad("addresses " src " > " dst ", tshark " tsrc " > " tdst); next }
        if (rc == 0 && (proto == 6 && next_p == "tcp") && (sp != $6 || dp != $7)) bad("tcp ports " sp ">" dp ", tshark " $6 ">" $7)
        if (rc == 0 && (proto == 17 && next_p == "udp") && (sp != $8 || dp != $9)) bad("udp ports " sp ">" dp ", tshark " $8 ">" $9)
      } else if (protos ~ /^(eth:ethertype|sll:ethertype|sll2?:ethertype|null|raw)(:vlan:ethertype)*:ipv?6?(:|$)/ &&
                 rc != 3 && rc != 4) {
        bad("we see no IP (rc " rc "), tshark sees " protos)
      }
    }
    END { if (NR == 0) print rel ": no packets compared" }'
}
export -f decode_compare

@test "addresses and ports agree with tshark for every packet we decode" {
  list=$(awk -F'\t' 'NR>1 && $8=="capture" && $12=="ok" && $10 ~ /^(ether|linux-sll|linux-sll2|null|rawip|rawip4|rawip6)$/ {print $1}' "$SRC")
  n=$(printf '%s\n' "$list" | wc -l)
  [ "$n" -gt 250 ] || fail "only $n captures listed"
  out=$(printf '%s\n' "$list" | DUMP=$DUMP KF_CORPUS=$KF_CORPUS \
        xargs -P 2 -I{} bash -c 'decode_compare "$KF_CORPUS/{}" "{}"' | grep -v ': no packets compared$' || true)
  [ -z "$out" ] || { echo "$out" | head -40; fail "$(echo "$out" | wc -l) packets differ"; }
}

@test "decoder finds TCP and UDP in the corpus (the comparison is not vacuous)" {
  f=$KF_CORPUS/http1/zeek__get.pcap
  run "$DUMP" --dump "$f"
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "${lines[@]}" | awk '$2 == 0 && $6 == 6' | wc -l)" -eq 14 ]
}
