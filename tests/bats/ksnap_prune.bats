#!/usr/bin/env bats
# ksnap prune: the store's retention rules once, the lock readers hold, snapshot pruning.
load helpers

setup() {
  S=$BATS_TEST_TMPDIR/store
  mkdir -p "$S/n1" "$S/n2"
  # n1: five closed 10000-byte segments a minute apart in 2020, and an open one
  for m in 0 1 2 3 4; do head -c 10000 /dev/zero >"$S/n1/20200101T00000${m}.000000000Z.pcapng"; done
  head -c 10000 /dev/zero >"$S/n1/20200101T000005.000000000Z.pcapng.part"
  # n2: one recent segment
  now=$(date -u +%Y%m%dT%H%M%S)
  head -c 500 /dev/zero >"$S/n2/${now}.000000000Z.pcapng"
}

@test "prune --retain-size: oldest closed segments go until the node fits; lines and total printed" {
  run "$KF_BIN/ksnap" prune --dir "$S" --retain-size 35000 --retain-time 0
  assert_success
  # 60000 bytes: remove 3 oldest (30000) -> 30000 <= 35000
  assert_line "removed $S/n1/20200101T000000.000000000Z.pcapng (10000 bytes, over --retain-size)"
  assert_line "removed $S/n1/20200101T000002.000000000Z.pcapng (10000 bytes, over --retain-size)"
  assert_line "removed 3 files, freed 30000 bytes (29.3 KiB)"
  [ ! -e "$S/n1/20200101T000002.000000000Z.pcapng" ]
  [ -e "$S/n1/20200101T000003.000000000Z.pcapng" ]
  [ -e "$S/n2/$(ls "$S/n2")" ]
}

@test "prune --dry-run prints the same and removes nothing" {
  before=$(find "$S" -name "*.pcapng*" | sort)
  run "$KF_BIN/ksnap" prune --dir "$S" --retain-size 35000 --retain-time 0 --dry-run
  assert_success
  assert_line "would remove $S/n1/20200101T000001.000000000Z.pcapng (10000 bytes, over --retain-size)"
  assert_line "would remove 3 files, would free 30000 bytes (29.3 KiB)"
  [ "$(find "$S" -name "*.pcapng*" | sort)" = "$before" ]
}

@test "prune never removes the open segment, even when it alone is over the bound" {
  run "$KF_BIN/ksnap" prune --dir "$S" --retain-size 1 --retain-time 0
  assert_success
  [ -e "$S/n1/20200101T000005.000000000Z.pcapng.part" ]
  [ "$(ls "$S/n1" | wc -l)" -eq 1 ]
  [ "$(ls "$S/n2" | wc -l)" -eq 0 ]
  assert_line "removed 6 files, freed 50500 bytes (49.3 KiB)"
}

@test "prune --retain-time: segments that ended before the bound go, recent ones stay" {
  run "$KF_BIN/ksnap" prune --dir "$S" --retain-size 0 --retain-time 1d
  assert_success
  assert_line --partial "20200101T000004.000000000Z.pcapng (10000 bytes, older than --retain-time)"
  [ "$(ls "$S/n1")" = "20200101T000005.000000000Z.pcapng.part" ]
  [ "$(ls "$S/n2" | wc -l)" -eq 1 ]
}

@test "prune skips a node while a reader holds its lock, and says so" {
  flock -s "$S/n1/.lock" sleep 3 &
  # held once an exclusive try fails
  for _ in $(seq 100); do flock -n -x "$S/n1/.lock" true || break; sleep 0.1; done
  run "$KF_BIN/ksnap" prune --dir "$S" --retain-size 1 --retain-time 0
  assert_success
  assert_output --partial "n1: a reader holds the store; skipped this time"
  [ "$(ls "$S/n1" | wc -l)" -eq 6 ]
  [ "$(ls "$S/n2" | wc -l)" -eq 0 ]   # the other node is pruned as usual
  wait
}

@test "prune --snapshots --keep removes only archives written longer ago" {
  F=$BATS_TEST_TMPDIR/snaps; mkdir -p "$F"
  head -c 100 /dev/zero >"$F/old.ksnap"; touch -d '40 days ago' "$F/old.ksnap"; chmod 0440 "$F/old.ksnap"
  head -c 200 /dev/zero >"$F/new.ksnap"
  head -c 300 /dev/zero >"$F/other.txt"; touch -d '40 days ago' "$F/other.txt"
  run "$KF_BIN/ksnap" prune --snapshots "$F" --keep 30d --dry-run
  assert_success
  assert_line "would remove $F/old.ksnap (100 bytes, older than --keep)"
  [ -e "$F/old.ksnap" ]
  run "$KF_BIN/ksnap" prune --snapshots "$F" --keep 30d
  assert_success
  assert_line "removed 1 file, freed 100 bytes (100 B)"
  [ ! -e "$F/old.ksnap" ]
  [ -e "$F/new.ksnap" ]
  [ -e "$F/other.txt" ]
}

@test "prune: usage errors" {
  run "$KF_BIN/ksnap" prune
  assert_failure 2
  run "$KF_BIN/ksnap" prune --snapshots /tmp
  assert_failure 2
  assert_output --partial -- "--keep"
  run "$KF_BIN/ksnap" prune --dir "$S" --retain-size lots
  assert_failure 2
  run "$KF_BIN/ksnap" prune --dir "$BATS_TEST_TMPDIR/nosuch"
  assert_failure 2
  run "$KF_BIN/ksnap" prune --help
  assert_success
}
