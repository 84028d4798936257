#!/usr/bin/env bats
# kdissect's DNS answers when a response has many or long records (proto/dns.c write_answers):
# at most 64 records, data cut at 599 bytes, dns_answers and the answer section of dns_records
# the same text (the first is kept in a 4 KiB buffer for the second and made again when it does
# not fit: these answers do not). Capture: tests/kdissect/mkdnsbig.py. Oracle: tshark's fields.
load helpers

KD() { "$KF_BIN/kdissect" "$@"; }

setup() {
  TMP=$(mktemp -d)
  python3 "$KF_ROOT/tests/kdissect/mkdnsbig.py" "$TMP/d.pcap"
  KD "$TMP/d.pcap" > "$TMP/o"
}
teardown() { rm -rf "$TMP"; }

@test "kdissect dns: 22 long TXT answers as tshark reads them (the last cut at 599 bytes), SOA and glue, no OPT" {
  # tshark: every character-string of every TXT record (letters only), in order; mkdnsbig.py puts
  # one string in each of the first 21 records and three in the last
  tshark -n -r "$TMP/d.pcap" -Y 'dns.id == 0x1111 && dns.flags.response == 1' -T fields -e dns.txt 2>/dev/null |
    tr ',' '\n' > "$TMP/strings"
  [ "$(wc -l < "$TMP/strings")" -eq 24 ]
  { head -21 "$TMP/strings" | sed 's/.*/"&"/'
    tail -3 "$TMP/strings" | sed 's/.*/"&"/' | paste -sd' ' | cut -c1-599; } > "$TMP/want"
  jq -r 'select(.dns_id == 4369) | .dns_answers[]' "$TMP/o" > "$TMP/got"
  diff "$TMP/want" "$TMP/got"
  [ "$(tail -1 "$TMP/got" | wc -c)" -eq 600 ]
  jq -r 'select(.dns_id == 4369) | .dns_records[] | select(.section == "answer") | .data' "$TMP/o" | diff "$TMP/want" -
  soa=$(tshark -n -r "$TMP/d.pcap" -Y 'dns.id == 0x1111 && dns.flags.response == 1' -T fields -e dns.soa.mname \
        -e dns.soa.rname -e dns.soa.serial_number -e dns.soa.refresh_interval -e dns.soa.retry_interval \
        -e dns.soa.expire_limit -e dns.soa.minimum_ttl 2>/dev/null | tr '\t' ' ')
  run jq -r 'select(.dns_id == 4369) | .dns_records[] | select(.section != "answer") | "\(.section) \(.name) \(.type) \(.data)"' "$TMP/o"
  assert_output "authority example.test SOA $soa
additional ns1.example.test A 192.0.2.53"
}

@test "kdissect dns: 80 A answers: the first 64, as tshark lists them" {
  tshark -n -r "$TMP/d.pcap" -Y 'dns.id == 0x2222 && dns.flags.response == 1' -T fields -e dns.a 2>/dev/null |
    tr ',' '\n' > "$TMP/a"
  [ "$(wc -l < "$TMP/a")" -eq 80 ]
  head -64 "$TMP/a" > "$TMP/want"
  jq -r 'select(.dns_id == 8738) | .dns_answers[]' "$TMP/o" | diff "$TMP/want" -
  jq -r 'select(.dns_id == 8738) | .dns_records[] | .data' "$TMP/o" | diff "$TMP/want" -
}
