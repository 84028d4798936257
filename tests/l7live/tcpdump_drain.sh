# tcpdump_drain PID LOG: stops tcpdump PID (whose stderr is LOG) once it has written every packet
# the kernel gave it (a fixed 0.3 s lost the tail on a loaded machine): its statistics (SIGUSR1,
# on LOG) show as many packets captured as received by the filter, the received count unchanged
# over two looks 0.1 s apart. On loopback the kernel hands every packet over twice (going out and
# coming in) and libpcap keeps one, so "received" counts double; a third argument 1 says each
# packet is received once (not loopback). Bounded: after 50 looks it is stopped all the same.
# Sourced by tests/l7live/lib.sh and the live bats suites.
tcpdump_drain() {
  local tp=$1 log=$2 per=${3:-2} prev=-1 n cap rcv
  for _ in $(seq 50); do
    n=$(grep -c 'packets\? captured,' "$log" || true)
    kill -USR1 "$tp"
    for _ in $(seq 50); do [ "$(grep -c 'packets\? captured,' "$log" || true)" -gt "$n" ] && break; sleep 0.02; done
    cap=0 rcv=""
    read -r cap rcv < <(sed -n 's/^tcpdump: \([0-9]*\) packets\? captured, \([0-9]*\) packets\? received by filter.*/\1 \2/p' "$log" | tail -1) || true
    if [ -n "$rcv" ] && [ $((per * cap)) -ge "$rcv" ] && [ "$rcv" -eq "$prev" ]; then break; fi
    prev=${rcv:--1}
    sleep 0.1
  done
  kill -INT "$tp"; wait "$tp" || true
}
