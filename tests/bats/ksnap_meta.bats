#!/usr/bin/env bats
# ksnap meta record / import: what kubectl prints in, the interchange format out.
load helpers

setup() {
  T=$BATS_TEST_TMPDIR
  # kubectl --watch --output-watch-events prints pretty-printed events one after another
  ev() { # type name uid ip rv
    jq -n --arg t "$1" --arg n "$2" --arg u "$3" --arg ip "$4" --arg rv "$5" \
      '{type:$t, object:{apiVersion:"v1", kind:"Pod", metadata:{name:$n, namespace:"shop", uid:$u, resourceVersion:$rv,
        creationTimestamp:"2026-03-14T10:00:00Z", managedFields:[{manager:"kubelet"}], labels:{app:"orders"},
        annotations:{"kubectl.kubernetes.io/last-applied-configuration":"{huge}", keep:"me"}},
        spec:{nodeName:"n1", containers:[{name:"c", image:"x"}]},
        status:{phase:"Running", podIP:$ip, podIPs:[{ip:$ip}], hostIP:"192.168.0.1", conditions:[{type:"Ready"}]}}}'
  }
}

@test "meta record: watch stream in, one trimmed interchange line per event out" {
  { ev ADDED orders-1 ua 10.0.0.5 1; ev MODIFIED orders-1 ua 10.0.0.5 2; ev DELETED orders-1 ua 10.0.0.5 3; } > "$T/w.json"
  run "$KF_BIN/ksnap" meta record --dir "$T/st" < "$T/w.json"
  assert_success
  run bash -c "cat '$T'/st/meta/*.ndjson"
  [ "${#lines[@]}" -eq 3 ]
  echo "$output" | jq -e -s 'map(.type) == ["ADDED","MODIFIED","DELETED"]'
  echo "$output" | jq -e -s 'all(.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z$"))'
  # kept: what resolution needs; dropped: managedFields, containers, conditions, last-applied
  echo "$output" | head -1 | jq -e '.object.metadata.uid == "ua" and .object.status.podIP == "10.0.0.5" and .object.metadata.annotations.keep == "me"'
  refute_output --partial managedFields
  refute_output --partial containers
  refute_output --partial conditions
  refute_output --partial last-applied
  ls "$T/st/meta" | grep -qv part
  run "$KF_BIN/kresolve" workloads "$T/st" --name orders-1
  assert_success
  assert_output --partial '"ip":"10.0.0.5"'
}

@test "meta record: a watch that restarts re-lists; unchanged objects are not stored twice" {
  { ev ADDED a ua 10.0.0.5 1; ev ADDED b ub 10.0.0.6 7; ev ADDED a ua 10.0.0.5 1; ev ADDED b ub 10.0.0.6 8; } > "$T/w.json"
  run "$KF_BIN/ksnap" meta record --dir "$T/st" < "$T/w.json"
  assert_success
  [ "$(cat "$T"/st/meta/*.ndjson | wc -l)" -eq 3 ]
}

@test "meta record: malformed input gives one error line with its line; the valid events are kept" {
  { ev ADDED a ua 10.0.0.5 1; printf '{\n  "type": "ADDED",\n  "object": {\n    "kind": "Pod",\n'; ev ADDED b ub 10.0.0.6 1; echo 'not json'; ev ADDED c uc 10.0.0.7 1; } > "$T/w.json"
  startline=$(( $(ev ADDED a ua 10.0.0.5 1 | wc -l) + 1 ))
  run "$KF_BIN/ksnap" meta record --dir "$T/st" < "$T/w.json"
  assert_failure 2
  assert_line --index 0 --partial "ksnap meta: standard input: line $startline:"
  [ "${#lines[@]}" -eq 2 ]
  [ "$(cat "$T"/st/meta/*.ndjson | wc -l)" -eq 3 ]
  # plain Lists and single objects from kubectl get -o json also work
  [ -d "$KF_CORPUS/k8s" ] || skip "no corpus"
  run "$KF_BIN/ksnap" meta record --dir "$T/st2" < "$KF_CORPUS/k8s/troubleshoot__k3s-pods-default.json"
  assert_success
  [ "$(cat "$T"/st2/meta/*.ndjson | wc -l)" -eq "$(jq '.items | length' "$KF_CORPUS/k8s/troubleshoot__k3s-pods-default.json")" ]
}

@test "meta record: rotation closes files, retention deletes the oldest, a left .part is recovered" {
  mkdir -p "$T/st/meta"
  printf '{"ts":"2026-03-14T09:00:00Z","type":"ADDED","object":{"kind":"Pod","metadata":{"name":"old","uid":"u0"}}}\n{"ts":"2026-03' > "$T/st/meta/20260314T090000.000000000Z.ndjson.part"
  for i in $(seq 1 20); do ev ADDED "p$i" "u$i" "10.0.1.$i" 1; done > "$T/w.json"
  run "$KF_BIN/ksnap" meta record --dir "$T/st" --rotate-size 1 --max-size 3000 < "$T/w.json"
  assert_success
  assert_output --partial "left by an earlier recorder"
  [ -z "$(ls "$T/st/meta" | grep part)" ]
  n=$(ls "$T/st/meta" | wc -l)
  [ "$n" -gt 1 ]
  [ "$n" -lt 21 ]
  [ "$(cat "$T"/st/meta/*.ndjson | wc -c)" -le 3000 ]
  # the newest events survive retention
  grep -q '"p20"' "$T"/st/meta/*.ndjson
}

@test "meta import: Lists stamped with --at, event files keep their times; then resolvable" {
  [ -d "$KF_CORPUS/k8s" ] || skip "no corpus"
  f=$KF_CORPUS/k8s/troubleshoot__k3s-pods-default.json
  run "$KF_BIN/ksnap" meta import --dir "$T/st" --at 2026-03-14T12:00:00Z "$f" "$KF_CORPUS/k8s/troubleshoot__k3s-services-default.json"
  assert_success
  run bash -c "cat '$T'/st/meta/*.ndjson | jq -r .ts | sort -u"
  assert_output "2026-03-14T12:00:00.000000000Z"
  ip=$(jq -r '[.items[] | .status.podIP // empty][0]' "$f")
  run "$KF_BIN/kresolve" ips "$T/st" --ip "$ip"
  assert_success
  printf '{"ts":"2026-03-14T08:00:00.5Z","type":"ADDED","object":{"kind":"Node","metadata":{"name":"n9","uid":"n9"},"status":{"addresses":[{"type":"InternalIP","address":"192.168.9.9"}]}}}\n' > "$T/ev.ndjson"
  run "$KF_BIN/ksnap" meta import --dir "$T/st" "$T/ev.ndjson"
  assert_success
  grep -h '"n9"' "$T"/st/meta/*.ndjson | jq -e '.ts == "2026-03-14T08:00:00.500000000Z"'
  ls "$T/st/meta" | grep -q '^20260314T080000.500000000Z.ndjson$'
  echo '{"nope": 1}' > "$T/bad.json"
  run "$KF_BIN/ksnap" meta import --dir "$T/st" "$T/bad.json"
  assert_failure
  assert_output --partial "bad.json: line 1"
  run "$KF_BIN/ksnap" meta import --dir "$T/st"
  assert_failure 2
}
