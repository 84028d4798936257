# Shared bats helpers. Load with: load helpers
bats_load_library bats-support 2>/dev/null || load /usr/lib/bats/bats-support/load
bats_load_library bats-assert 2>/dev/null || load /usr/lib/bats/bats-assert/load
: "${KF_BIN:=$BATS_TEST_DIRNAME/../../bin}"
: "${KF_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${KF_CORPUS:=$KF_ROOT/tests/corpus}"
export TZ=UTC LC_ALL=C
SAMPLES=$KF_ROOT/samples

# Tests that need root, eBPF or network namespaces call this first. Without the means they skip
# loudly; with KF_REQUIRE_LIVE=1 (CI) that becomes a failure.
require_live() {
  local why=""
  [ "$(id -u)" -eq 0 ] || why="not root"
  [ -z "$why" ] && ! ip netns list >/dev/null 2>&1 && why="no network namespaces"
  if [ -n "$why" ]; then
    echo "# LIVE TEST NOT RUN: $BATS_TEST_DESCRIPTION: $why" >&3
    if [ "${KF_REQUIRE_LIVE:-0}" = 1 ]; then fail "KF_REQUIRE_LIVE=1 but live test cannot run: $why"; fi
    skip "live test needs root and netns: $why"
  fi
}

# A network namespace owned by this test, removed in teardown via netns_cleanup.
netns_make() { # name
  local ns="kf$$_$1"
  ip netns add "$ns" && ip -n "$ns" link set lo up && echo "$ns"
}
netns_cleanup() { # kill processes inside, delete namespaces created by netns_make in this process
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^kf$$_"); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    sleep 0.1
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}
