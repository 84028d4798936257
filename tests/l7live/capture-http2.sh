#!/usr/bin/env bash
# nghttpd (h2c, no TLS) and curl with HTTP/2 prior knowledge: GET of pages and a missing one,
# a HEAD, a POST; then node's http2 client multiplexing several streams on one connection.
# Usage: capture-http2.sh OUTDIR -> OUTDIR/http2.pcap
L7_PROTO=http2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=8080
command -v nghttpd >/dev/null || PATH=$PATH:/usr/sbin
command -v nghttpd >/dev/null || l7_die "nghttpd not found (Debian package nghttp2-server)"
mkdir -p "$L7_TMP/www/api"
echo '<html><body>kforensics</body></html>' >"$L7_TMP/www/index.html"
head -c 40000 /dev/zero | tr '\0' x >"$L7_TMP/www/big.txt"
echo '{"ok":true}' >"$L7_TMP/www/api/status.json"
l7_bg nghttpd --no-tls -d "$L7_TMP/www" "$PORT"
l7_wait_port $PORT 20
l7_capture_start tcp port $PORT
U=http://$L7_IP:$PORT
curl2() { # [curl options] URL... : each response body dropped, "<status> <url>" logged
  local a=() u
  while [ $# -gt 0 ] && [ "${1#http}" = "$1" ]; do a+=("$1"); shift; done
  for u; do a+=(-o /dev/null "$u"); done
  l7_run curl -s --http2-prior-knowledge -w '%{http_code} %{http_version} %{url_effective}\n' "${a[@]}" \
    >>"$L7_OUT/curl.log" 2>&1 || true
}
curl2 "$U/index.html"
curl2 "$U/no/such/page"
curl2 -I "$U/api/status.json"
curl2 -d 'name=kf' "$U/api/status.json"
# several streams multiplexed on one connection, with node's http2 client
l7_run /usr/bin/node "$(dirname "$0")/h2client.js" "$U" /index.html /big.txt /api/status.json /gone \
  POST:/api/status.json /index.html >>"$L7_OUT/curl.log" 2>&1 || l7_die "h2client: $(tail -2 "$L7_OUT/curl.log")"
l7_capture_stop
