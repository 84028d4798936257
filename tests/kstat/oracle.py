#!/usr/bin/env python3
"""Independent oracle for kstat's statistics (tests/bats/kstat*.bats): the rules of docs/kstat.md
written again in Python, from the records alone.
usage: oracle.py [--by FIELD,FIELD...] < records.ndjson > groups.ndjson
FIELDs are dotted record paths, or src, dst, endpoint (kstat's derived keys); without --by:
protocol,src,dst,endpoint. Prints one JSON object per group with the members kstat --json has
(rate, first and last left out: they are checked elsewhere), keys sorted, groups sorted by key."""
import json, math, re, sys

by = ["protocol", "src", "dst", "endpoint"]
if len(sys.argv) == 3 and sys.argv[1] == "--by":
    by = sys.argv[2].split(",")

def get(r, path, default=None):
    for p in path.split("."):
        if not isinstance(r, dict) or p not in r:
            return default
        r = r[p]
    return r

def workload(r, side):
    e = r.get(side, {})
    pod, svc = e.get("pod", {}), e.get("service", {})
    ns = pod.get("namespace", "")
    if pod.get("owner", {}).get("name"):
        return ns + "/" + pod["owner"]["name"]
    if svc.get("name"):
        return (svc.get("namespace") or ns) + "/" + svc["name"]
    if pod.get("name"):
        return ns + "/" + pod["name"]
    if e.get("dns"):
        return e["dns"]
    return e.get("ip") or "?"

ID = re.compile(r"^([0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")
def template(path):
    out = []
    for seg in path.split("/"):
        if ID.match(seg) or (len(seg) >= 12 and re.fullmatch(r"[0-9a-fA-F]+", seg) and re.search(r"[0-9]", seg)):
            seg = "{id}"
        out.append(seg)
    return "/".join(out)

def endpoint(r):
    p = r["protocol"]
    if r.get("conn"):
        return ":%d" % get(r, "dst.port", 0)
    if p in ("HTTP", "HTTP2"):
        m = r.get("method") or ""
        return (m + " " if m else "") + template(r.get("path") or "")
    if p == "GRPC":
        return r.get("path") or ""
    if p == "DNS":
        t, q = r.get("dns_question_types") or [], r.get("dns_questions") or []
        return ((t[0] + " ") if t else "") + (q[0] if q else "")
    if p == "REDIS":
        return (r.get("redis_command") or "").split(" ")[0].upper()
    def two(a, b=None):
        x, y = r.get(a) or "", (r.get(b) or "") if b else ""
        return x + (" " if x and y else "") + y
    return {"KAFKA": lambda: two("kafka_api_key_name", "kafka_request_summary"),
            "AMQP": lambda: two("amqp_method"), "POSTGRESQL": lambda: two("postgresql_command"),
            "MYSQL": lambda: two("mysql_command"), "MONGODB": lambda: two("mongodb_command", "mongodb_collection"),
            "TLS": lambda: two("tlsx_sni"), "WS": lambda: two("ws_opcode"), "ICMP": lambda: two("icmp_type_name"),
            }.get(p, lambda: ":%d" % get(r, "dst.port", 0))()

CONN_ERRORS = ("refused", "reset", "timeout")
def classify(r):
    """(counted, error, client_error, nxdomain)"""
    p, st = r["protocol"], r.get("status_code") or 0
    if r.get("flow"):
        return (False, 0, 0, 0)
    if r.get("conn"):
        err = r.get("tcp_error_type") in CONN_ERRORS
        return (not r.get("conn_l7_detected") or err, err, 0, 0)
    client = int(p in ("HTTP", "HTTP2", "GRPC") and 400 <= st < 500)
    if p in ("HTTP", "HTTP2"):
        err = st >= 500
    elif p == "GRPC":
        err = st >= 500 or (r.get("grpc_status") or 0) != 0
    elif p == "DNS":
        rc = 0 if r.get("unanswered") else st
        return (True, int(rc not in (0, 3)), 0, int(rc == 3))
    elif p == "REDIS":
        err = r.get("redis_error") is True
    elif p == "KAFKA":
        err = (r.get("kafka_error_code") or 0) != 0
    elif p == "AMQP":
        err = (r.get("amqp_reply_code") or 0) >= 300
    elif p == "POSTGRESQL":
        err = bool(r.get("postgresql_error_code"))
    elif p == "MYSQL":
        err = (r.get("mysql_error_code") or 0) != 0
    elif p == "MONGODB":
        err = r.get("mongodb_success") is False and not r.get("mongodb_no_response") and not r.get("unanswered")
    elif p == "ICMP":
        t = r.get("icmp_type")
        err = t in ((1, 3) if r.get("icmp_v6") else (3, 11))
    else:
        err = False
    return (True, int(err), client, 0)

def nearest_rank(vals, q):
    return vals[max(1, math.ceil(q * len(vals) - 1e-9)) - 1] if vals else None

groups = {}
for line in sys.stdin:
    if not line.strip():
        continue
    r = json.loads(line)
    counted, err, client, nx = classify(r)
    if not counted:
        continue
    key = []
    for b in by:
        if b in ("src", "dst"):
            key.append(workload(r, b))
        elif b == "endpoint":
            key.append(endpoint(r))
        else:
            key.append(get(r, b, ""))   # kstat: a missing field is its type's default ("" / 0)
    k = json.dumps(key)
    g = groups.setdefault(k, {"key": dict(zip(by, key)), "calls": 0, "errors": 0, "client_errors": 0,
                              "unanswered": 0, "nxdomain": 0, "lat": []})
    g["calls"] += 1
    g["errors"] += err
    g["client_errors"] += client
    g["nxdomain"] += nx
    if r.get("unanswered"):
        g["unanswered"] += 1
    elif "elapsed_time" in r:
        g["lat"].append(r["elapsed_time"])

for k in sorted(groups):
    g = groups[k]
    lat = sorted(g.pop("lat"))
    g["error_ratio"] = round(g["errors"] / g["calls"], 6)
    for name, q in (("p50_us", .5), ("p90_us", .9), ("p95_us", .95), ("p99_us", .99)):
        g[name] = nearest_rank(lat, q)
    g["max_us"] = lat[-1] if lat else None
    print(json.dumps(g, sort_keys=True))
