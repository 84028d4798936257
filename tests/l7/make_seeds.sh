#!/usr/bin/env bash
# Makes fuzz seeds for tests/fuzz/fuzz_proto_<p>.c from corpus captures (run on purpose, not by
# tests): the TCP payloads of the first connection, in capture order, in the fake engine's
# input format ([control: bit 0 = direction][length][bytes], 255-byte pieces), cut at 16 KiB.
# Usage: make_seeds.sh PROTO CAPTURE... (direction 0 = the side that sent first)
set -eu
p=$1; shift
out=$(cd "$(dirname "$0")/../fuzz" && pwd)/corpus/fuzz_proto_$p
mkdir -p "$out"
for f in "$@"; do
  name=$(basename "$f" | sed 's/\.[^.]*$//')
  tshark -r "$f" -Y "tcp.len > 0 && tcp.stream == 0" -T fields -e tcp.srcport -e tcp.payload 2>/dev/null |
  awk '
    NR == 1 { first = $1 }
    { dir = ($1 == first) ? 0 : 1; hex = $2; gsub(/:/, "", hex)
      while (length(hex) > 0 && total < 16384) {
        piece = substr(hex, 1, 510); hex = substr(hex, 511)
        printf "%02x%02x%s", dir, length(piece) / 2, piece; total += length(piece) / 2 + 2 } }' |
  xxd -r -p > "$out/$name"
  [ -s "$out/$name" ] || rm -f "$out/$name"
done
ls "$out" | wc -l
