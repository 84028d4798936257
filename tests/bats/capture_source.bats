#!/usr/bin/env bats
# capture_source / capture_backend (issue 13): ksnap records its capture backend in each IDB's
# opt_comment ("kforensics-capture: ebpf", docs/store.md); kexport and ksnap freeze keep it;
# kdissect writes it into every record. Oracles: capinfos (Wireshark) reads the IDB comment,
# jq reads the records; kfl's capture_source/capture_backend variables must agree with jq.
# tests/kdissect/ksnap-ebpf.pcapng is a segment `ksnap capture --backend ebpf` wrote (curl
# GET over a veth pair in a network namespace; the live run is in ksnap_capture.bats).
load helpers

setup() {
  T=$BATS_TEST_TMPDIR
  EBPF=$KF_ROOT/tests/kdissect/ksnap-ebpf.pcapng
}

# every record of NDJSON file $1 has capture_source $2 and capture_backend $3; at least $4 records
all_captured() {
  local n bad
  n=$(wc -l <"$1")
  [ "$n" -ge "$4" ] || fail "$1: $n records, want at least $4"
  bad=$(jq -c --arg s "$2" --arg b "$3" 'select(.capture_source != $s or .capture_backend != $b)
        | {protocol, capture_source, capture_backend}' "$1")
  [ -z "$bad" ] || fail "$1: records not captured by $2/$3: $bad"
  record_fields "$1"
}

@test "capture_source: a segment ksnap's eBPF backend wrote says so (capinfos), kdissect writes ebpf, kfl selects it" {
  run capinfos "$EBPF"
  assert_success
  assert_line --regexp '^ +Comment = kforensics-capture: ebpf$'
  "$KF_BIN/kdissect" --json "$EBPF" >"$T/r.ndjson"
  all_captured "$T/r.ndjson" ebpf ebpf 2
  [ "$(jq -c 'select(.protocol == "HTTP") | [.method, .path, .status_code]' "$T/r.ndjson")" = '["GET","/small",200]' ]
  n=$(wc -l <"$T/r.ndjson")
  run "$KF_BIN/kfl" -c 'capture_source == "ebpf" && capture_backend == "ebpf"' "$T/r.ndjson"
  assert_success
  assert_output "$n"
  run "$KF_BIN/kfl" -c 'capture_source == "af_packet" || capture_backend != "ebpf"' "$T/r.ndjson"
  assert_failure 1
  assert_output 0
}

@test "capture_source: kexport and ksnap freeze keep the backend (IDB comment); a file others wrote is af_packet" {
  # kexport: the IDB comment goes along (capinfos), and the export dissects as ebpf again
  "$KF_BIN/kexport" "$EBPF" -o "$T/x.pcapng"
  run capinfos "$T/x.pcapng"
  assert_success
  assert_line --regexp '^ +Comment = kforensics-capture: ebpf$'
  "$KF_BIN/kdissect" --json "$T/x.pcapng" >"$T/x.ndjson"
  all_captured "$T/x.ndjson" ebpf ebpf 2
  # a store holding the segment, frozen into a snapshot, read from stdin
  mkdir -p "$T/store/n1"
  cp "$EBPF" "$T/store/n1/20261207T064159.718031422Z.pcapng"
  "$KF_BIN/ksnap" freeze --dir "$T/store" --from 2026-12-07T06:40:00Z --to 2026-12-07T06:45:00Z -o "$T/s.ksnap"
  "$KF_BIN/kdissect" --json - <"$T/s.ksnap" >"$T/s.ndjson"
  all_captured "$T/s.ndjson" ebpf ebpf 2
  # classic pcap has no place for it: af_packet, as for any capture ksnap did not write
  "$KF_BIN/kexport" -F pcap "$EBPF" -o "$T/x.pcap"
  "$KF_BIN/kdissect" --json "$T/x.pcap" >"$T/p.ndjson"
  all_captured "$T/p.ndjson" af_packet af_packet 2
  "$KF_BIN/kdissect" --json "$KF_CORPUS/http1/zeek__get.pcap" >"$T/z.ndjson"
  all_captured "$T/z.ndjson" af_packet af_packet 2
}
