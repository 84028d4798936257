#!/usr/bin/env bash
# A RabbitMQ node of its own (scratch folders, its own epmd, all in the namespace) and a pika
# client: declare an exchange and queues, bind, publish, consume, get, ack, an unroutable
# mandatory publish (basic.return 312), a failing passive declare (channel.close 404)
# Usage: capture-amqp.sh OUTDIR -> OUTDIR/amqp.pcap
L7_PROTO=amqp
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=5672
RMQ=/usr/lib/rabbitmq/bin/rabbitmq-server
[ -x "$RMQ" ] || l7_die "rabbitmq-server not found (Debian package rabbitmq-server)"
/usr/bin/python3 -c 'import pika' 2>/dev/null || l7_die "pika not found (Debian package python3-pika)"
mkdir -p "$L7_TMP/home" "$L7_TMP/mnesia" "$L7_TMP/log"
printf 'loopback_users = none\nlisteners.tcp.default = %s:%d\n' "$L7_IP" $PORT >"$L7_TMP/rabbitmq.conf"
echo '[].' >"$L7_TMP/enabled_plugins"
head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$L7_TMP/home/.erlang.cookie"
chmod 400 "$L7_TMP/home/.erlang.cookie"
export HOME=$L7_TMP/home RABBITMQ_NODENAME=kf@localhost RABBITMQ_CONFIG_FILE=$L7_TMP/rabbitmq \
  RABBITMQ_MNESIA_BASE=$L7_TMP/mnesia RABBITMQ_LOG_BASE=$L7_TMP/log \
  RABBITMQ_ENABLED_PLUGINS_FILE=$L7_TMP/enabled_plugins RABBITMQ_PID_FILE=$L7_TMP/rabbit.pid \
  ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=25672
l7_bg "$RMQ"
l7_wait_port $PORT 40
l7_capture_start tcp port $PORT
l7_run /usr/bin/python3 - "$L7_IP" $PORT >"$L7_OUT/client.log" 2>&1 <<'PY' || l7_die "client failed: $(cat "$L7_OUT/client.log")"
import sys, pika
host, port = sys.argv[1], int(sys.argv[2])
params = pika.ConnectionParameters(host=host, port=port, virtual_host="/",
                                   credentials=pika.PlainCredentials("guest", "guest"))
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.exchange_declare("orders", exchange_type="topic", durable=False)
ch.queue_declare("orders.eu", auto_delete=True)
ch.queue_declare("orders.us", auto_delete=True)
ch.queue_bind("orders.eu", "orders", routing_key="order.eu.*")
ch.queue_bind("orders.us", "orders", routing_key="order.us.*")
for key in ("order.eu.created", "order.us.created", "order.eu.paid"):
    ch.basic_publish("orders", key, b'{"id":1}', pika.BasicProperties(content_type="application/json"))
ch.basic_publish("", "orders.us", b"direct")
ch.basic_publish("", "orders.us", b"z" * 300000)          # body over several frames (frame_max 128 KiB)
ch.basic_publish("orders", "order.nowhere", b"lost", mandatory=True)   # unroutable: basic.return 312
for _ in range(3):                                          # the routed one, "direct", the big one
    m, p, body = ch.basic_get("orders.us")
    ch.basic_ack(m.delivery_tag)
print("got", len(body))
got = []
def on_msg(c, m, p, b):
    got.append(b); c.basic_ack(m.delivery_tag)
    if len(got) == 2: c.stop_consuming()
ch.basic_consume("orders.eu", on_msg)
ch.start_consuming()
try:
    ch.queue_declare("no.such.queue", passive=True)     # NOT_FOUND: the server closes the channel
except pika.exceptions.ChannelClosedByBroker as e:
    print("closed", e.reply_code)
ch2 = conn.channel()
ch2.queue_delete("orders.us")
conn.close()
PY
l7_capture_stop
