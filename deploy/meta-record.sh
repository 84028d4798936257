#!/bin/sh
# kforensics-meta-record — the metadata recorder of deploy/ksnap-meta.yaml: kubectl's watch of
# pods, services, endpoints, endpointslices and nodes, piped into `ksnap meta record`.
# A watch ends (the API server closes it after its timeout, a restart, a network cut): it is
# started again at once, forever; the new watch lists every object again (ADDED events), so the
# store misses nothing but what changed during the pause. SIGTERM ends the loop.
#   kforensics-meta-record DIR [ksnap meta record options...]
# Env: KF_META_RESTART_DELAY (seconds between watches, default 2), KUBECTL, KSNAP (the commands).
set -u
dir=${1:?usage: kforensics-meta-record DIR [ksnap meta record options]}
shift
delay=${KF_META_RESTART_DELAY:-2}
kubectl=${KUBECTL:-kubectl}
ksnap=${KSNAP:-ksnap}
trap 'exit 0' TERM INT
n=0
while :; do
  n=$((n + 1))
  "$kubectl" get pods,services,endpoints,endpointslices,nodes -A -o json --watch --output-watch-events \
    | "$ksnap" meta record --dir "$dir" "$@"
  rc=$?
  echo "kforensics-meta-record: watch $n ended (exit $rc); starting it again in ${delay}s" >&2
  sleep "$delay"
done
