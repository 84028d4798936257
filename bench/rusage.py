#!/usr/bin/env python3
"""bench/rusage.py OUT CMD...: runs CMD (stdin, stdout and stderr as given) and writes
"wall user sys maxrss_kb" into OUT, times in seconds to the microsecond.

Why not /usr/bin/time: GNU time prints hundredths of a second, and on a 0.2 s run (kdissect on the
prefix that tshark can take in the same run) 10 ms is 5 %. The kernel's own account (wait4's
rusage) is finer. Exits with CMD's status (127 when it cannot be run)."""
import os
import signal
import sys
import time

if len(sys.argv) < 3:
    sys.exit("usage: rusage.py OUT CMD...")
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # Python ignores it; CMD must not inherit that
    try:
        os.execvp(cmd[0], cmd)
    except OSError as e:
        print(f"rusage.py: {cmd[0]}: {e.strerror}", file=sys.stderr)
    os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
with open(out, "w") as f:
    f.write(f"{wall:.6f} {ru.ru_utime:.6f} {ru.ru_stime:.6f} {ru.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
