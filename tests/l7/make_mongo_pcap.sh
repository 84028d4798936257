#!/usr/bin/env bash
# Builds tests/l7/captures/mongo_synthetic.pcap (run on purpose; the capture is committed): a
# MongoDB conversation written byte by byte from the wire-protocol and BSON specifications
# (no MongoDB server is packaged in Debian), wrapped in TCP by text2pcap. It holds OP_MSG
# hello, find, an insert answered with a duplicate-key writeError, a command failing with
# ok:0/code/errmsg, and a legacy OP_QUERY/OP_REPLY.
set -eu
out=$(cd "$(dirname "$0")" && pwd)/captures/mongo_synthetic.pcap
le32() { printf '%02x%02x%02x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
hexs() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
cstr() { hexs "$1"; printf '00'; }
# BSON elements: e_str name value, e_int name n, e_dbl1 name (1.0), e_dbl0, e_doc name hexdoc
e_str() { local v; v=$(hexs "$2"); printf '02%s%s%s00' "$(cstr "$1")" "$(le32 $(( ${#v} / 2 + 1 )))" "$v"; }
e_int() { printf '10%s%s' "$(cstr "$1")" "$(le32 "$2")"; }
e_dbl1() { printf '01%s000000000000f03f' "$(cstr "$1")"; }
e_dbl0() { printf '01%s0000000000000000' "$(cstr "$1")"; }
e_arr() { printf '04%s%s' "$(cstr "$1")" "$2"; }
e_doc() { printf '03%s%s' "$(cstr "$1")" "$2"; }
doc() { local body="$1"; printf '%s%s00' "$(le32 $(( ${#body} / 2 + 5 )))" "$body"; }
# messages
msg() { # requestID responseTo opcode bodyhex
  local b=$4; printf '%s%s%s%s%s' "$(le32 $(( ${#b} / 2 + 16 )))" "$(le32 "$1")" "$(le32 "$2")" "$(le32 "$3")" "$b"; }
opmsg() { printf '00000000''00%s' "$1"; }   # flagBits 0, section kind 0, document
hexdump_pkt() { # dir hex
  echo "$1"; printf '%s' "$2" | fold -w 32 | awk '{ printf "%06x", (NR - 1) * 16; for (i = 1; i <= length($0); i += 2) printf " %s", substr($0, i, 2); print "" }'; }
{
  hexdump_pkt I "$(msg 1 0 2013 "$(opmsg "$(doc "$(e_int hello 1)$(e_str '$db' admin)")")")"
  hexdump_pkt O "$(msg 101 1 2013 "$(opmsg "$(doc "$(e_int isWritablePrimary 1)$(e_int maxWireVersion 21)$(e_dbl1 ok)")")")"
  hexdump_pkt I "$(msg 2 0 2013 "$(opmsg "$(doc "$(e_str find orders)$(e_doc filter "$(doc "$(e_str status paid)")")$(e_str '$db' shop)")")")"
  hexdump_pkt O "$(msg 102 2 2013 "$(opmsg "$(doc "$(e_doc cursor "$(doc "$(e_int id 0)$(e_str ns shop.orders)")")$(e_dbl1 ok)")")")"
  hexdump_pkt I "$(msg 3 0 2013 "$(opmsg "$(doc "$(e_str insert orders)$(e_str '$db' shop)")")")"
  hexdump_pkt O "$(msg 103 3 2013 "$(opmsg "$(doc "$(e_int n 0)$(e_arr writeErrors "$(doc "$(e_doc 0 "$(doc "$(e_int index 0)$(e_int code 11000)$(e_str errmsg 'E11000 duplicate key error')")")")")$(e_dbl1 ok)")")")"
  hexdump_pkt I "$(msg 4 0 2013 "$(opmsg "$(doc "$(e_str drop nosuch)$(e_str '$db' shop)")")")"
  hexdump_pkt O "$(msg 104 4 2013 "$(opmsg "$(doc "$(e_dbl0 ok)$(e_str errmsg 'ns not found')$(e_int code 26)$(e_str codeName NamespaceNotFound)")")")"
  hexdump_pkt I "$(msg 5 0 2004 "00000000$(cstr shop.users)0000000001000000$(doc "$(e_str name bob)")")"
  hexdump_pkt O "$(msg 105 5 1 "00000000""0000000000000000""00000000""01000000$(doc "$(e_str name bob)$(e_int age 42)")")"
} > "${out%.pcap}.txt"
text2pcap -q -F pcap -D -4 10.0.0.1,10.0.0.2 -T 40001,27017 "${out%.pcap}.txt" "$out"
rm -f "${out%.pcap}.txt"
echo "$out"
