#!/usr/bin/env bash
# Compares kexport's BPF selection with tcpdump's, for one capture and one filter:
#   reference:  tcpdump --time-stamp-precision=nano -r CAPTURE -w ref.pcap FILTER
#   ours:       kexport -F pcap -f FILTER CAPTURE  and  kexport -f FILTER CAPTURE (pcapng)
# Both outputs are read back by tcpdump (an independent reader) into nanosecond pcap, and the
# packet records (timestamp, lengths, bytes) must be identical to the reference's.
# When tcpdump refuses the filter, kexport must fail too (exit 2) and leave no file.
# usage: bpf_compare.sh KEXPORT_BIN CAPTURE FILTER WORKDIR
# Prints "ok N" (packets) or "FAIL: why"; exit 0 / 1.
set -u
kx=$1 cap=$2 filter=$3 w=$4
mkdir -p "$w"
rm -f "$w"/ref.pcap "$w"/a.pcap "$w"/b.pcapng "$w"/a.n "$w"/b.n
ts() { tcpdump --time-stamp-precision=nano "$@"; }
ts -r "$cap" -w "$w/ref.pcap" "$filter" 2>"$w/ref.err"; rt=$?
"$kx" -F pcap -f "$filter" "$cap" -o "$w/a.pcap" 2>"$w/a.err"; ra=$?
"$kx" -f "$filter" "$cap" -o "$w/b.pcapng" 2>"$w/b.err"; rb=$?
if [ $rt -ne 0 ]; then
  if [ $ra -ne 2 ] || [ $rb -ne 2 ]; then
    echo "FAIL: tcpdump refused ($(head -c 200 "$w/ref.err" | tr '\n' ' ')) but kexport exited $ra/$rb"; exit 1
  fi
  if [ -e "$w/a.pcap" ] || [ -e "$w/b.pcapng" ]; then echo "FAIL: kexport failed but left a file"; exit 1; fi
  echo "ok refused"; exit 0
fi
count() { tcpdump -# -n -r "$1" 2>/dev/null | grep -cE '^ *[0-9]+  '; }
n=$(count "$w/ref.pcap")
want=0; [ "$n" -eq 0 ] && want=1
for x in a:a.pcap:$ra b:b.pcapng:$rb; do
  IFS=: read -r tag f rc <<<"$x"
  if [ "$rc" -ne "$want" ]; then echo "FAIL: $f: exit $rc, want $want ($(head -c 300 "$w/$tag.err" | tr '\n' ' '))"; exit 1; fi
  if ! ts -r "$w/$f" -w "$w/$tag.n" 2>"$w/$tag.rerr"; then
    echo "FAIL: tcpdump cannot read kexport's $f: $(head -c 200 "$w/$tag.rerr")"; exit 1
  fi
  if ! cmp -s <(tail -c +25 "$w/ref.pcap") <(tail -c +25 "$w/$tag.n"); then
    echo "FAIL: $f: packets differ from tcpdump's ($n expected, $(count "$w/$tag.n") written)"; exit 1
  fi
done
echo "ok $n"
