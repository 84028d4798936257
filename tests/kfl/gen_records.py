#!/usr/bin/env python3
"""Realistic kdissect-like NDJSON records for kfl's benchmark and its differential test against jq.
usage: gen_records.py OUT MEGABYTES   (deterministic: the same bytes for the same size)"""
import json, random, sys
out, mb = sys.argv[1], int(sys.argv[2])
random.seed(7)
ns = ["prod", "staging", "kube-system", "payments", "default"]
svcs = ["orders", "payment-service", "checkout", "catalog", "auth", "redis", "kafka", "postgres"]
paths = ["/api/v1/users", "/api/v2/orders/123", "/health", "/metrics", "/api/v1/cart?item=9&qty=2", "/login"]
def ep(i, port):
    svc = random.choice(svcs); n = random.choice(ns)
    pod = f"{svc}-{random.randrange(16**10):010x}-{random.randrange(16**5):05x}"
    return {"ip": f"10.0.{random.randrange(256)}.{random.randrange(1,255)}", "port": port, "name": pod,
            "namespace": n, "dns": "", "pod": {"name": pod, "namespace": n, "uid": f"{random.getrandbits(64):016x}",
            "labels": {"app": svc, "tier": random.choice(["web", "db", "cache"])},
            "owner": {"kind": "Deployment", "name": svc}}, "service": {"name": svc, "namespace": n},
            "node": {"name": f"worker-{random.randrange(4)}"}, "host_network": False}
target = mb * 1024 * 1024
size = 0; i = 0
with open(out, "w") as f:
    while size < target:
        i += 1
        t = 1773509025 + i // 50
        r = {"id": f"9f3a1c02e4b7d615-{i:06x}", "timestamp": f"2026-03-14T{(t//3600)%24:02d}:{(t//60)%60:02d}:{t%60:02d}.{random.randrange(10**9):09d}Z",
             "elapsed_time": random.randrange(100, 8000000), "stream": f"c-{i//7:08x}", "conn_id": f"c-{i//7:08x}",
             "flow_id": f"f-{i//20:08x}", "capture_source": "af_packet", "has_pcap": True,
             "node": {"name": "worker-1", "ip": "10.0.0.5"}, "node_name": "worker-1", "node_ip": "10.0.0.5",
             "src": ep(i, random.randrange(32768, 61000)), "dst": ep(i, random.choice([80, 8080, 443, 53, 6379, 9092, 5432]))}
        r["namespaces"] = sorted({r["src"]["namespace"], r["dst"]["namespace"]})
        r["pods"] = [r["src"]["pod"]["name"], r["dst"]["pod"]["name"]]
        r["services"] = [r["src"]["service"]["name"], r["dst"]["service"]["name"]]
        r["local_labels"] = r["src"]["pod"]["labels"]; r["remote_labels"] = r["dst"]["pod"]["labels"]
        k = random.random()
        if k < 0.6:
            code = random.choices([200, 201, 204, 301, 404, 500, 502, 503], [60, 5, 5, 3, 10, 8, 5, 4])[0]
            p = random.choice(paths)
            r.update({"protocol": "HTTP", "http": True, "tcp": True, "method": random.choice(["GET", "POST", "PUT", "DELETE"]),
                      "url": p, "path": p.split("?")[0], "status_code": code, "http_version": "HTTP/1.1",
                      "request": {"headers": {"host": r["dst"]["service"]["name"], "user-agent": "Go-http-client/1.1",
                                  "content-type": "application/json", "accept-encoding": "gzip"}, "body_size": random.randrange(2000)},
                      "response": {"headers": {"content-type": "application/json", "content-length": str(random.randrange(5000))},
                                   "body": "{\"ok\":true,\"items\":[1,2,3],\"msg\":\"caf\\u00e9 \\\"quoted\\\"\"}", "body_size": random.randrange(5000)},
                      "request_headers_size": random.randrange(100, 900), "response_headers_size": random.randrange(100, 900)})
        elif k < 0.8:
            q = random.choice(["google.com", "orders.prod.svc.cluster.local", "api.stripe.com", "s3.amazonaws.com"])
            r.update({"protocol": "DNS", "dns": True, "udp": True, "dns_questions": [q], "dns_question_types": ["A"],
                      "dns_answers": [f"10.1.{random.randrange(256)}.{random.randrange(256)}"], "dns_request": True,
                      "dns_response": True, "status_code": random.choice([0, 0, 0, 3]), "dns_total_size": random.randrange(60, 400)})
        elif k < 0.9:
            r.update({"protocol": "REDIS", "redis": True, "tcp": True, "redis_type": "GET", "redis_command": f"GET session:{i}",
                      "redis_key": f"session:{i}", "redis_total_size": random.randrange(20, 2000)})
        else:
            r.update({"protocol": "TCP", "tcp": True, "conn": True, "tcp_conn": True, "conn_state": random.choice(["open", "closed"]),
                      "conn_local_bytes": random.randrange(10**7), "conn_remote_bytes": random.randrange(10**7),
                      "conn_l7_detected": ["HTTP"], "tcp_error_type": random.choice(["", "", "reset"])})
        r["tcp_metrics"] = {"retransmissions": random.randrange(3), "rtt_avg_us": random.randrange(50, 5000),
                            "connection_completeness": random.choice([15, 31, 47])}
        r["capture"] = {"file": "snap.ksnap:nodes/worker-1/20260314T172300.000000000Z.pcapng", "node": "worker-1",
                        "first_frame": i * 4, "last_frame": i * 4 + 3}
        line = json.dumps(r, separators=(",", ":")) + "\n"
        f.write(line); size += len(line)
