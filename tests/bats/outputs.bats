#!/usr/bin/env bats
# Output paths never destroy what is at them (lib/kf_atomic.c, issue 20): a device, FIFO or
# /dev/stdout is written through in place; a symbolic link is followed (the file it points to is
# replaced atomically, the link stays); regular files and new paths get temp-and-rename.
load helpers

setup() { KX=$KF_BIN/kexport; W=$BATS_TEST_TMPDIR; IN=$SAMPLES/node-worker-1-pods.pcapng; }
npk() { tcpdump -# -n -r "$1" 2>/dev/null | grep -cE '^ *[0-9]+  '; }
# the packets as tcpdump prints them (the section header's comment names the output path, so
# two outputs are compared by their packets, not byte for byte)
same_packets() { diff <(tcpdump -n -tt -r "$1" 2>/dev/null) <(tcpdump -n -tt -r "$2" 2>/dev/null) && [ "$(npk "$1")" -gt 0 ]; }

@test "outputs: a character device (a private /dev/null) keeps its type and numbers" {
  mknod "$W/null" c 1 3 2>/dev/null || skip "cannot mknod here (not root?)"
  before=$(stat -c '%F %t:%T' "$W/null")
  run "$KX" "$IN" -o "$W/null"
  assert_success
  [ "$(stat -c '%F %t:%T' "$W/null")" = "$before" ]
  [ "$before" = "character special file 1:3" ]
  # and nothing temporary was left beside it
  [ "$(ls -A "$W")" = null ]
  # the machine's own /dev/null, too (written through; read-only check of its identity after)
  d=$(stat -c '%F %t:%T %i' /dev/null)
  "$KX" "$IN" -o /dev/null
  [ "$(stat -c '%F %t:%T %i' /dev/null)" = "$d" ]
}

@test "outputs: a FIFO is written through; tshark reading it gets the whole pcapng" {
  mkfifo "$W/fifo"
  "$KX" "$IN" -o "$W/ref.pcapng"
  want=$(npk "$W/ref.pcapng")
  [ "$want" -gt 0 ]
  timeout 60 tshark -r "$W/fifo" -T fields -e frame.number > "$W/tshark.out" 2> "$W/tshark.err" &
  reader=$!
  run timeout 60 "$KX" "$IN" -o "$W/fifo"
  assert_success
  wait "$reader"
  [ -p "$W/fifo" ]
  [ "$(wc -l < "$W/tshark.out")" -eq "$want" ]
  ! grep -v 'Running as user' "$W/tshark.err"
}

@test "outputs: a symbolic link is followed, its target replaced atomically, the link stays" {
  mkdir "$W/d"
  echo old > "$W/d/target.pcapng"
  ln -s d/target.pcapng "$W/link.pcapng"
  run "$KX" "$IN" -o "$W/link.pcapng"
  assert_success
  [ -L "$W/link.pcapng" ]
  [ "$(readlink "$W/link.pcapng")" = d/target.pcapng ]
  [ "$(npk "$W/d/target.pcapng")" -gt 0 ]
  [ "$(ls -A "$W/d")" = target.pcapng ]
  [ "$(ls -A "$W" | sort | tr '\n' ' ')" = "d link.pcapng " ]
  # a link to a file that does not exist yet creates that file, the link stays a link
  ln -s d/new.pcapng "$W/dangling"
  "$KX" "$IN" -o "$W/dangling"
  [ -L "$W/dangling" ]
  [ -f "$W/d/new.pcapng" ]
  same_packets "$W/d/new.pcapng" "$W/d/target.pcapng"
  # a loop of links is one line, exit 3
  ln -s loop2 "$W/loop1"; ln -s loop1 "$W/loop2"
  run "$KX" "$IN" -o "$W/loop1"
  assert_failure 3
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"symbolic link"* ]]
}

@test "outputs: /dev/stdout writes to the shell's descriptor (>> appends), a directory is refused" {
  echo header > "$W/app"
  "$KX" "$IN" -o /dev/stdout >> "$W/app"
  [ "$(head -1 "$W/app")" = header ]
  tail -c +8 "$W/app" > "$W/body.pcapng"
  "$KX" "$IN" -o "$W/ref.pcapng"
  same_packets "$W/body.pcapng" "$W/ref.pcapng"
  "$KX" "$IN" -o /dev/fd/1 > "$W/fd1.pcapng"
  same_packets "$W/fd1.pcapng" "$W/ref.pcapng"
  run "$KX" "$IN" -o "$W"
  assert_failure 3
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"is a directory"* ]]
}

# ksnap freeze and merge: a snapshot goes through a pipe, FIFO or /dev/stdout too (freeze makes it
# in an unnamed file of $TMPDIR, since its manifest is put in front last); an existing regular
# file, also behind a symbolic link, is still never overwritten. ksnap verify and tar are the judges.
freeze_setup() {
  "${KF_UNITS:-$KF_ROOT/build/tests}/test_snap" --make-store "$W/st" >/dev/null
  FZ=(freeze --dir "$W/st" --from 2026-03-14T17:00:30Z --to 2026-03-14T17:02:30Z)
  "$KF_BIN/ksnap" "${FZ[@]}" -o "$W/ref.ksnap"
  members() { tar --zstd -tvf "$1" | awk '{print $3, $6}'; }
}

@test "outputs: ksnap freeze writes through a pipe, a FIFO and /dev/stdout; leaves nothing behind" {
  freeze_setup
  mkdir "$W/tmp"
  TMPDIR=$W/tmp "$KF_BIN/ksnap" "${FZ[@]}" -o - | "$KF_BIN/ksnap" verify - > "$W/v1"
  grep -q '^-: OK, 7 members verified' "$W/v1"
  TMPDIR=$W/tmp "$KF_BIN/ksnap" "${FZ[@]}" -o /dev/stdout > "$W/so.ksnap"
  diff <(members "$W/so.ksnap") <(members "$W/ref.ksnap")
  mkfifo "$W/fifo"
  timeout 60 "$KF_BIN/ksnap" verify "$W/fifo" > "$W/v2" 2>&1 &
  reader=$!
  run timeout 60 env TMPDIR="$W/tmp" "$KF_BIN/ksnap" "${FZ[@]}" -o "$W/fifo"
  assert_success
  wait "$reader"
  grep -q 'OK, 7 members verified' "$W/v2"
  [ -p "$W/fifo" ]
  [ -z "$(ls -A "$W/tmp")" ]
  # not to a terminal (script gives the tool one), and not over an existing snapshot, also via a link
  if command -v script >/dev/null; then
    run script -qec "$KF_BIN/ksnap ${FZ[*]} -o -" /dev/null
    assert_failure 2
    [[ "$output" == *"not writing an archive to a terminal"* ]]
  fi
  ln -s ref.ksnap "$W/link.ksnap"
  before=$(sha256sum < "$W/ref.ksnap")
  run "$KF_BIN/ksnap" "${FZ[@]}" -o "$W/link.ksnap"
  assert_failure 2
  [[ "$output" == *"already exists (snapshots are never overwritten)"* ]]
  [ "$(sha256sum < "$W/ref.ksnap")" = "$before" ]
  [ -L "$W/link.ksnap" ]
}

@test "outputs: ksnap merge writes through a pipe and a private /dev/null" {
  freeze_setup
  "$KF_BIN/ksnap" merge "$W/ref.ksnap" -o - | "$KF_BIN/ksnap" verify - > "$W/v"
  grep -q '^-: OK' "$W/v"
  if mknod "$W/null" c 1 3 2>/dev/null; then
    run "$KF_BIN/ksnap" merge "$W/ref.ksnap" -o "$W/null"
    assert_success
    [ "$(stat -c '%F %t:%T' "$W/null")" = "character special file 1:3" ]
  fi
  run "$KF_BIN/ksnap" merge "$W/ref.ksnap" -o "$W/ref.ksnap"
  assert_failure 2
}
