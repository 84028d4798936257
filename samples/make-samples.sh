#!/usr/bin/env bash
# make-samples.sh — regenerates the bundled sample captures and their Kubernetes metadata.
#
# Real programs talk inside network namespaces this script creates: a "node" namespace
# (worker-1) holds a Linux bridge cni0 (10.0.53.1/24, as flannel's CNI bridge would) and one
# veth pair per "pod" namespace plugged into it:
#
#   coredns  10.0.53.10   dnsmasq answering *.cluster.local (NXDOMAIN for unknown names)
#   orders   10.0.53.101  python3 HTTP/1.1 server; calls payment for POST /api/orders
#   payment  10.0.53.205  python3 HTTP/1.1 server (200, 404, 500, 503, a 1.5 s slow path)
#   redis    10.0.53.210  redis-server
#   fraud    10.0.53.220  gRPC server (python3-grpcio) shop.fraud.v1.FraudCheck/Score
#   cart     10.0.53.150  namespace shop: curl to orders, then the pod is deleted
#   checkout 10.0.53.150  namespace web, created after cart is gone: same IP, other workload
#
# Pods use a Kubernetes resolv.conf (search path, ndots:5) via /etc/netns/<ns>/resolv.conf, so
# curl, redis-cli and python make the same DNS lookups they would in a cluster. DNS answers pod
# IPs (there is no kube-proxy here, so Service cluster IPs never appear on the wire).
#
# Captures (in the node namespace):
#   node-worker-1-cni0.pcap      tcpdump -i cni0, nanosecond pcap: every packet of the story
#   node-worker-1-pods.pcapng    dumpcap on the four long-lived pods' veths: pcapng with one
#                                IDB per interface (if_name), a capture comment and ISBs
#   node-worker-1-tls.pcapng     the HTTPS conversation (orders -> payment:8443) cut from the
#                                cni0 capture by tshark, curl's TLS key log added by editcap
#                                as a Decryption Secrets Block: tshark decrypts it
#   meta-events.ndjson           Kubernetes watch events {"ts","type","object"} (Node, Services,
#                                ReplicaSets, Pods) stamped with the real times of this run
#   README.md is written by hand from the summary this script prints at the end.
#
# Needs root and: iproute2 tcpdump tshark (dumpcap, capinfos) python3 curl redis-server
# redis-tools dnsmasq-base dnsutils (dig) openssl python3-grpcio. Usage: samples/make-samples.sh [OUTDIR]   (default:
# the folder of this script). Takes about 20 s. Cleans up namespaces and processes on exit.
# After regenerating samples/, update README.md's numbers (printed at the end) and run
# scripts/make-demo-snapshot so samples/demo.ksnap matches the new captures.
set -euo pipefail

OUT=$(cd "${1:-$(dirname "$0")}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "make-samples.sh: needs root (network namespaces)" >&2; exit 1; }
for t in ip tcpdump dumpcap tshark editcap capinfos python3 curl redis-server redis-cli dnsmasq dig openssl; do
  command -v "$t" >/dev/null || { echo "make-samples.sh: $t missing (scripts/install-deps)" >&2; exit 1; }
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import grpc' 2>/dev/null || { echo "make-samples.sh: python3 module grpc missing (python3-grpcio)" >&2; exit 1; }

P=kfs$$
WORK=$(mktemp -d)
NODE=$P-node
PIDS=()
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.3
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s%N; }
stamp() { echo "$1=$(now)" >> "$WORK/times"; }   # name=ns since epoch

ip netns add "$NODE"
ip -n "$NODE" link set lo up
ip netns exec "$NODE" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NODE" link add cni0 type bridge
ip -n "$NODE" addr add 10.0.53.1/24 dev cni0
ip -n "$NODE" link set cni0 up

# pod NAME IP: namespace $P-NAME, eth0 with a flannel-style MAC (0a:58 + IP), host side vethXXXXXXXX
pod_up() {
  local name=$1 ip=$2 ns=$P-$1 veth mac
  veth=veth$(printf '%s' "$name" | md5sum | cut -c1-8)
  mac=$(printf '0a:58:%02x:%02x:%02x:%02x' $(echo "$ip" | tr . ' '))
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
  ip -n "$NODE" link add "$veth" type veth peer name eth0 netns "$ns"
  ip -n "$ns" link set eth0 address "$mac"
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via 10.0.53.1
  ip -n "$NODE" link set "$veth" master cni0 up
  mkdir -p "/etc/netns/$ns"
  printf 'search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.0.53.10\noptions ndots:5\n' \
    "${3:-shop}" > "/etc/netns/$ns/resolv.conf"
  echo "$veth"
}
pod_down() { # the pod's processes die and its namespace (and veth) go away
  local ns=$P-$1
  ip netns pids "$ns" | xargs -r kill 2>/dev/null || true
  ip netns del "$ns"
  rm -rf "/etc/netns/$ns"
}
in_pod() { local ns=$P-$1; shift; ip netns exec "$ns" "$@"; }

# --- the HTTP services (python3 http.server, HTTP/1.1 keep-alive) ---
cat > "$WORK/svc.py" <<'EOF'
import http.server, json, sys, time, urllib.request, urllib.error
role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
seq = [1000]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = role + "/1.4.2"
    sys_version = ""
    def log_message(self, *a): pass
    def reply(self, code, obj):
        b = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/healthz": return self.reply(200, {"status": "ok"})
        if role == "payment" and p == "/api/reports/daily":
            time.sleep(1.5)
            return self.reply(200, {"date": "today", "payments": 3, "total": 187.5})
        if role == "payment" and p == "/api/refunds":
            return self.reply(503, {"error": "refund backend unavailable", "retry_after": 30})
        if role == "orders" and p.startswith("/api/orders/"):
            return self.reply(200, {"order_id": p.rsplit("/", 1)[1], "status": "paid"})
        return self.reply(404, {"error": "not found", "path": p})
    def do_POST(self):
        p = self.path.split("?")[0]
        n = int(self.headers.get("Content-Length") or 0)
        try: data = json.loads(self.rfile.read(n) or b"{}")
        except ValueError: return self.reply(400, {"error": "bad json"})
        if role == "payment" and p == "/api/pay":
            if str(data.get("card", "")).endswith("0002"):
                return self.reply(500, {"error": "card processor timeout", "order_id": data.get("order_id")})
            seq[0] += 1
            return self.reply(200, {"payment_id": "pay-%d" % seq[0], "status": "captured", "order_id": data.get("order_id")})
        if role == "orders" and p == "/api/orders":
            seq[0] += 1
            oid = "o-%d" % seq[0]
            body = json.dumps({"order_id": oid, "amount": data.get("amount"), "currency": "EUR",
                               "card": data.get("card", "4111-1111-1111-1111")}).encode()
            req = urllib.request.Request("http://payment:8080/api/pay", data=body,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return self.reply(201, {"order_id": oid, "payment": json.loads(r.read())})
            except urllib.error.HTTPError as e:
                return self.reply(502, {"error": "payment failed", "order_id": oid, "upstream_status": e.code})
        return self.reply(404, {"error": "not found", "path": p})
if len(sys.argv) > 6:   # also HTTPS on another port: cert, key, port
    import ssl, threading
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    tls = http.server.ThreadingHTTPServer((host, int(sys.argv[6])), H)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    threading.Thread(target=tls.serve_forever, daemon=True).start()
http.server.ThreadingHTTPServer((host, port), H).serve_forever()
EOF
# --- gRPC (python3-grpcio, no generated code: messages are protobuf encoded by hand) ---
cat > "$WORK/grpc_svc.py" <<'EOF'
import sys, time, grpc
from concurrent import futures
def varint(n):
    out = b""
    while True:
        b = n & 0x7F; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def field_str(num, s): b = s.encode(); return varint(num << 3 | 2) + varint(len(b)) + b
def field_int(num, v): return varint(num << 3) + varint(v)
def parse(msg):   # {field number: value} for varint and length-delimited fields
    i, out = 0, {}
    while i < len(msg):
        key, shift = 0, 0
        while True:
            b = msg[i]; i += 1; key |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80: break
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, shift = 0, 0
            while True:
                b = msg[i]; i += 1; v |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80: break
            out[num] = v
        elif wt == 2:
            n, shift = 0, 0
            while True:
                b = msg[i]; i += 1; n |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80: break
            out[num] = msg[i:i + n]; i += n
        else: break
    return out
# shop.fraud.v1.FraudCheck/Score: ScoreRequest{1: order_id, 2: amount_cents, 3: card_bin}
#   -> ScoreReply{1: score (0..100), 2: verdict}
def score(req, ctx):
    m = parse(req)
    oid = m.get(1, b"").decode()
    if m.get(3, b"") == b"400000":
        ctx.abort(grpc.StatusCode.UNAVAILABLE, "fraud model not loaded for BIN 400000")
    if m.get(2, 0) > 100000:
        time.sleep(0.8)
        return field_int(1, 87) + field_str(2, "review")
    return field_int(1, 3) + field_str(2, "allow")
if sys.argv[1] == "server":
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("shop.fraud.v1.FraudCheck",
        {"Score": grpc.unary_unary_rpc_method_handler(score)}),))
    server.add_insecure_port(sys.argv[2])
    server.start()
    server.wait_for_termination()
else:   # client: four calls on one HTTP/2 connection
    ch = grpc.insecure_channel(sys.argv[2], options=[("grpc.default_authority", "fraud.shop.svc.cluster.local:50051"),
                                                     ("grpc.primary_user_agent", "orders/1.4.2")])
    call = ch.unary_unary("/shop.fraud.v1.FraudCheck/Score")
    for oid, cents, bin_ in [("o-1001", 4250, "411111"), ("o-0998", 725, "411111"),
                             ("o-0999", 1999, "400000"), ("o-1003", 250000, "555544")]:
        try:
            call(field_str(1, oid) + field_int(2, cents) + field_str(3, bin_), timeout=5,
                 metadata=(("x-request-id", "req-" + oid),))
        except grpc.RpcError:
            pass
    ch.close()
EOF
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=payment.shop.svc.cluster.local" \
  -addext "subjectAltName=DNS:payment.shop.svc.cluster.local,DNS:payment" \
  -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null

# --- pods with servers ---
V_DNS=$(pod_up coredns 10.0.53.10 kube-system)
V_ORD=$(pod_up orders 10.0.53.101)
V_PAY=$(pod_up payment 10.0.53.205)
V_RED=$(pod_up redis 10.0.53.210)
V_FRD=$(pod_up fraud 10.0.53.220)

in_pod coredns dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --user=root \
  --listen-address=10.0.53.10 --bind-interfaces --local=/cluster.local/ --domain-needed \
  --host-record=orders.shop.svc.cluster.local,10.0.53.101 \
  --host-record=payment.shop.svc.cluster.local,10.0.53.205,fd00:53::cd \
  --host-record=redis.shop.svc.cluster.local,10.0.53.210 \
  --host-record=fraud.shop.svc.cluster.local,10.0.53.220 \
  --host-record=kube-dns.kube-system.svc.cluster.local,10.0.53.10 \
  --pid-file="$WORK/dnsmasq.pid" --log-facility="$WORK/dnsmasq.log" &
PIDS+=($!)
in_pod redis redis-server --bind 10.0.53.210 --port 6379 --save '' --appendonly no \
  --protected-mode no --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
in_pod payment "$PY" "$WORK/svc.py" payment 10.0.53.205 8080 "$WORK/tls.crt" "$WORK/tls.key" 8443 &
PIDS+=($!)
in_pod orders "$PY" "$WORK/svc.py" orders 10.0.53.101 8080 &
PIDS+=($!)
in_pod fraud "$PY" "$WORK/grpc_svc.py" server 10.0.53.220:50051 &
PIDS+=($!)
# wait until every server answers
for i in $(seq 50); do
  if in_pod orders curl -4 -s -o /dev/null http://10.0.53.205:8080/healthz 2>/dev/null &&
     in_pod payment curl -4 -s -o /dev/null http://10.0.53.101:8080/healthz 2>/dev/null &&
     in_pod orders curl -4 -sk -o /dev/null https://10.0.53.205:8443/healthz 2>/dev/null &&
     in_pod orders redis-cli -h 10.0.53.210 PING >/dev/null 2>&1 &&
     in_pod orders bash -c 'exec 3<>/dev/tcp/10.0.53.220/50051' 2>/dev/null &&
     in_pod orders dig +short +time=1 +tries=1 @10.0.53.10 orders.shop.svc.cluster.local >/dev/null 2>&1; then break; fi
  sleep 0.2
done
sleep 1

# --- captures ---
rm -f "$OUT/node-worker-1-cni0.pcap" "$OUT/node-worker-1-pods.pcapng"
ip netns exec "$NODE" tcpdump -i cni0 -s 0 --time-stamp-precision=nano -w "$WORK/cni0.pcap" -U 2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
ip netns exec "$NODE" dumpcap -q -i "$V_ORD" -i "$V_PAY" -i "$V_RED" -i "$V_DNS" \
  --capture-comment "kforensics sample: node worker-1, veths of orders, payment, redis, coredns" \
  -w "$WORK/pods.pcapng" 2>"$WORK/dumpcap.log" &
DUMPCAP=$!
PIDS+=($DUMPCAP)
for i in $(seq 50); do
  [ -s "$WORK/cni0.pcap" ] && [ -s "$WORK/pods.pcapng" ] && grep -q listening "$WORK/tcpdump.log" && break
  sleep 0.1
done
sleep 0.5
stamp capture_start

# --- act 1: pod "cart" (namespace shop) holds 10.0.53.150 and calls orders ---
stamp cart_created
V_CART=$(pod_up cart 10.0.53.150 shop)
sleep 0.3
stamp cart_running
in_pod cart curl -4 -s -o /dev/null -H 'User-Agent: cart/2.1' http://orders:8080/api/orders/o-1001
sleep 0.2
in_pod cart curl -4 -s -o /dev/null -H 'User-Agent: cart/2.1' -H 'Content-Type: application/json' \
  -d '{"cart_id":"c-7","user":"u-42","amount":42.50,"card":"4111-1111-1111-1111"}' http://orders:8080/api/orders
sleep 0.2
in_pod cart curl -4 -s -o /dev/null -H 'User-Agent: cart/2.1' http://orders:8080/api/cart-items
sleep 0.3
stamp cart_terminating
pod_down cart
stamp cart_deleted
sleep 0.5

# --- act 2: orders' own traffic: keep-alive, 503, 404, 500, a slow call, redis, DNS, a refused port ---
# one connection, three requests (curl reuses it): 200, 503, 404
in_pod orders curl -4 -s -o /dev/null -o /dev/null -o /dev/null -H 'User-Agent: orders/1.4.2' \
  http://payment:8080/healthz http://payment:8080/api/refunds http://payment:8080/api/v0/legacy
sleep 0.2
# POST with a JSON body that payment fails with 500
in_pod orders curl -4 -s -o /dev/null -H 'User-Agent: orders/1.4.2' -H 'Content-Type: application/json' \
  -d '{"order_id":"o-0999","amount":19.99,"currency":"EUR","card":"4000-0000-0000-0002"}' \
  http://payment.shop.svc.cluster.local:8080/api/pay
sleep 0.2
stamp slow_start
in_pod orders curl -4 -s -o /dev/null -H 'User-Agent: orders/1.4.2' http://payment:8080/api/reports/daily
sleep 0.2
# redis: one connection with several commands, then single ones
printf '%s\n' 'SET session:123 "{\"user\":\"u-42\",\"cart\":\"c-7\"}" EX 1800' 'GET session:123' \
  'GET session:999' 'INCR orders:count' 'EXPIRE session:123 900' | in_pod orders redis-cli -h redis >/dev/null
in_pod orders redis-cli -h redis HSET cart:c-7 sku-1 2 sku-9 1 >/dev/null
in_pod orders redis-cli -h redis DEL session:123 >/dev/null
sleep 0.2
# DNS by hand: A, AAAA, and a name that does not exist
in_pod orders dig +short payment.shop.svc.cluster.local A >/dev/null
in_pod orders dig +short payment.shop.svc.cluster.local AAAA >/dev/null
in_pod orders dig +short redis.shop.svc.cluster.local A >/dev/null
in_pod orders dig inventory.shop.svc.cluster.local A >/dev/null || true
sleep 0.2
# HTTPS with the TLS secrets logged (curl's SSLKEYLOGFILE): two requests on one connection
in_pod orders env SSLKEYLOGFILE="$WORK/tls-keys.log" curl -4 -sk --http1.1 -o /dev/null -o /dev/null \
  -H 'User-Agent: orders/1.4.2' -H 'Content-Type: application/json' \
  -d '{"order_id":"o-0998","amount":7.25,"currency":"EUR","card":"4111-1111-1111-1111"}' \
  https://payment:8443/api/pay --next -4 -sk --http1.1 -o /dev/null -H 'User-Agent: orders/1.4.2' \
  https://payment:8443/api/refunds
sleep 0.2
# gRPC: orders asks fraud to score four orders on one HTTP/2 connection (OK, OK, UNAVAILABLE, slow)
in_pod orders "$PY" "$WORK/grpc_svc.py" client 10.0.53.220:50051
sleep 0.2
# nothing listens on payment:9090: SYN answered by RST (curl exits 7)
in_pod orders curl -4 -s -o /dev/null --max-time 2 http://10.0.53.205:9090/metrics || true
sleep 0.7

# --- act 3: pod "checkout" (namespace web) gets 10.0.53.150, the IP cart had ---
stamp checkout_created
V_CHK=$(pod_up checkout 10.0.53.150 web)
sleep 0.3
stamp checkout_running
in_pod checkout curl -4 -s -o /dev/null -H 'User-Agent: checkout/0.9' -H 'Content-Type: application/json' \
  -d '{"cart_id":"c-8","user":"u-77","amount":125.00,"card":"4000-0000-0000-0002"}' \
  http://orders.shop.svc.cluster.local:8080/api/orders
sleep 0.2
in_pod checkout curl -4 -s -o /dev/null -H 'User-Agent: checkout/0.9' -H 'Content-Type: application/json' \
  -d '{"cart_id":"c-8","user":"u-77","amount":125.00,"card":"5555-4444-3333-1111"}' \
  http://orders.shop.svc.cluster.local:8080/api/orders
sleep 0.2
in_pod checkout curl -4 -s -o /dev/null -H 'User-Agent: checkout/0.9' http://orders.shop.svc.cluster.local:8080/api/orders/o-1004
sleep 0.5
stamp capture_end

# let the capturers drain the kernel's buffers (a loaded machine lags): wait until both files
# stop growing, then stop them
prev=
for i in $(seq 40); do
  cur=$(stat -c %s "$WORK/cni0.pcap" "$WORK/pods.pcapng" | tr '\n' ' ')
  [ "$cur" = "$prev" ] && break
  prev=$cur
  sleep 0.5
done
kill -INT "$TCPDUMP" "$DUMPCAP"
wait "$TCPDUMP" "$DUMPCAP" 2>/dev/null || true
cp "$WORK/cni0.pcap" "$OUT/node-worker-1-cni0.pcap"
cp "$WORK/pods.pcapng" "$OUT/node-worker-1-pods.pcapng"
# the HTTPS conversation alone, with its key log as a Decryption Secrets Block
rm -f "$OUT/node-worker-1-tls.pcapng"
tshark -r "$WORK/cni0.pcap" -Y 'tcp.port == 8443' -F pcapng -w "$WORK/tls-only.pcapng" 2>/dev/null
editcap --inject-secrets "tls,$WORK/tls-keys.log" "$WORK/tls-only.pcapng" "$OUT/node-worker-1-tls.pcapng"
chmod 0644 "$OUT"/node-worker-1-*

# --- Kubernetes metadata, stamped with this run's times ---
"$PY" - "$WORK/times" "$OUT/meta-events.ndjson" <<'EOF'
import json, sys, hashlib, datetime
times = dict(l.strip().split("=") for l in open(sys.argv[1]) if "=" in l)
t = {k: int(v) for k, v in times.items()}
out = open(sys.argv[2], "w")
def rfc(ns):
    s, f = divmod(ns, 10**9)
    return datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % f
def rfc_s(ns):  # metadata timestamps in Kubernetes have second precision
    return datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
def uid(s):
    h = hashlib.sha1(s.encode()).hexdigest()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:32])
rv = [48210]
def ev(ts, typ, obj):
    rv[0] += 7
    obj["metadata"]["resourceVersion"] = str(rv[0])
    out.write(json.dumps({"ts": rfc(ts), "type": typ, "object": obj}, separators=(",", ":")) + "\n")
NODE_IP = "192.168.56.11"
start = t["capture_start"]
early = start - 3 * 3600 * 10**9          # the cluster was up hours before the capture
node = {"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "worker-1", "uid": uid("node/worker-1"), "creationTimestamp": rfc_s(early - 86400 * 10**9),
                     "labels": {"kubernetes.io/hostname": "worker-1", "kubernetes.io/os": "linux",
                                "node-role.kubernetes.io/worker": ""}},
        "spec": {"podCIDR": "10.0.53.0/24", "podCIDRs": ["10.0.53.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": "worker-1"}],
                   "nodeInfo": {"kubeletVersion": "v1.29.4", "containerRuntimeVersion": "containerd://1.7.13",
                                "osImage": "Debian GNU/Linux 12 (bookworm)"}}}
ev(early, "ADDED", node)
def service(name, ns, ip, port, sel):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "uid": uid("svc/%s/%s" % (ns, name)),
                         "creationTimestamp": rfc_s(early), "labels": {"app": name}},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "selector": sel,
                     "ports": [{"name": "main", "port": port, "targetPort": port, "protocol": "TCP"}]}}
for s in [service("kube-dns", "kube-system", "10.96.0.10", 53, {"k8s-app": "kube-dns"}),
          service("orders", "shop", "10.96.41.17", 8080, {"app": "orders"}),
          service("payment", "shop", "10.96.88.203", 8080, {"app": "payment"}),
          service("redis", "shop", "10.96.7.9", 6379, {"app": "redis"}),
          service("fraud", "shop", "10.96.66.50", 50051, {"app": "fraud"}),
          service("checkout", "web", "10.96.120.5", 8080, {"app": "checkout"})]:
    ev(early, "ADDED", s)
def rs(name, ns, deploy, h):
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "%s-%s" % (deploy, h), "namespace": ns, "uid": uid("rs/%s/%s-%s" % (ns, deploy, h)),
                         "creationTimestamp": rfc_s(early), "labels": {"app": deploy, "pod-template-hash": h},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deploy,
                                              "uid": uid("deploy/%s/%s" % (ns, deploy)), "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {"replicas": 1}}
def pod(name, ns, app, h, ip, created, image, phase="Running", labels_extra=None, owner="ReplicaSet"):
    labels = {"app": app, "pod-template-hash": h}
    if app == "coredns": labels = {"k8s-app": "kube-dns", "pod-template-hash": h}
    labels.update(labels_extra or {})
    o = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": ns, "uid": uid("pod/%s/%s/%d" % (ns, name, created)),
                      "creationTimestamp": rfc_s(created), "labels": labels,
                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "%s-%s" % (app, h),
                                           "uid": uid("rs/%s/%s-%s" % (ns, app, h)), "controller": True,
                                           "blockOwnerDeletion": True}]},
         "spec": {"nodeName": "worker-1", "containers": [{"name": app, "image": image}]},
         "status": {"phase": "Pending", "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}]}}
    if phase == "Running":
        o["status"].update({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": rfc_s(created)})
    return o
pods = [("coredns-76f75df574-9hxzw", "kube-system", "coredns", "76f75df574", "10.0.53.10", "registry.k8s.io/coredns/coredns:v1.11.1"),
        ("orders-594487879c-7xkqp", "shop", "orders", "594487879c", "10.0.53.101", "registry.example/shop/orders:1.4.2"),
        ("payment-7d9f8b6c5-x2x7k", "shop", "payment", "7d9f8b6c5", "10.0.53.205", "registry.example/shop/payment:3.0.1"),
        ("redis-5b8c6d7f9-mq4tz", "shop", "redis", "5b8c6d7f9", "10.0.53.210", "redis:7.0.15"),
        ("fraud-84c7d9b5f6-t7vnm", "shop", "fraud", "84c7d9b5f6", "10.0.53.220", "registry.example/shop/fraud:0.3.0")]
for name, ns, app, h, ip, img in pods:
    ev(early, "ADDED", rs(name, ns, app, h))
for name, ns, app, h, ip, img in pods:
    ev(early, "ADDED", pod(name, ns, app, h, ip, early, img, phase="Pending"))
    ev(early + 2 * 10**9, "MODIFIED", pod(name, ns, app, h, ip, early, img))
# cart: created, running, terminating, deleted — then checkout gets the same IP
ev(t["cart_created"] - 10**9, "ADDED", rs("cart", "shop", "cart", "6f8d9b7c4"))
c_img = "registry.example/shop/cart:2.1.0"
ev(t["cart_created"], "ADDED", pod("cart-6f8d9b7c4-ab12c", "shop", "cart", "6f8d9b7c4", "10.0.53.150", t["cart_created"], c_img, phase="Pending"))
ev(t["cart_running"], "MODIFIED", pod("cart-6f8d9b7c4-ab12c", "shop", "cart", "6f8d9b7c4", "10.0.53.150", t["cart_created"], c_img))
term = pod("cart-6f8d9b7c4-ab12c", "shop", "cart", "6f8d9b7c4", "10.0.53.150", t["cart_created"], c_img)
term["metadata"]["deletionTimestamp"] = rfc_s(t["cart_terminating"])
term["metadata"]["deletionGracePeriodSeconds"] = 30
ev(t["cart_terminating"], "MODIFIED", term)
ev(t["cart_deleted"], "DELETED", term)
ev(t["checkout_created"] - 10**9, "ADDED", rs("checkout", "web", "checkout", "7c9d8f6b5"))
k_img = "registry.example/web/checkout:0.9.3"
ev(t["checkout_created"], "ADDED", pod("checkout-7c9d8f6b5-qw8rt", "web", "checkout", "7c9d8f6b5", "10.0.53.150", t["checkout_created"], k_img, phase="Pending"))
ev(t["checkout_running"], "MODIFIED", pod("checkout-7c9d8f6b5-qw8rt", "web", "checkout", "7c9d8f6b5", "10.0.53.150", t["checkout_created"], k_img))
out.close()
print("times:")
for k in ["capture_start", "cart_created", "cart_running", "cart_terminating", "cart_deleted", "slow_start",
          "checkout_created", "checkout_running", "capture_end"]:
    print("  %-17s %s" % (k, rfc(t[k])))
EOF

echo "interfaces: orders=$V_ORD payment=$V_PAY redis=$V_RED coredns=$V_DNS fraud=$V_FRD cart=$V_CART checkout=$V_CHK"
for f in "$OUT/node-worker-1-cni0.pcap" "$OUT/node-worker-1-pods.pcapng" "$OUT/node-worker-1-tls.pcapng"; do
  echo "== $(basename "$f"): $(capinfos -c -M "$f" 2>/dev/null | awk -F': *' '/Number of packets/{print $2}') packets"
  tshark -r "$f" -Y http.response -T fields -e ip.src -e ip.dst -e http.response.code -e http.response_for.uri 2>/dev/null | sort | uniq -c
done
echo "== DNS (cni0)"
tshark -r "$OUT/node-worker-1-cni0.pcap" -Y 'dns.flags.response==1' -T fields -e dns.qry.name -e dns.qry.type -e dns.flags.rcode 2>/dev/null | sort | uniq -c
echo "== redis commands (cni0)"
tshark -r "$OUT/node-worker-1-cni0.pcap" -Y 'tcp.dstport==6379 && tcp.len>0' -T fields -e tcp.payload 2>/dev/null | wc -l
echo "== gRPC (cni0)"
tshark -r "$OUT/node-worker-1-cni0.pcap" -d tcp.port==50051,http2 -Y 'ip.src == 10.0.53.220 && http2.type == 1' \
  -T fields -E occurrence=a -E aggregator='|' -e http2.header.name -e http2.header.value 2>/dev/null
tshark -r "$OUT/node-worker-1-cni0.pcap" -d tcp.port==50051,http2 -Y 'http2.headers.path' -T fields -e http2.headers.path 2>/dev/null
echo "== RST (cni0)"
tshark -r "$OUT/node-worker-1-cni0.pcap" -Y 'tcp.flags.reset==1' -T fields -e ip.src -e tcp.srcport -e ip.dst 2>/dev/null
du -ch "$OUT"/node-worker-1-* "$OUT/meta-events.ndjson" | tail -1
