#!/usr/bin/env bats
# Pipes and kubectl habits (issue 20): '-' reads standard input everywhere, kresolve speaks
# kubectl's -n/-l, -j 0 means all cores, errors are one line 'tool: what'.
load helpers

setup() { W=$BATS_TEST_TMPDIR; SNAP=$SAMPLES/demo.ksnap; }
npk() { tcpdump -# -n -r "$1" 2>/dev/null | grep -cE '^ *[0-9]+  '; }

@test "pipes: a .ksnap on standard input to kdissect and kexport gives what the file gives" {
  "$KF_BIN/kdissect" "$SNAP" > "$W/file.ndjson"
  cat "$SNAP" | "$KF_BIN/kdissect" - > "$W/pipe.ndjson"
  [ -s "$W/file.ndjson" ]
  diff <(jq -c 'del(.id, .capture.file)' "$W/file.ndjson") <(jq -c 'del(.id, .capture.file)' "$W/pipe.ndjson")
  # -j 2 (ids and streams renumbered): the same calls
  cat "$SNAP" | "$KF_BIN/kdissect" -j 2 - | jq -c '[.timestamp, .protocol, .src.name, .dst.name]' | sort > "$W/j2"
  jq -c '[.timestamp, .protocol, .src.name, .dst.name]' "$W/file.ndjson" | sort | diff -q - "$W/j2"
  # kexport: the snapshot's metadata comes along (--workload needs it)
  "$KF_BIN/kexport" "$SNAP" --workload shop/orders -o "$W/file.pcapng"
  cat "$SNAP" | "$KF_BIN/kexport" - --workload shop/orders -o "$W/pipe.pcapng"
  [ "$(npk "$W/file.pcapng")" -gt 0 ]
  diff <(tcpdump -tt -n -r "$W/file.pcapng" 2>/dev/null) <(tcpdump -tt -n -r "$W/pipe.pcapng" 2>/dev/null)
  # a plain capture on standard input still works (the peeked bytes go back)
  cat "$SAMPLES/node-worker-1-pods.pcapng" | "$KF_BIN/kdissect" - | wc -l > "$W/n1"
  "$KF_BIN/kdissect" "$SAMPLES/node-worker-1-pods.pcapng" | wc -l > "$W/n2"
  cmp "$W/n1" "$W/n2"
}

@test "pipes: ksnap info -, ksnap verify -, kresolve workloads - read standard input" {
  run bash -c "'$KF_BIN/ksnap' info --json - < '$SNAP'"
  assert_success
  [ "$(echo "$output" | jq -r .id)" = "$(tar --zstd -xOf "$SNAP" manifest.json | jq -r .id)" ]
  run bash -c "cat '$SNAP' | '$KF_BIN/ksnap' verify -"
  assert_success
  assert_output --partial "OK, 2 members verified"
  "$KF_BIN/kresolve" workloads "$SNAP" --json > "$W/file"
  cat "$SNAP" | "$KF_BIN/kresolve" workloads - --json > "$W/pipe"
  [ -s "$W/file" ]
  cmp "$W/file" "$W/pipe"
  "$KF_BIN/kresolve" workloads - --json < "$SAMPLES/meta-events.ndjson" | cmp - <("$KF_BIN/kresolve" workloads "$SAMPLES/meta-events.ndjson" --json)
}

@test "pipes: kresolve -n is the namespace, -l a kubectl label selector (jq over the labels is the oracle)" {
  "$KF_BIN/kresolve" workloads "$SNAP" --json > "$W/all"
  sel() { "$KF_BIN/kresolve" workloads "$SNAP" --json "$@" | jq -r .name | sort | paste -sd,; }
  oracle() { jq -r "select($1) | .name" "$W/all" | sort | paste -sd,; }
  [ "$(sel -n shop)" = "$(oracle '.namespace == "shop"')" ]
  [ -n "$(sel -n shop)" ]
  [ "$(sel -n shop -n kube-system)" = "$(oracle '.namespace == "shop" or .namespace == "kube-system"')" ]
  check() { # selector jq-condition
    local got want
    got=$(sel -l "$1"); want=$(oracle "$2")
    [ "$got" = "$want" ] || { echo "-l '$1': got '$got', want '$want'"; return 1; }
  }
  check 'app=orders' '.labels.app == "orders"'
  check 'app==orders' '.labels.app == "orders"'
  check 'app!=orders' '.labels.app != "orders"'
  check 'app in (orders, cart)' '.labels.app == "orders" or .labels.app == "cart"'
  check 'app notin (orders,cart)' '(.labels.app == "orders" or .labels.app == "cart") | not'
  check 'app' '.labels | has("app")'
  check '!app' '.labels | has("app") | not'
  check 'app,app!=orders' '(.labels | has("app")) and .labels.app != "orders"'
  [ -n "$(sel -l 'app in (orders,cart)')" ]
  [ -n "$(sel -l '!app')" ]
  # the old --label spelling is the same option
  [ "$(sel --label app=orders)" = "$(sel -l app=orders)" ]
  # unsupported selectors are errors, never an empty answer
  for bad in 'app>1' 'app<1' 'app in orders' 'app in (a' '=x' 'app=(x)'; do
    run "$KF_BIN/kresolve" workloads "$SNAP" --json -l "$bad"
    [ "$status" -eq 2 ] || { echo "-l '$bad' exited $status"; false; }
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "kresolve: -l '$bad': "* ]]
  done
  # --name has no short form any more: -n never silently means the name
  run "$KF_BIN/kresolve" workloads "$SNAP" --json -n orders-594487879c-7xkqp
  assert_failure 1
}

@test "pipes: -j 0 means all cores (kdissect, ksnap freeze)" {
  q='[.timestamp, .protocol, .src.ip, .dst.ip, .elapsed_time]'
  "$KF_BIN/kdissect" -j 1 "$SAMPLES/node-worker-1-pods.pcapng" | jq -c "$q" | sort > "$W/j1"
  run bash -c "'$KF_BIN/kdissect' -j 0 '$SAMPLES/node-worker-1-pods.pcapng' | jq -c '$q' | sort > '$W/j0'"
  assert_success
  cmp "$W/j1" "$W/j0"
  run "$KF_BIN/kdissect" -j -1 "$SAMPLES/node-worker-1-pods.pcapng"
  assert_failure 2
  run "$KF_BIN/ksnap" freeze --help
  assert_output --partial "0 = all cores"
}

@test "pipes: unknown options and missing values are one line 'tool: what', no getopt line, no path" {
  for t in kexport kdissect kfl kresolve ksnap; do
    case $t in kresolve) pre=(workloads x);; ksnap) pre=(info);; *) pre=();; esac
    run "$KF_BIN/$t" "${pre[@]}" --no-such-option
    [ "$status" -eq 2 ] || { echo "$t: exit $status"; false; }
    [ "${#lines[@]}" -eq 1 ] || { echo "$t: $output"; false; }
    [[ "$output" == "$t"*": unknown option '--no-such-option' (see '$t"*" --help')" ]] || { echo "$t: $output"; false; }
    [[ "$output" != *"$KF_BIN"* ]]
  done
  run "$KF_BIN/kexport" x.pcap --from
  [ "${#lines[@]}" -eq 1 ]
  [ "$output" = "kexport: option '--from' needs a value (see 'kexport --help')" ]
  run "$KF_BIN/kfl" -m
  [ "${#lines[@]}" -eq 1 ]
  [ "$output" = "kfl: option '-m' needs a value (see 'kfl --help')" ]
  run "$KF_BIN/kexport" -Z x
  [ "$output" = "kexport: unknown option '-Z' (see 'kexport --help')" ]
}

@test "pipes: a missing snapshot gets our own words, not libarchive's alone" {
  for sub in info verify; do
    run "$KF_BIN/ksnap" $sub "$W/missing.ksnap"
    [ "$status" -eq 2 ]
    [ "${#lines[@]}" -eq 1 ]
    [ "$output" = "ksnap $sub: $W/missing.ksnap: cannot open: No such file or directory" ]
  done
  run "$KF_BIN/kexport" "$W/missing.ksnap" -o "$W/o.pcapng"
  [ "$status" -eq 2 ]
  [[ "$output" == *"missing.ksnap"*"No such file or directory"* ]]
}

snapstore() { # builds $W/st and two snapshots with windows that do not overlap
  UNITS=${KF_UNITS:-$KF_ROOT/build/tests}
  [ -x "$UNITS/test_snap" ] || skip "build the unit tests first (make units)"
  "$UNITS/test_snap" --make-store "$W/st" >/dev/null
  mkdir -p "$W/snaps"
  "$KF_BIN/ksnap" freeze --dir "$W/st" --node worker-1 --from 2026-03-14T17:00:00Z --to 2026-03-14T17:01:00Z -o "$W/snaps/early.ksnap"
  "$KF_BIN/ksnap" freeze --dir "$W/st" --node worker-2 --from 2026-03-14T17:02:00Z --to 2026-03-14T17:03:00Z -o "$W/snaps/late.ksnap"
}

@test "pipes: ksnap ls DIR lists a folder of snapshots (the manifests, read by jq, are the oracle)" {
  snapstore
  run env TZ=UTC "$KF_BIN/ksnap" ls "$W/snaps"
  assert_success
  [ "${#lines[@]}" -eq 3 ]
  assert_line --index 0 --regexp '^SNAPSHOT +WINDOW +NODES +PACKETS +SIZE$'
  assert_line --index 1 --regexp "^$W/snaps/early.ksnap +2026-03-14 17:00:00.000 UTC \.\. 2026-03-14 17:01:00.000 UTC +1 +[0-9]+ "
  assert_line --index 2 --partial "$W/snaps/late.ksnap"
  run "$KF_BIN/ksnap" ls --json "$W/snaps"
  for s in early late; do
    want=$(tar --zstd -xOf "$W/snaps/$s.ksnap" manifest.json | jq -c '[.id, .window, ([.nodes[].packets] | add)]')
    got=$(echo "$output" | jq -c "select(.path | endswith(\"/$s.ksnap\")) | [.id, .window, .packets]")
    [ "$got" = "$want" ]
  done
  # a store still lists as a store
  run "$KF_BIN/ksnap" ls "$W/st"
  assert_success
  assert_output --partial "oldest packet"
}

@test "pipes: ksnap prune --snapshots --keep 0 is refused and deletes nothing" {
  snapstore
  touch -d '2020-01-01' "$W/snaps/early.ksnap"
  run "$KF_BIN/ksnap" prune --snapshots "$W/snaps" --keep 0
  assert_failure 2
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"--keep 0"* ]]
  run "$KF_BIN/ksnap" prune --snapshots "$W/snaps" --keep 0s
  assert_failure 2
  [ -f "$W/snaps/early.ksnap" ]
  [ -f "$W/snaps/late.ksnap" ]
}

@test "pipes: ksnap merge warns, in one line, when the windows do not overlap" {
  snapstore
  run env TZ=UTC "$KF_BIN/ksnap" merge -o "$W/m.ksnap" "$W/snaps/late.ksnap" "$W/snaps/early.ksnap"
  assert_success
  assert_output --partial "ksnap merge: warning: the windows of $W/snaps/early.ksnap and $W/snaps/late.ksnap do not overlap: nothing was captured from 2026-03-14 17:01:00.000 UTC to 2026-03-14 17:02:00.000 UTC (1m00s)"
  [ "$(echo "$output" | grep -c 'do not overlap')" -eq 1 ]
  # overlapping windows: no warning
  "$KF_BIN/ksnap" freeze --dir "$W/st" --node worker-2 --from 2026-03-14T17:00:30Z --to 2026-03-14T17:02:30Z -o "$W/mid.ksnap"
  run "$KF_BIN/ksnap" merge -o "$W/m2.ksnap" "$W/snaps/early.ksnap" "$W/mid.ksnap"
  assert_success
  refute_output --partial "do not overlap"
}

@test "pipes: kexport snap --from | kdissect - | kfl | kexport snap --calls - keeps the node and selects the calls" {
  run bash -c "'$KF_BIN/kexport' '$SNAP' --from -90s | '$KF_BIN/kdissect' - | tee '$W/calls.ndjson' | '$KF_BIN/kfl' 'http && status_code >= 500' | '$KF_BIN/kexport' '$SNAP' --calls - -o '$W/5xx.pcapng'"
  assert_success
  refute_output --partial "selected no packet"
  [ "$(jq -r .node.name "$W/calls.ndjson" | sort -u)" = worker-1 ]
  # tshark sees exactly the 5xx responses kfl selected, in the export
  want=$("$KF_BIN/kfl" -c 'http && status_code >= 500' "$W/calls.ndjson")
  [ "$want" -gt 0 ]
  [ "$(tshark -r "$W/5xx.pcapng" -Y 'http.response.code >= 500' 2>/dev/null | wc -l)" -eq "$want" ]
}

@test "pipes: kdissect - names the pods of a one-node export from its NRB and 'IP reused' comments (no metadata given)" {
  run bash -c "'$KF_BIN/kexport' '$SNAP' --from -90s | '$KF_BIN/kdissect' - | tee '$W/calls.ndjson' | '$KF_BIN/kfl' 'http && dst.name == \"payment-7d9f8b6c5-x2x7k\" && dst.namespace == \"shop\"' | '$KF_BIN/kexport' '$SNAP' --calls - -o '$W/pay.pcapng'"
  assert_success
  record_fields "$W/calls.ndjson"
  # every endpoint's pod name and namespace as the snapshot's own metadata gives them; the IP two
  # pods held in turn (10.0.53.150) named after its holder at each call's time
  key='[.timestamp, .protocol, .src.ip, .src.port, .dst.ip, .dst.port, .src.name, .src.namespace, .dst.name, .dst.namespace, .src.pod.name, .dst.pod.namespace]'
  jq -c "$key" "$W/calls.ndjson" | sort >"$W/nrb"
  "$KF_BIN/kdissect" "$SNAP" | jq -c "$key" | sort >"$W/meta"
  [ "$(wc -l <"$W/nrb")" -gt 100 ]
  diff "$W/meta" "$W/nrb"
  [ "$(jq -r 'select(.src.ip == "10.0.53.150") | .src.name' "$W/calls.ndjson" | sort -u | tr '\n' ' ')" = "cart-6f8d9b7c4-ab12c checkout-7c9d8f6b5-qw8rt " ]
  # tshark names the same IP from the export's NRB (-N n): kfl selected exactly the calls to it
  want=$(jq -s 'map(select(.http and .dst.name == "payment-7d9f8b6c5-x2x7k")) | length' "$W/calls.ndjson")
  [ "$want" -gt 0 ]
  [ "$(tshark -N n -r "$W/pay.pcapng" -Y http.request -T fields -e ip.dst_host 2>/dev/null | sort | uniq -c | awk '{print $1, $2}')" = "$want payment-7d9f8b6c5-x2x7k.shop" ]
  # -j 2 reads the names the same way
  "$KF_BIN/kexport" "$SNAP" --from -90s | "$KF_BIN/kdissect" -j 2 - | jq -c "$key" | sort >"$W/nrb2"
  diff "$W/nrb" "$W/nrb2"
}

@test "pipes: kdissect --meta X.ksnap takes a snapshot's metadata, as kexport's --meta does" {
  "$KF_BIN/kexport" "$SNAP" -F pcap -o "$W/plain.pcap"     # packets only, no names inside
  "$KF_BIN/kdissect" --meta "$SNAP" "$W/plain.pcap" | jq -c '[.timestamp, .protocol, .src.name, .dst.name, .dst.service.name]' > "$W/meta"
  "$KF_BIN/kdissect" "$SNAP" | jq -c '[.timestamp, .protocol, .src.name, .dst.name, .dst.service.name]' > "$W/snap"
  [ "$(grep -c orders "$W/meta")" -gt 0 ]
  cmp "$W/meta" "$W/snap"
  run "$KF_BIN/kdissect" --meta "$W/plain.pcap" "$W/plain.pcap"
  assert_failure 2
}
