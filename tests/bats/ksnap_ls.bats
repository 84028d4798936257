#!/usr/bin/env bats
# ksnap ls over a store built from corpus captures (converted to pcapng, named as segments);
# tshark is the oracle for times and counts.
load helpers

setup() {
  S=$BATS_TEST_TMPDIR/store
  mkdir -p "$S/n1" "$S/n2" "$S/meta" "$S/notanode"
  editcap -F pcapng "$KF_CORPUS/dns/tcpdump__dns_udp_2.pcap" "$S/n1/20200101T000000.000000000Z.pcapng"
  editcap -F pcapng "$KF_CORPUS/http1/zeek__get.pcap" "$S/n1/20200101T000100.000000000Z.pcapng"
  editcap -F pcapng "$KF_CORPUS/dns/zeek__dns-caa.pcap" "$S/n2/20200101T000000.000000000Z.pcapng"
  # an open segment cut in its last block, as a running capture may leave it
  editcap -F pcapng "$KF_CORPUS/dns/tcpdump__dns_tcp.pcap" "$BATS_TEST_TMPDIR/full.pcapng"
  sz=$(stat -c %s "$BATS_TEST_TMPDIR/full.pcapng")
  head -c $((sz - 5)) "$BATS_TEST_TMPDIR/full.pcapng" >"$S/n2/20200101T000200.000000000Z.pcapng.part"
  echo x >"$S/notanode/readme.txt"
}

count() { tshark -r "$1" 2>/dev/null | wc -l; }
tmin() { tshark -r "$1" -T fields -e frame.time_epoch 2>/dev/null | sort -g | head -1; }
tmax() { tshark -r "$1" -T fields -e frame.time_epoch 2>/dev/null | sort -g | tail -1; }
epoch_of() { # RFC 3339 from ls --json -> epoch seconds with 9 decimals
  python3 -c "import sys,datetime; s=sys.argv[1]; b,f=s[:-1].split('.'); t=datetime.datetime.strptime(b,'%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc).timestamp(); print('%d.%s' % (t, f))" "$1"
}

@test "ls --json: per node packets, bytes, segments, oldest/newest agree with tshark" {
  run "$KF_BIN/ksnap" ls --json "$S"
  assert_success
  echo "$output" | jq -e . >/dev/null
  j=$output
  n1a=$S/n1/20200101T000000.000000000Z.pcapng n1b=$S/n1/20200101T000100.000000000Z.pcapng
  [ "$(jq '.nodes | length' <<<"$j")" -eq 2 ]
  [ "$(jq -r '.nodes[0].node' <<<"$j")" = n1 ]
  [ "$(jq '.nodes[0].segments' <<<"$j")" -eq 2 ]
  [ "$(jq '.nodes[0].packets' <<<"$j")" -eq $(( $(count "$n1a") + $(count "$n1b") )) ]
  [ "$(jq '.nodes[0].bytes' <<<"$j")" -eq $(( $(stat -c %s "$n1a") + $(stat -c %s "$n1b") )) ]
  [ "$(jq '.nodes[0].drops' <<<"$j")" -eq 0 ]
  [ "$(jq '.nodes[0].capturing' <<<"$j")" = false ]
  want=$(printf '%s\n%s\n' "$(tmin "$n1a")" "$(tmin "$n1b")" | sort -g | head -1)
  [ "$(epoch_of "$(jq -r '.nodes[0].oldest' <<<"$j")")" = "$want" ]
  want=$(printf '%s\n%s\n' "$(tmax "$n1a")" "$(tmax "$n1b")" | sort -g | tail -1)
  [ "$(epoch_of "$(jq -r '.nodes[0].newest' <<<"$j")")" = "$want" ]
  # n2: the cut .part counts its complete packets, one open segment
  [ "$(jq '.nodes[1].open_segments' <<<"$j")" -eq 1 ]
  full=$(count "$BATS_TEST_TMPDIR/full.pcapng")
  [ "$(jq '.nodes[1].packets' <<<"$j")" -eq $(( $(count "$S/n2/20200101T000000.000000000Z.pcapng") + full - 1 )) ]
  # cluster-wide
  [ "$(jq -r '.oldest' <<<"$j")" = "$(jq -r '[.nodes[].oldest] | min' <<<"$j")" ]
  [ "$(jq -r '.newest' <<<"$j")" = "$(jq -r '[.nodes[].newest] | max' <<<"$j")" ]
  [ "$(jq '.packets' <<<"$j")" -eq "$(jq '[.nodes[].packets] | add' <<<"$j")" ]
}

@test "ls: text shows local time with UTC in parentheses; --utc shows UTC only" {
  run env TZ=Asia/Kolkata "$KF_BIN/ksnap" ls "$S"
  assert_success
  assert_output --regexp 'n1 \(.*/store/n1\)'
  assert_output --regexp 'oldest packet  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ IST \(([0-9-]+ )?[0-9:.]+ UTC\)'
  assert_output --partial 'segments       2 (1 open)'
  assert_output --partial 'all 2 nodes'
  run "$KF_BIN/ksnap" ls --utc "$S"
  assert_success
  assert_output --regexp 'newest packet  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ UTC'
  refute_output --partial '('"$(date +%Z)"
}

@test "ls: several stores at once, and what is not a store" {
  S2=$BATS_TEST_TMPDIR/other; mkdir -p "$S2/n3"
  cp "$S/n1/20200101T000000.000000000Z.pcapng" "$S2/n3/"
  run "$KF_BIN/ksnap" ls --json "$S" "$S2"
  assert_success
  [ "$(jq '.nodes | length' <<<"$output")" -eq 3 ]
  run "$KF_BIN/ksnap" ls "$BATS_TEST_TMPDIR/store/notanode"
  assert_failure 1
  assert_output --partial "no capture store here"
  run "$KF_BIN/ksnap" ls "$BATS_TEST_TMPDIR/nosuch"
  assert_failure 2
  assert_output --regexp '^ksnap ls: .*nosuch: No such file or directory$'
  run "$KF_BIN/ksnap" ls
  assert_failure 2
  run "$KF_BIN/ksnap" ls --help
  assert_success
}

@test "ls: a damaged closed segment is reported, the rest still listed" {
  printf 'not a capture at all, just text padding padding\n' >"$S/n1/20200101T000200.000000000Z.pcapng"
  run "$KF_BIN/ksnap" ls --json "$S"
  assert_failure 2
  assert_output --partial "20200101T000200.000000000Z.pcapng"
}
