#!/usr/bin/env bats
# ksnap info / verify / merge, and refusal of unsafe members in crafted archives (python3
# tarfile + the zstd CLI: written without our code).
load helpers

setup() {
  T=$BATS_TEST_TMPDIR
  UNITS=${KF_UNITS:-$KF_ROOT/build/tests}
  [ -x "$UNITS/test_snap" ] || skip "build the unit tests first (make units)"
  "$UNITS/test_snap" --make-store "$T/st" >/dev/null
  "$KF_BIN/ksnap" freeze --dir "$T/st" --node worker-1 --from 2026-03-14T17:00:00Z --to 2026-03-14T17:02:00Z -o "$T/w1.ksnap"
  "$KF_BIN/ksnap" freeze --dir "$T/st" --node worker-2 --from 2026-03-14T17:01:00Z --to 2026-03-14T17:03:00Z -o "$T/w2.ksnap"
}

@test "info: the manifest as text (times local with UTC) and as JSON" {
  run env TZ=Asia/Kolkata "$KF_BIN/ksnap" info "$T/w1.ksnap"
  assert_success
  assert_output --partial "window    2026-03-14 22:30:00.000 IST (17:00:00.000 UTC)"
  assert_output --partial "worker-1"
  assert_output --partial "meta/events.ndjson"
  run "$KF_BIN/ksnap" info --utc "$T/w1.ksnap"
  assert_output --partial "window    2026-03-14 17:00:00.000 UTC .. 2026-03-14 17:02:00.000 UTC (2m00s)"
  run "$KF_BIN/ksnap" info --json "$T/w1.ksnap"
  assert_success
  [ "$(echo "$output" | jq -r '.format + " " + (.version|tostring) + " " + .window.from')" = "kforensics-snapshot 1 2026-03-14T17:00:00.000000000Z" ]
  [ "$(echo "$output" | jq '.nodes["worker-1"].packets')" -eq 120 ]
  run "$KF_BIN/ksnap" info "$T/nothere.ksnap"
  assert_failure 2
}

@test "verify passes; one flipped byte fails with exit 4 naming the member" {
  run "$KF_BIN/ksnap" verify "$T/w1.ksnap"
  assert_success
  assert_output --partial "OK"
  size=$(stat -c %s "$T/w1.ksnap")
  for pos in $((size / 3)) $((size / 2)) $((size * 3 / 4)); do
    cp "$T/w1.ksnap" "$T/bad.ksnap"; chmod u+w "$T/bad.ksnap"
    python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0x10]))" "$T/bad.ksnap" "$pos"
    run "$KF_BIN/ksnap" verify "$T/bad.ksnap"
    assert_failure 4
    assert_output --regexp "member '[^']+'"
  done
  # a member changed inside an otherwise valid archive: the hash names it
  mkdir "$T/x" && tar --zstd -xf "$T/w1.ksnap" -C "$T/x" && chmod -R u+w "$T/x"
  m=nodes/worker-1/20260314T170100.000000000Z.pcapng
  python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(100); b=f.read(1); f.seek(100); f.write(bytes([b[0]^1]))" "$T/x/$m"
  (cd "$T/x" && tar --zstd --format=pax -cf "$T/re.ksnap" manifest.json nodes meta)
  run "$KF_BIN/ksnap" verify "$T/re.ksnap"
  assert_failure 4
  assert_output --partial "member '$m': sha256 mismatch"
}

craft() { # out name kind
  python3 - "$1" "$2" "$3" <<'PY'
import io, sys, tarfile
out, name, kind = sys.argv[1:]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    m = b'{"format":"kforensics-snapshot","version":1,"nodes":{},"members":{}}'
    ti = tarfile.TarInfo("manifest.json"); ti.size = len(m); t.addfile(ti, io.BytesIO(m))
    ti = tarfile.TarInfo(name)
    if kind == "sym": ti.type = tarfile.SYMTYPE; ti.linkname = "/etc/passwd"
    if kind == "hard": ti.type = tarfile.LNKTYPE; ti.linkname = "manifest.json"
    if kind == "dev": ti.type = tarfile.CHRTYPE; ti.devmajor = 1; ti.devminor = 3
    if kind == "file": ti.size = 1; t.addfile(ti, io.BytesIO(b"x"))
    else: t.addfile(ti)
open(out + ".tar", "wb").write(buf.getvalue())
PY
  zstd -q -f "$1.tar" -o "$1" && rm -f "$1.tar"
}

@test "crafted archives with ../x, an absolute path, links or a device are refused" {
  craft "$T/dot.ksnap" "nodes/../../x" file
  craft "$T/abs.ksnap" "/tmp/kf-abs-x" file
  craft "$T/sym.ksnap" "nodes/a/s.pcapng" sym
  craft "$T/hard.ksnap" "nodes/a/h.pcapng" hard
  craft "$T/dev.ksnap" "nodes/a/null" dev
  tar --zstd -tf "$T/dot.ksnap" | grep -q '\.\./x'
  for f in dot abs sym hard dev; do
    run "$KF_BIN/ksnap" verify "$T/$f.ksnap"
    assert_failure
    case $f in
      dot) assert_output --partial "member 'nodes/../../x': unsafe path" ;;
      abs) assert_output --regexp "member '/?tmp/kf-abs-x'" ;;
      sym|hard) assert_output --partial "links are not allowed" ;;
      dev) assert_output --partial "not a regular file" ;;
    esac
    run "$KF_BIN/kresolve" ips "$T/$f.ksnap"
    assert_failure 2
  done
  [ ! -e /tmp/kf-abs-x ]
}

@test "merge: two nodes frozen separately become one snapshot whose info shows both" {
  run "$KF_BIN/ksnap" merge "$T/w1.ksnap" "$T/w2.ksnap" -o "$T/all.ksnap"
  assert_success
  run "$KF_BIN/ksnap" info --utc "$T/all.ksnap"
  assert_success
  assert_output --partial "nodes     2"
  assert_output --partial "worker-1"
  assert_output --partial "worker-2"
  assert_output --partial "window    2026-03-14 17:00:00.000 UTC .. 2026-03-14 17:03:00.000 UTC"
  run "$KF_BIN/ksnap" verify "$T/all.ksnap"
  assert_success
  # members are byte-identical to the originals
  mkdir "$T/a" "$T/b" && tar --zstd -xf "$T/all.ksnap" -C "$T/a" && tar --zstd -xf "$T/w2.ksnap" -C "$T/b"
  diff -r "$T/a/nodes/worker-2" "$T/b/nodes/worker-2"
  # the metadata of both windows, each event once
  run bash -c "jq -c '[.ts,.type,.object.metadata.name]' '$T/a/meta/events.ndjson'"
  assert_line '["2026-03-14T17:01:00.000000000Z","DELETED","orders-1"]'
  assert_line '["2026-03-14T17:02:00.000000000Z","ADDED","payment-1"]'
  [ "$(echo "$output" | grep -c DELETED)" -eq 1 ]
}

@test "merge: the same node twice is refused unless identical" {
  run "$KF_BIN/ksnap" merge "$T/w1.ksnap" "$T/w1.ksnap" -o "$T/same.ksnap"
  assert_success
  [ "$(tar --zstd -xOf "$T/same.ksnap" manifest.json | jq '.nodes | length')" -eq 1 ]
  "$KF_BIN/ksnap" freeze --dir "$T/st" --node worker-1 --from 2026-03-14T17:00:00Z --to 2026-03-14T17:01:30Z -o "$T/w1b.ksnap"
  run "$KF_BIN/ksnap" merge "$T/w1.ksnap" "$T/w1b.ksnap" -o "$T/clash.ksnap"
  assert_failure 2
  assert_output --partial "node 'worker-1'"
  [ ! -e "$T/clash.ksnap" ]
  run "$KF_BIN/ksnap" merge "$T/w1.ksnap" -o "$T/w2.ksnap"
  assert_failure 2
  assert_output --partial "already exists"
}
