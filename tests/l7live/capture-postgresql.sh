#!/usr/bin/env bash
# A PostgreSQL server of its own (initdb into a scratch folder, run as the postgres user on a
# namespace address) and psql: DDL, DML, queries, failing statements with SQLSTATEs, a refused
# login, one session over TLS (SSLRequest, then the handshake); pgbench for the extended query
# protocol (unnamed and prepared statements).
# Usage: capture-postgresql.sh OUTDIR -> OUTDIR/postgresql.pcap
L7_PROTO=postgresql
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=5432
PGBIN=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || l7_die "PostgreSQL server binaries not found (Debian package postgresql)"
id postgres >/dev/null 2>&1 || l7_die "no postgres user"
chown postgres "$L7_TMP"
runuser -u postgres -- "$PGBIN/initdb" -D "$L7_TMP/data" -A trust -U postgres --no-sync -E UTF8 \
  --locale=C >"$L7_TMP/initdb.log" 2>&1 || l7_die "initdb failed: $(tail -3 "$L7_TMP/initdb.log")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=db.kf.test \
  -keyout "$L7_TMP/data/server.key" -out "$L7_TMP/data/server.crt" 2>/dev/null
chown postgres "$L7_TMP/data/server.key" "$L7_TMP/data/server.crt"; chmod 600 "$L7_TMP/data/server.key"
printf 'host all intruder 0.0.0.0/0 reject\nhost all all 0.0.0.0/0 trust\n' >>"$L7_TMP/data/pg_hba.conf"
l7_bg runuser -u postgres -- "$PGBIN/postgres" -D "$L7_TMP/data" -p $PORT -k "$L7_TMP" \
  -c listen_addresses="$L7_IP" -c ssl=on -c autovacuum=off -c fsync=off -c logging_collector=off
l7_wait_port $PORT 30
for ((i = 0; i < 300; i++)); do             # listening is not ready: "the database system is starting up"
  l7_run "$PGBIN/pg_isready" -q -h "$L7_IP" -p $PORT && break
  sleep 0.1
done
l7_capture_start tcp port $PORT
export PGSSLMODE=disable             # plaintext, so that the queries can be seen; one session in TLS below
psql() { l7_run runuser -u postgres -- psql -X -q -h "$L7_IP" -p $PORT -U postgres "$@" >>"$L7_OUT/psql.log" 2>&1 || true; }
# (a CREATE DATABASE that fails would spoil the whole session: say so)
l7_run runuser -u postgres -- psql -X -q -h "$L7_IP" -p $PORT -U postgres -d postgres -c 'CREATE DATABASE shop' \
  >>"$L7_OUT/psql.log" 2>&1 || l7_die "CREATE DATABASE failed: $(tail -2 "$L7_OUT/psql.log")"
psql -d shop <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, item text, qty int);
INSERT INTO orders VALUES (1, 'apple', 3), (2, 'pear', 5);
UPDATE orders SET qty = qty + 1 WHERE id = 2;
SELECT item, qty FROM orders ORDER BY id;
SELECT * FROM no_such_table;
BEGIN;
DELETE FROM orders WHERE id = 1;
COMMIT;
SELECT 1 / 0;
COPY orders FROM STDIN;
10	plum	1
11	fig	2
12	kiwi	3
\.
SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
SQL
# shellcheck disable=SC2016  # $$dup$$ is SQL dollar quoting
psql -d shop -c 'INSERT INTO orders VALUES (2, $$dup$$, 1)'
psql -d shop -U intruder -c 'SELECT 1'                  # refused at startup: FATAL 28000
PGSSLMODE=require psql -d shop -c 'SELECT 2'             # SSLRequest answered 'S', then TLS
# extended query protocol: pgbench with unnamed statements, then named prepared ones
cat >"$L7_TMP/bench.sql" <<'SQL'
\set id random(1, 2)
SELECT item, qty FROM orders WHERE id = :id;
UPDATE orders SET qty = qty WHERE id = :id;
SQL
for mode in extended prepared; do
  l7_run runuser -u postgres -- "$PGBIN/pgbench" -n -h "$L7_IP" -p $PORT -U postgres -M $mode -t 2 \
    -f "$L7_TMP/bench.sql" shop >>"$L7_OUT/pgbench.log" 2>&1 || l7_die "pgbench -M $mode: $(tail -3 "$L7_OUT/pgbench.log")"
done
l7_capture_stop
