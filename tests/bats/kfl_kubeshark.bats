#!/usr/bin/env bats
# Every KFL2 filter of Kubeshark's current docs and agent skills (tests/kfl/kubeshark_filters.tsv,
# with where each one is) compiles with kfl as written: no unknown variable, no type error.
load helpers

@test "kfl: every filter of Kubeshark's docs and skills compiles verbatim" {
  n=0 bad=0
  while IFS=$'\t' read -r f src; do
    [[ -z "$f" || "$f" == \#* ]] && continue
    n=$((n + 1))
    if ! err=$("$KF_BIN/kfl" --check "$f" 2>&1 >/dev/null); then
      echo "# $src: $f: $err"; bad=$((bad + 1))
    fi
  done < "$KF_ROOT/tests/kfl/kubeshark_filters.tsv"
  echo "# $n filters, $bad do not compile"
  [ "$n" -ge 190 ]
  [ "$bad" -eq 0 ]
}

@test "kfl: the Kubeshark filters on the registry's new variables select records" {
  # a filter that compiles but selects nothing here would hide a field nobody writes
  F=$KF_ROOT/tests/l7/captures
  run bash -c "'$KF_BIN/kdissect' --no-conn '$F/radius.pcap' | '$KF_BIN/kfl' -c 'radius && radius_code_name == \"Access-Request\"'"
  [ "$output" -ge 1 ]
  run bash -c "'$KF_BIN/kdissect' --no-conn '$F/fields.pcap' | '$KF_BIN/kfl' -c 'gql && (gqlv1 || gqlv2)'"
  [ "$output" = 2 ]
  run bash -c "'$KF_BIN/kdissect' --no-conn '$F/mongo_synthetic.pcap' | '$KF_BIN/kfl' -c 'mongodb && mongodb_total_size > 0 && mongodb_opcode == \"OP_MSG\"'"
  [ "$output" -ge 1 ]
}
