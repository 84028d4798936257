#!/usr/bin/env bats
# kresolve: IP reuse over time, filters, output forms, exit codes, and every kubectl file of
# the corpus loading without loss (jq over the same file is the oracle).
load helpers

setup() {
  T=$BATS_TEST_TMPDIR
  pod() { # ts type ns name uid ip [created]
    printf '{"ts":"%s","type":"%s","object":{"kind":"Pod","metadata":{"name":"%s","namespace":"%s","uid":"%s","creationTimestamp":"%s","labels":{"app":"%s"}},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIP":"%s"}}}\n' \
      "$1" "$2" "$4" "$3" "$5" "${7:-$1}" "${4%%-*}" "$6"
  }
  {
    pod 2026-03-14T10:00:00Z ADDED   shop orders-1  ua 10.0.0.5
    pod 2026-03-14T11:00:00Z DELETED shop orders-1  ua 10.0.0.5 2026-03-14T10:00:00Z
    pod 2026-03-14T11:30:00Z ADDED   pay  payment-1 ub 10.0.0.5
    pod 2026-03-14T11:30:00Z ADDED   pay  payment-2 uc 10.0.0.6
  } > "$T/ev.ndjson"
}

@test "kresolve ips: IP reuse resolves to each holder in its interval" {
  run "$KF_BIN/kresolve" ips "$T/ev.ndjson" --ip 10.0.0.5 --at 2026-03-14T10:30:00Z
  assert_success
  assert_output --partial '"name":"orders-1","namespace":"shop"'
  refute_output --partial payment-1
  run "$KF_BIN/kresolve" ips "$T/ev.ndjson" --ip 10.0.0.5 --at 2026-03-14T12:00:00Z
  assert_success
  assert_output --partial '"name":"payment-1","namespace":"pay"'
  refute_output --partial orders-1
  run "$KF_BIN/kresolve" ips "$T/ev.ndjson" --ip 10.0.0.5 --at 2026-03-14T11:15:00Z
  assert_failure 1
  assert_output ""
}

@test "kresolve ips without --at: both holders with their intervals" {
  run "$KF_BIN/kresolve" ips "$T/ev.ndjson" --ip 10.0.0.5
  assert_success
  [ "${#lines[@]}" -eq 1 ]
  r=$(echo "$output" | jq -c '[.records[] | [.name, .namespace, .from, .to]]')
  [ "$r" = '[["orders-1","shop","2026-03-14T10:00:00.000000000Z","2026-03-14T11:00:00.000000000Z"],["payment-1","pay","2026-03-14T11:30:00.000000000Z",null]]' ]
}

@test "kresolve workloads: filters, kinds, ips with intervals" {
  run "$KF_BIN/kresolve" workloads "$T/ev.ndjson" --namespace pay
  assert_success
  [ "${#lines[@]}" -eq 2 ]
  run "$KF_BIN/kresolve" workloads "$T/ev.ndjson" --name orders-1
  assert_success
  [ "$(echo "$output" | jq -c '[.kind, .name, .ips]')" = '["pod","orders-1",[{"ip":"10.0.0.5","from":"2026-03-14T10:00:00.000000000Z","to":"2026-03-14T11:00:00.000000000Z"}]]' ]
  run "$KF_BIN/kresolve" workloads "$T/ev.ndjson" --name-regex '^pay.*-2$'
  assert_success
  assert_output --partial payment-2
  refute_output --partial payment-1
  run "$KF_BIN/kresolve" workloads "$T/ev.ndjson" --label app=orders
  assert_success
  [ "${#lines[@]}" -eq 1 ]
  run "$KF_BIN/kresolve" workloads "$T/ev.ndjson" --at 2026-03-14T10:30:00Z
  assert_success
  [ "${#lines[@]}" -eq 1 ]
  run "$KF_BIN/kresolve" workloads "$T/ev.ndjson" --type service
  assert_failure 1
}

@test "kresolve --bpf prints a tcpdump filter tcpdump accepts" {
  run "$KF_BIN/kresolve" workloads "$T/ev.ndjson" --namespace pay --bpf
  assert_success
  assert_output "host 10.0.0.5 or host 10.0.0.6"
  tcpdump -d "$output" >/dev/null
  run "$KF_BIN/kresolve" ips "$T/ev.ndjson" --ip 10.9.9.9 --bpf
  assert_failure 1
}

@test "kresolve: table with --table, usage and input errors exit 2" {
  run "$KF_BIN/kresolve" ips "$T/ev.ndjson" --table
  assert_success
  assert_line --index 0 --regexp '^IP +KIND +NAMESPACE'
  run "$KF_BIN/kresolve" ips "$T/ev.ndjson" --ip not-an-ip
  assert_failure 2
  run "$KF_BIN/kresolve" frobnicate x
  assert_failure 2
  run "$KF_BIN/kresolve" ips "$T/missing.json"
  assert_failure 2
  assert_output --partial "missing.json"
  printf '{"ts":"2026-03-14T10:00:00Z","type":"ADDED","object":{"kind":"Pod",\n' > "$T/bad.json"
  cat "$T/ev.ndjson" >> "$T/bad.json"
  # a bad line is skipped with a warning, the rest kept (issue 21: readers do not fail on it)
  run "$KF_BIN/kresolve" ips "$T/bad.json"
  assert_success
  assert_output --partial "bad.json: line 1:"
  assert_output --partial "(skipped; the rest is kept)"
  assert_output --partial payment-1
  run "$KF_BIN/kresolve" --help
  assert_success
  assert_output --partial "usage: kresolve"
}

@test "kresolve reads a store DIR and a snapshot" {
  mkdir -p "$T/st/meta"
  cp "$T/ev.ndjson" "$T/st/meta/20260314T100000.000000000Z.ndjson"
  run "$KF_BIN/kresolve" ips "$T/st" --ip 10.0.0.5 --at 2026-03-14T12:00:00Z
  assert_success
  assert_output --partial payment-1
}

@test "every kubectl file of the corpus loads without loss (jq oracle)" {
  [ -d "$KF_CORPUS/k8s" ] || skip "no corpus"
  n=0
  for f in "$KF_CORPUS"/k8s/*.json; do
    for k in Pod Service Node; do
      want=$(jq --arg k "$k" '(if .items then .items else [.] end) as $i | ((.kind // "") | sub("List$"; "")) as $lk
               | [$i[] | select((.kind // $lk) == $k) | .metadata.uid // .metadata.name] | unique | length' "$f")
      t=$(echo "$k" | tr A-Z a-z)
      got=$("$KF_BIN/kresolve" workloads "$f" --type "$t" --json | wc -l)
      [ "$want" -eq "$got" ] || { echo "$f: $k: jq $want, kresolve $got"; return 1; }
    done
    want=$(jq '(if .items then .items else [.] end) as $i | ((.kind // "") | sub("List$"; "")) as $lk
      | [$i[] | (.kind // $lk) as $k |
          if $k == "Pod" then (select((.status.phase // "") != "Failed") | (.status.podIPs[]?.ip, .status.podIP))
          elif $k == "Service" then (.spec.clusterIPs[]?, .spec.clusterIP, .spec.externalIPs[]?, .status.loadBalancer.ingress[]?.ip)
          elif $k == "Node" then (.status.addresses[]? | select(.type == "InternalIP" or .type == "ExternalIP") | .address)
          else empty end
        | select(type == "string" and test("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$|:"))] | unique | length' "$f")
    got=$("$KF_BIN/kresolve" ips "$f" --json | wc -l)
    [ "$want" -eq "$got" ] || { echo "$f: IPs: jq $want, kresolve $got"; return 1; }
    n=$((n + 1))
  done
  [ "$n" -ge 20 ]
}

@test "kresolve: a table on a terminal, NDJSON when piped" {
  command -v script >/dev/null || skip "no script(1)"
  run script -qec "'$KF_BIN/kresolve' workloads '$T/ev.ndjson' --namespace shop" /dev/null
  assert_success
  assert_output --regexp 'KIND +NAMESPACE +NAME'
  assert_output --partial "10.0.0.5 [2026-03-14 10:00:00 UTC .. 2026-03-14 11:00:00 UTC]"
  run bash -c "'$KF_BIN/kresolve' workloads '$T/ev.ndjson' --namespace shop | head -c 1"
  assert_output "{"
}

@test "kresolve --name-regex: RE2 syntax (Python re as the oracle), linear time on a backtracking bomb" {
  # names of the demo snapshot's workloads; each pattern's matches against Python's re.search
  run "$KF_BIN/kresolve" workloads "$SAMPLES/demo.ksnap"
  assert_success
  echo "$output" | jq -r .name > "$T/names"
  [ "$(wc -l < "$T/names")" -ge 5 ]
  for re in '^orders' '-\d+$' '\w+-[a-f\d]{9,10}-\w{5}$' '(?i)^CART' '^(?:kube|core)' 'e[^a-z]'; do
    run "$KF_BIN/kresolve" workloads "$SAMPLES/demo.ksnap" --name-regex "$re"
    [ "$status" -le 1 ]
    got=$(echo "$output" | jq -r 'select(. != null) | .name' | sort)
    want=$(python3 -c 'import re, sys
r = re.compile(sys.argv[1])
print("\n".join(sorted(n for n in open(sys.argv[2]).read().split("\n") if n and r.search(n))))' "$re" "$T/names")
    [ "$got" = "$want" ] || { echo "--name-regex '$re': got [$got], Python re: [$want]"; return 1; }
  done
  # a Pod named with 100 000 'a' and a '!': glibc's backtracking regexec took over a minute on
  # (a+)+$ (stopped at 60 s); the NFA answers at once
  python3 -c "
import json
for i, n in enumerate(['a' * 100000 + '!', 'payment-12']):
    print(json.dumps({'ts': '2026-03-14T10:00:00Z', 'type': 'ADDED', 'object': {'kind': 'Pod',
        'metadata': {'name': n, 'namespace': 'p', 'uid': 'u%d' % i}, 'status': {'podIP': '10.0.0.%d' % (i + 1)}}}))
" > "$T/long.ndjson"
  run timeout 10 "$KF_BIN/kresolve" workloads "$T/long.ndjson" --name-regex '(a+)+$'
  assert_failure 1
  run timeout 10 "$KF_BIN/kresolve" workloads "$T/long.ndjson" --name-regex '^[a-z]+!$'
  assert_success
  [ "$(echo "$output" | jq -r '.name | length')" -eq 100001 ]
  # RE2's refusals are usage errors
  run "$KF_BIN/kresolve" workloads "$T/long.ndjson" --name-regex '(a)\1'
  assert_failure 2
  [[ "$output" == *"--name-regex:"* ]]
}
