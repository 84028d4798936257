# Helpers for tests/bats/hostile.bats (issue 21): every tool run over crafted inputs
# (tests/hostile/craft.py) under a memory limit and a timeout, in an empty working folder with
# its own TMPDIR, then checked: exit code, a one-line error, nothing left behind, nothing written
# but the output path.
: "${KF_HOSTILE_AS:=$((512 << 20))}"      # address-space limit (prlimit --as), bytes
: "${KF_HOSTILE_TIMEOUT:=60}"              # seconds per command
: "${KF_HOSTILE_BOMB_MIB:=1024}"           # what the bombs unpack to
: "${KF_HOSTILE_FSIZE:=unlimited}"         # largest file a command may write (prlimit --fsize)

# an ASan build (SANITIZE=1): far slower per allocation, so time bounds are wider there
hostile_asan() { ldd "$KF_BIN/kfl" 2>/dev/null | grep -q libasan; }

# craft once per bats file into $C
hostile_craft() {
  C=$BATS_FILE_TMPDIR/crafted
  [ -f "$C/.done" ] && return 0
  python3 "$KF_ROOT/tests/hostile/craft.py" "$C" --bomb-mib "$KF_HOSTILE_BOMB_MIB" && touch "$C/.done"
}

# hrun RC [--out NAME] CMD...: runs CMD in a fresh folder $W (TMPDIR=$W/tmp), under the limits.
# Sets $status, $output (stdout), $err (stderr). Fails the test when the exit code is not RC,
# when a failure's stderr is not exactly one line, when anything but NAME is left in $W, or
# when TMPDIR is not empty afterwards.
hrun() {
  local want=$1; shift
  local out=""
  if [ "$1" = --out ]; then out=$2; shift 2; fi
  W=$(mktemp -d "$BATS_TEST_TMPDIR/w.XXXXXX")
  mkdir "$W/tmp"
  # AddressSanitizer reserves terabytes of shadow address space, so an ASan build (SANITIZE=1)
  # cannot run under an address-space limit: there the same bound is put on resident memory by
  # ASan itself (hard_rss_limit_mb, twice the limit for ASan's own shadow and bookkeeping, with a
  # small quarantine); exceeding it kills the process and fails the test all the same
  local lim=(--as="$KF_HOSTILE_AS") san=""
  if hostile_asan; then
    lim=()
    san="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=$((KF_HOSTILE_AS >> 19)):quarantine_size_mb=16"
  fi
  set +e
  (cd "$W" && export TMPDIR="$W/tmp" && { [ -z "$san" ] || export ASAN_OPTIONS="$san"; } &&
   exec prlimit "${lim[@]}" --fsize="$KF_HOSTILE_FSIZE" timeout -k 5 "$KF_HOSTILE_TIMEOUT" "$@") >"$W.out" 2>"$W.err"
  status=$?
  set -e
  output=$(head -c 100000 "$W.out"); err=$(cat "$W.err")
  if [ "$status" -ne "$want" ]; then
    echo "exit $status, expected $want: $*"; echo "stderr: $err"; return 1
  fi
  if [ "$status" -ge 2 ] && [ "$(wc -l < "$W.err")" -ne 1 ]; then
    echo "a failure must be one line on stderr, got $(wc -l < "$W.err"):"; cat -v "$W.err"; return 1
  fi
  if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$W.err"; then
    echo "control characters reached stderr:"; cat -v "$W.err"; return 1
  fi
  local left
  local keep=(! -path ./tmp)
  [ -z "$out" ] || keep+=(! -path "./$out")
  left=$(cd "$W" && find . -mindepth 1 "${keep[@]}" -print)
  if [ -n "$left" ]; then echo "left behind in the working folder: $left"; return 1; fi
  if [ -n "$(ls -A "$W/tmp")" ]; then echo "left in TMPDIR: $(ls -A "$W/tmp")"; return 1; fi
  return 0
}
