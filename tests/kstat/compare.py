#!/usr/bin/env python3
"""compare.py KSTAT.ndjson ORACLE.ndjson: the same groups (by key) with the same calls, errors,
client_errors, unanswered, nxdomain, exact percentiles and max; error_ratio within 1e-5.
Prints the differences and exits 1 when there are any."""
import json, sys
FIELDS = ["calls", "errors", "client_errors", "unanswered", "nxdomain", "p50_us", "p90_us", "p95_us", "p99_us", "max_us"]
def load(path):
    out = {}
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            out[json.dumps(r["key"], sort_keys=True)] = r
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = 0
for k in sorted(set(a) | set(b)):
    if k not in a or k not in b:
        print("group only in %s: %s" % ("kstat" if k in a else "oracle", k)); bad += 1; continue
    for f in FIELDS:
        if a[k].get(f) != b[k].get(f):
            print("%s %s: kstat %r, oracle %r" % (k, f, a[k].get(f), b[k].get(f))); bad += 1
    if abs(a[k]["error_ratio"] - b[k]["error_ratio"]) > 1e-5:
        print("%s error_ratio: kstat %r, oracle %r" % (k, a[k]["error_ratio"], b[k]["error_ratio"])); bad += 1
print("%d groups, %d differences" % (len(b), bad))
sys.exit(1 if bad or not b else 0)
