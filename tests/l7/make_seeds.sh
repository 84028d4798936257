#!/usr/bin/env bash
# Makes fuzz seeds from captures (run on purpose, not by tests): the payloads of the first TCP
# connection (or UDP conversation), in capture order, cut at 16 KiB.
#   make_seeds.sh PROTO CAPTURE...        tests/fuzz/corpus/fuzz_proto_<PROTO>/<capture>: the fake
#                                         engine's input ([control: bit 0 = direction][length]
#                                         [bytes], 255-byte pieces) for tests/fuzz/fuzz_proto_<PROTO>.c
#   make_seeds.sh --table NAME[/udp] CAPTURE...
#                                         tests/fuzz/corpus/fuzz_proto/<NAME>.<capture>: the same,
#                                         after the line "NAME[/udp]", for tests/fuzz/fuzz_proto.c (every
#                                         dissector of the table); /udp: one piece per datagram
#                                         (cut at 255 bytes), control bit 1 = probe it first
# Direction 0 = the side that sent first. Needs tshark and xxd.
set -eu
fuzz=$(cd "$(dirname "$0")/../fuzz" && pwd)
table=0
if [ "$1" = --table ]; then table=1; shift; fi
p=$1; shift
udp=0; [[ "$p" == */udp ]] && udp=1
if [ "$table" = 1 ]; then out=$fuzz/corpus/fuzz_proto; else out=$fuzz/corpus/fuzz_proto_$p; fi
mkdir -p "$out"
for f in "$@"; do
  name=$(basename "$f" | sed 's/\.[^.]*$//')
  dst=$out/$name
  [ "$table" = 1 ] && dst=$out/${p%%/*}.$name
  {
    [ "$table" = 1 ] && printf '%s\n' "$p"
    if [ "$udp" = 1 ]; then
      tshark -r "$f" -Y "udp.length > 8 && udp.stream == 0" -T fields -e udp.srcport -e udp.payload 2>/dev/null
    else
      tshark -r "$f" -Y "tcp.len > 0 && tcp.stream == 0" -T fields -e tcp.srcport -e tcp.payload 2>/dev/null
    fi |
    awk -v udp="$udp" '
      NR == 1 { first = $1 }
      { dir = ($1 == first) ? 0 : 1; hex = $2; gsub(/:/, "", hex)
        if (udp) { hex = substr(hex, 1, 510); dir += 2 }
        while (length(hex) > 0 && total < 16384) {
          piece = substr(hex, 1, 510); hex = substr(hex, 511)
          printf "%02x%02x%s", dir, length(piece) / 2, piece; total += length(piece) / 2 + 2 } }' |
    xxd -r -p
  } > "$dst"
  [ "$(wc -c < "$dst")" -gt $(( ${#p} + 3 )) ] || rm -f "$dst"
done
ls "$out" | wc -l
