#!/usr/bin/env bats
# Every capture of the shared corpus read by kf_capread (through `test_capread --dump`) gives the
# same packets as tshark: count, frame number, time stamp (at tshark's printed precision: ns),
# captured and wire length. Where tshark refuses a file we must refuse it too (libpcap's savefile_reject
# cases) or at least not crash.
load helpers

setup() {
  : "${KF_UNITS:=$KF_ROOT/build/tests}"
  DUMP="$KF_UNITS/test_capread"
  [ -x "$DUMP" ] || fail "$DUMP not built"
  command -v tshark >/dev/null || fail "tshark not installed"
  SRC=$KF_CORPUS/SOURCES.tsv
  [ -f "$SRC" ] || fail "corpus not found at $KF_CORPUS"
}

# tshark's frame.time_epoch, normalised: it prints unnormalised fractions for invalid stamps
# (e.g. 1418145370.1000000000, or -S.F with F >= 1e9 when the fraction field has its top bit
# set); the file's value is S + F/1e9 either way. An empty stamp (pcapng SPB) becomes "-".
# tshark 4 shows pcapng custom blocks as frames (field 4, frame.cb_pen, set): they are not
# packets, our reader skips them, so they are dropped here.
norm_tshark() {
  awk -F'\t' '$5 == "" {
    t = $1
    if (t == "") t = "-"
    else {
      sub(/^-/, "", t)
      n = index(t, "."); s = substr(t, 1, n - 1); f = substr(t, n + 1)
      while (length(f) < 9) f = f "0"
      if (length(f) > 9) { c = substr(f, 1, length(f) - 9); f = substr(f, length(f) - 8); s = s + c }
      t = sprintf("%.0f.%s", s, f)
    }
    print $4, t, $2, $3
  }'
}

# compare FILE -> prints nothing when equal, else a short diff
compare_one() {
  local f=$1 rel=$2 want got
  want=$(tshark -r "$f" -T fields -e frame.time_epoch -e frame.cap_len -e frame.len -e frame.number -e frame.cb_pen \
         2>/dev/null | norm_tshark)
  # Known tshark defect: a µs field >= 2^31 is multiplied by 1000 in 32 bits (0x80000000 µs
  # shows as .000000000). The file holds 1418145370 s + 2147483648 µs; we give that value.
  [ "$rel" = pcapng/tcpdump__timestamp_invalid_micro.pcap ] &&
    want=$(printf '%s\n' "$want" | sed '3s/^3 1418145370\.000000000 /3 1418147517.483648000 /')
  got=$("$DUMP" --dump "$f" 2>&1)
  local rc=$?
  if [ $rc -gt 2 ]; then echo "$rel: reader crashed (rc $rc)"; return; fi
  got=$(printf '%s\n' "$got" | awk '$1 ~ /^[0-9]+$/ {print $1, $2, $3, $4}')
  if [ "$want" != "$got" ]; then
    echo "$rel: differs from tshark:"
    diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -6
  fi
}
export -f compare_one norm_tshark

@test "every capture tshark opens reads with tshark's packet count, time stamps and lengths" {
  list=$(awk -F'\t' 'NR>1 && $8=="capture" && $9!="json" && $12=="ok" {print $1}' "$SRC")
  n=$(printf '%s\n' "$list" | wc -l)
  [ "$n" -gt 300 ] || fail "only $n captures listed"
  out=$(printf '%s\n' "$list" | DUMP=$DUMP KF_CORPUS=$KF_CORPUS \
        xargs -P 2 -I{} bash -c 'compare_one "$KF_CORPUS/{}" "{}"')
  [ -z "$out" ] || { echo "$out" | head -60; fail "$(echo "$out" | grep -c differs) of $n captures differ"; }
  # the comparison is not vacuous: the corpus holds thousands of packets
  total=$(printf '%s\n' "$list" | while read -r f; do "$DUMP" --dump "$KF_CORPUS/$f"; done | grep -c '^[0-9]')
  [ "$total" -gt 5000 ] || fail "only $total packets read"
}

@test "files tshark refuses: we refuse the same ones or read them without crashing" {
  list=$(awk -F'\t' 'NR>1 && $8=="capture" && $9!="json" && $12!="ok" {print $1}' "$SRC")
  [ -n "$list" ] || fail "no refused files listed"
  while read -r f; do
    run "$DUMP" --dump "$KF_CORPUS/$f"
    [ "$status" -le 2 ] || fail "$f: crashed (status $status)"
    why=$(awk -F'\t' -v f="$f" '$1==f {print $12}' "$SRC")
    case "$why" in
      # tshark does not know these link types; reading them is fine for us
      *"network type"*unknown*) ;;
      # everything else is a damaged or unsupported file: we must end in an error
      *) [[ "${lines[-1]}" == error:* ]] || fail "$f: tshark says '$why' but we ended with '${lines[-1]}'" ;;
    esac
  done <<< "$list"
}

@test "corrupted pcap: the 27 good packets, then an error naming the offset" {
  run "$DUMP" --dump "$KF_CORPUS/pcapng/pcapfileex__corrupted.pcap"
  [ "$(printf '%s\n' "${lines[@]}" | grep -c '^[0-9]')" -eq 27 ]
  assert_line --regexp '^error: offset [0-9]+: pcap record of 8323328 bytes'
}

@test "libpcap's savefile_reject cases that tshark also refuses are errors for us" {
  json=$KF_CORPUS/bpf/libpcap_filter_apply.json
  names=$(jq -r '.savefile_reject_tests[].savefile' "$json" 2>/dev/null ||
          python3 -c 'import json,sys; [print(t["savefile"]) for t in json.load(open(sys.argv[1]))["savefile_reject_tests"]]' "$json")
  [ -n "$names" ] || fail "no reject cases found"
  n=0
  while read -r s; do
    f=$(ls "$KF_CORPUS"/*/libpcap__"$s" 2>/dev/null | head -1)
    [ -n "$f" ] || continue
    rel=${f#"$KF_CORPUS"/}
    tsh=$(awk -F'\t' -v f="$rel" '$1==f {print $12}' "$SRC")
    run "$DUMP" --dump "$f"
    if [ "$tsh" = ok ]; then
      # libpcap rejects (e.g. pcap 2.5) but tshark reads it: we follow tshark
      [ "${lines[-1]}" = end ] || fail "$s: tshark reads it, we ended with '${lines[-1]}'"
    else
      [[ "${lines[-1]}" == error:* ]] || fail "$s: expected an error, got '${lines[-1]}'"
      n=$((n + 1))
    fi
  done <<< "$names"
  [ "$n" -ge 5 ] || fail "only $n reject cases checked"
}

@test "gzip'd capture and standard input read the same packets as the plain file" {
  f=$KF_CORPUS/pcapng/pcapngtg__le_difficult_test202.pcapng
  plain=$("$DUMP" --dump "$f")
  gzip -c "$f" > "$BATS_TEST_TMPDIR/x.pcapng.gz"
  run "$DUMP" --dump "$BATS_TEST_TMPDIR/x.pcapng.gz"
  [ "$output" = "$plain" ]
  run bash -c "cat '$f' | '$DUMP' --dump -"
  [ "$output" = "$plain" ]
  run bash -c "gzip -c '$f' | '$DUMP' --dump -"
  [ "$output" = "$plain" ]
}
