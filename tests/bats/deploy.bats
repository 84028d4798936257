#!/usr/bin/env bats
# Deploying (issue 20): the image's Dockerfile (checked without a registry), the metadata
# recorder's manifests and restart loop, make install/uninstall, bash completion.
load helpers

setup() { W=$BATS_TEST_TMPDIR; D=$KF_ROOT/deploy; }

# the package holding a library path (usr-merge: try both spellings)
pkg_of() {
  local p=$1 r c
  r=$(realpath "$p")
  for c in "$p" "$r" "${p#/usr}" "/usr$p" "${r#/usr}" "/usr$r"; do
    dpkg -S "$c" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 1
}

@test "deploy: every file the Dockerfile copies exists after make, and every tool is copied" {
  src=$(awk '/^COPY /{for (i = 2; i < NF; i++) print $i}' "$D/Dockerfile")
  [ -n "$src" ]
  # the image copies the normal build's bin/; under SANITIZE=1 the tools are in $KF_BIN instead
  for f in $src; do
    case "$f" in bin/*) p=${KF_BIN:-$KF_ROOT/bin}/${f#bin/} ;; *) p=$KF_ROOT/$f ;; esac
    [ -e "$p" ] || { echo "COPY $f: missing ($p)"; false; }
  done
  for t in $(ls "$KF_ROOT/tools" | grep -v '^common$'); do
    grep -qE "^COPY .*bin/$t( |$)" "$D/Dockerfile" || { echo "tool $t is not in the image"; false; }
  done
  grep -q '^FROM debian:12-slim' "$D/Dockerfile"
  grep -q 'kubectl.sha256' "$D/Dockerfile"    # kubectl is checked against the release's hash
}

@test "deploy: the Dockerfile's packages hold every library ldd reports for the binaries" {
  command -v dpkg >/dev/null || skip "not a Debian system (no dpkg)"
  # ASan/UBSan builds link the sanitizer runtimes, which the image (the normal build) never has
  [ "$(realpath "${KF_BIN:-$KF_ROOT/bin}")" = "$(realpath -m "$KF_ROOT/bin")" ] || skip "sanitizer build: the image ships the normal build (checked in the normal run)"
  pkgs=" $(sed -n '/apt-get install/,/&&/p' "$D/Dockerfile" | tr -s ' \\\n' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | tr '\n' ' ') "
  missing=0 n=0
  for b in "${KF_BIN:-$KF_ROOT/bin}"/*; do
    for lib in $(ldd "$b" | awk '/=>/ {print $3}'); do
      n=$((n + 1))
      p=$(pkg_of "$lib") || { echo "$b: $lib belongs to no package"; missing=$((missing + 1)); continue; }
      [[ "$pkgs" == *" $p "* ]] || { echo "$b: $lib is in $p, which the Dockerfile does not install"; missing=$((missing + 1)); }
    done
  done
  [ "$n" -gt 10 ]
  [ "$missing" -eq 0 ]
}

@test "deploy: the recorder's manifests: service account, read-only RBAC for what the watch reads, the loop in the image" {
  run python3 - "$D/ksnap-meta.yaml" "$D/ksnap-daemonset.yaml" "$D/meta-record.sh" "$D/Dockerfile" <<'PY'
import sys, yaml, re
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ds = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
kinds = {d["kind"]: d for d in docs}
for k in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "PersistentVolumeClaim"):
    assert k in kinds, k
dep = kinds["Deployment"]; spec = dep["spec"]["template"]["spec"]
assert spec["serviceAccountName"] == kinds["ServiceAccount"]["metadata"]["name"]
b = kinds["ClusterRoleBinding"]
assert b["roleRef"]["name"] == kinds["ClusterRole"]["metadata"]["name"]
assert b["subjects"][0]["name"] == kinds["ServiceAccount"]["metadata"]["name"]
assert dep["metadata"]["namespace"] == "kforensics" and any(d["kind"] == "Namespace" and d["metadata"]["name"] == "kforensics" for d in ds)
# RBAC: exactly get/list/watch, on every resource the script's kubectl watches
script = open(sys.argv[3]).read()
watched = re.search(r"get ([a-z,]+) -A", script).group(1).split(",")
granted = set()
for r in kinds["ClusterRole"]["rules"]:
    assert sorted(r["verbs"]) == ["get", "list", "watch"], r
    granted |= set(r["resources"])
assert set(watched) <= granted, (watched, granted)
assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
c = spec["containers"][0]
assert c["command"] == ["kforensics-meta-record"]
assert "deploy/meta-record.sh /usr/local/bin/kforensics-meta-record" in open(sys.argv[4]).read()
assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["runAsNonRoot"]
print("ok")
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "deploy: kforensics-meta-record starts the watch again when it ends, and the store gets the events" {
  # a stand-in kubectl: each call prints one watch event (a new pod each time) and ends
  mkdir -p "$W/fake"
  cat > "$W/fake/kubectl" <<'SH'
#!/bin/sh
n=$(($(cat "$KF_FAKE_COUNT" 2>/dev/null || echo 0) + 1)); echo $n > "$KF_FAKE_COUNT"
case "$*" in *"get pods,services,endpoints,endpointslices,nodes -A -o json --watch --output-watch-events"*) ;; *) echo "unexpected: $*" >&2; exit 9;; esac
printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p%s","namespace":"ns","uid":"u%s","creationTimestamp":"2026-03-14T10:00:00Z"},"spec":{"nodeName":"n1"},"status":{"phase":"Running","podIP":"10.9.0.%s"}}}\n' $n $n $n
SH
  chmod +x "$W/fake/kubectl"
  KF_FAKE_COUNT=$W/count KUBECTL=$W/fake/kubectl KSNAP=$KF_BIN/ksnap KF_META_RESTART_DELAY=0.2 \
    "$D/meta-record.sh" "$W/store" 2> "$W/err" &
  pid=$!
  for _ in $(seq 100); do [ "$(cat "$W/count" 2>/dev/null || echo 0)" -ge 3 ] && break; sleep 0.1; done
  kill "$pid"; wait "$pid" || true
  [ "$(cat "$W/count")" -ge 3 ]
  grep -q "watch 1 ended" "$W/err"
  grep -q "watch 2 ended" "$W/err"
  # what each watch said is in the store
  run "$KF_BIN/kresolve" workloads "$W/store" --json -n ns
  assert_success
  [ "$(echo "$output" | jq -r .name | sort | head -3 | paste -sd,)" = "p1,p2,p3" ]
}

@test "deploy: make install puts tools, man pages, docs and completion under PREFIX; make uninstall removes them" {
  # the rule installs bin/ (building it if needed): tested on the normal build only, so that a
  # SANITIZE=1 run does not relink anything
  [ "$KF_BIN" -ef "$KF_ROOT/bin" ] || skip "KF_BIN is not this checkout's bin/ (make install is tested by the plain build)"
  run make -C "$KF_ROOT" --no-print-directory install DESTDIR="$W/root" PREFIX=/usr
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  R=$W/root/usr
  for t in $(ls "$KF_ROOT/tools" | grep -v '^common$'); do
    [ -x "$R/bin/$t" ] && [ -f "$R/share/man/man1/$t.1" ] && [ -e "$R/share/bash-completion/completions/$t" ] \
      || { echo "$t: not fully installed"; false; }
  done
  [ -f "$R/share/doc/kforensics/README.md" ]
  [ -f "$R/share/doc/kforensics/docs/time.md" ]
  [ -f "$R/share/doc/kforensics/deploy/Dockerfile" ]
  run make -C "$KF_ROOT" --no-print-directory uninstall DESTDIR="$W/root" PREFIX=/usr
  assert_success
  [ -z "$(find "$W/root" -type f -o -type l)" ]
}

@test "deploy: bash completion completes every tool's options from its --help, subcommands too" {
  run bash -c '
    source "$1/scripts/kforensics-completion.bash"; PATH=$2:$PATH
    c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _kforensics; echo "${COMPREPLY[*]}"; }
    for t in $(ls "$1/tools" | grep -v "^common$"); do
      complete -p "$t" >/dev/null || { echo "no completion for $t"; exit 1; }
      for o in $("$t" --help 2>&1 | grep -oE -- "--[a-z][a-z0-9-]+" | sort -u); do
        [[ " $(c "$t" "${o:0:4}") " == *" $o "* ]] || { echo "$t ${o:0:4}<TAB> does not offer $o"; exit 1; }
      done
    done
    [ "$(c ksnap "")" = "capture freeze info ls merge meta prune verify" ] || { echo "ksnap: $(c ksnap "")"; exit 1; }
    [ "$(c ksnap meta "")" = "import record" ] || exit 1
    [[ " $(c ksnap freeze --th) " == *" --threads "* ]] || exit 1
    [ "$(c kresolve "")" = "ips workloads" ] || exit 1
    [[ " $(c kresolve workloads --sel) " == *" --selector "* ]] || exit 1
    echo fine' _ "$KF_ROOT" "$KF_BIN"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[-1]}" = fine ]
}
