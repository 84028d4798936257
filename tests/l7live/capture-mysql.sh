#!/usr/bin/env bash
# A MariaDB server of its own (mariadb-install-db into a scratch folder, mariadbd as the mysql
# user on a namespace address) and the mariadb client: DDL, DML, queries, errors, a refused login,
# a host not allowed (ERR 1130 in place of the greeting), one session over TLS.
# Usage: capture-mysql.sh OUTDIR -> OUTDIR/mysql.pcap, OUTDIR/mysql-refused.pcap (the 1130 greeting)
L7_PROTO=mysql
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=3306
command -v mariadbd >/dev/null || PATH=$PATH:/usr/sbin
command -v mariadbd >/dev/null || l7_die "mariadbd not found (Debian package mariadb-server)"
U=mysql; id $U >/dev/null 2>&1 || U=root
mkdir "$L7_TMP/data"; chown $U "$L7_TMP/data"
mariadb-install-db --user=$U --datadir="$L7_TMP/data" --auth-root-authentication-method=normal \
  --skip-test-db --no-defaults >"$L7_TMP/install-db.log" 2>&1 || l7_die "mariadb-install-db failed: $(tail -3 "$L7_TMP/install-db.log")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=db.kf.test \
  -keyout "$L7_TMP/data/server.key" -out "$L7_TMP/data/server.crt" 2>/dev/null
chown $U "$L7_TMP/data/server.key" "$L7_TMP/data/server.crt"
l7_bg mariadbd --no-defaults --user=$U --datadir="$L7_TMP/data" --bind-address="$L7_IP" --port=$PORT \
  --socket="$L7_TMP/data/mysqld.sock" --pid-file="$L7_TMP/data/mysqld.pid" \
  --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --skip-log-bin --skip-name-resolve \
  --ssl-cert="$L7_TMP/data/server.crt" --ssl-key="$L7_TMP/data/server.key"
l7_wait_port $PORT 30
l7_settled $PORT                        # the probe's connection is refused (1130): not in the capture
db() { l7_run mariadb --no-defaults --skip-ssl -h "$L7_IP" -P $PORT "$@" >>"$L7_OUT/mariadb.log" 2>&1 || true; }
# no account for TCP yet: the server greets with ERR 1130 (a capture of its own, mysql-refused.pcap)
L7_PCAP=mysql-refused.pcap
l7_capture_start tcp port $PORT
db -u app -psecret shop -e "SELECT 1"
l7_capture_stop
L7_PCAP=mysql.pcap
l7_capture_start tcp port $PORT
# accounts over the socket (not captured): one user reachable over TCP
l7_run mariadb --no-defaults -S "$L7_TMP/data/mysqld.sock" -u root -e \
  "CREATE USER 'app'@'%' IDENTIFIED BY 'secret'; CREATE DATABASE shop; GRANT ALL ON shop.* TO 'app'@'%';" \
  || l7_die "could not create the test account"
db --force -u app -psecret shop <<'SQL'
CREATE TABLE orders (id INT PRIMARY KEY, item VARCHAR(20), qty INT);
INSERT INTO orders VALUES (1, 'apple', 3), (2, 'pear', 5);
UPDATE orders SET qty = qty + 1 WHERE id = 2;
SELECT item, qty FROM orders ORDER BY id;
SELECT * FROM no_such_table;
SELEC 1;
DELETE FROM orders WHERE id = 1;
SELECT seq, MD5(seq) FROM seq_1_to_5000;
SQL
db -u app -psecret shop -e "INSERT INTO orders VALUES (2, 'dup', 1)"
db -u app -pwrong shop -e "SELECT 1"                     # refused at login: ERR 1045
# one session over TLS: the SSL request packet, then the handshake (nothing after it is readable)
l7_run mariadb --no-defaults --ssl --ssl-verify-server-cert=0 -h "$L7_IP" -P $PORT -u app -psecret shop \
  -e "SELECT 2" >>"$L7_OUT/mariadb.log" 2>&1 || l7_die "TLS session failed: $(tail -2 "$L7_OUT/mariadb.log")"
l7_capture_stop
