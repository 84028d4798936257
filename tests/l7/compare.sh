#!/usr/bin/env bash
# Compares kdissect with tshark (the oracle) on every corpus capture of one protocol.
# Usage: compare.sh PROTO   (tls | tls-server | redis | http2 | postgresql | mysql | kafka | amqp | websocket)
# Env: KF_BIN (kdissect), KF_CORPUS. Prints "ok <capture> <n items>", "known <capture>: <why>"
# for the documented exceptions in exceptions.tsv, and a diff for any other disagreement;
# exits 1 when a capture disagrees without a documented reason, or when an exception no longer
# differs (so the list cannot go stale).
set -u
here=$(cd "$(dirname "$0")" && pwd)
proto=$1
: "${KF_BIN:=$here/../../bin}" "${KF_CORPUS:=$here/../corpus}"
export LC_ALL=C
case $proto in
  tls|tls-server) dir=tls ;; redis) dir=redis ;; http2) dir="http2 grpc" ;;
  postgresql) dir=postgres ;; mysql) dir=mysql ;; kafka) dir=kafka ;; amqp) dir=amqp ;;
  websocket) dir=websocket ;; *) echo "compare.sh: unknown protocol $proto" >&2; exit 2 ;;
esac

kd() { "$KF_BIN/kdissect" --no-conn "$1" 2>/dev/null; }

# Each function prints the oracle's items (tshark) or ours (kdissect) for one capture, sorted.
tshark_items() { # file decode_as
  local f=$1 da=$2
  case $proto in
    # DTLS: only hellos tshark reassembled (a fragment alone carries no JA3)
    tls) tshark -r "$f" ${da:+-d "$da"} -Y "tls.handshake.type==1 || dtls.handshake.ja3" -T fields \
           -e tls.handshake.ja3 -e dtls.handshake.ja3 -e tls.handshake.extensions_server_name \
           -e dtls.handshake.extensions_server_name 2>/dev/null |
           awk -F'\t' '{ print $1 $2 "\t" $3 $4 }' | sort ;;
    tls-server) tshark -r "$f" ${da:+-d "$da"} -Y "tls.handshake.type==2 || dtls.handshake.type==2" -T fields \
           -e tls.handshake.ja3s -e dtls.handshake.ja3s -e tls.handshake.ciphersuite -e dtls.handshake.ciphersuite 2>/dev/null |
           awk -F'\t' '{ print $1 $2 "\t" ($3 != "" ? $3 : ($4 != "" ? $4 : "0x0")) }' |
           while IFS=$'\t' read -r j c; do printf '%s\t%d\n' "$j" "$c"; done | sort ;;
    redis) local port
      port=$(kd "$f" | jq -r 'select(.redis and .redis_request_size>0)|.dst.port' | head -1)
      "$here/tshark_resp_count.sh" "$f" "${port:-6379}" "$da" ;;
    http2) "$here/tshark_h2_calls.sh" "$f" "$da" ;;
    postgresql) "$here/tshark_pgsql.sh" "$f" "$da" ;;
    mysql) "$here/tshark_mysql.sh" "$f" "$da" ;;
    *) "$here/tshark_$proto.sh" "$f" "$da" ;;
  esac
}
ours_items() { # file
  local f=$1
  case $proto in
    tls) kd "$f" | jq -r 'select(.tlsx and (.tlsx_ja3 or .tlsx_sslv2_hello)) | [.tlsx_ja3 // "", .tlsx_sni // ""] | @tsv' | sort ;;
    tls-server) kd "$f" | jq -r 'select(.tlsx and .tlsx_ja3s) | [.tlsx_ja3s, (.tlsx_cipher_suite|tostring)] | @tsv' | sort ;;
    redis) kd "$f" | jq -rs '[map(select(.redis and .redis_request_size>0))|length, map(select(.redis and .redis_response_size>0))|length] | "\(.[0]) \(.[1])"' ;;
    http2) kd "$f" | jq -r 'select(.http_version=="2") | (select(.method and (.http2_upgraded|not)) | "REQ \(.method) \(.url // "")"), (select(.status_code and .status_code>0) | "RESP \(.status_code)"), (select(.grpc and (.response.trailers["grpc-status"] // .response.headers["grpc-status"])) | "GRPC \(.response.trailers["grpc-status"] // .response.headers["grpc-status"])")' | sort ;;
    postgresql) kd "$f" | jq -r 'select(.postgresql) | (select(.postgresql_query and (.postgresql_prepared|not)) | (.postgresql_queries // [.postgresql_query])[] | "QUERY \(.|gsub("\n";"\\n")|gsub("\r";"\\r")|gsub("\t";"\\t"))"), (select(.postgresql_tags) | .postgresql_tags | split(";")[] | "TAG \(.)"), (select(.postgresql_error_code) | "ERR \(.postgresql_error_code)")' | tr -d '\200-\377' | cut -c1-200 | sort ;;
    mysql) kd "$f" | jq -r 'select(.mysql) | (select(.mysql_query and (.mysql_command=="COM_QUERY" or .mysql_command=="COM_STMT_PREPARE")) | "QUERY \(.mysql_query|gsub("\n";"\\n")|gsub("\r";"\\r")|gsub("\t";"\\t"))"), (select(.mysql_error_code) | "ERR \(.mysql_error_code)")' | tr -d '\200-\377' | cut -c1-200 | sort ;;
    *) kd "$f" | "$here/ours_$proto.sh" ;;
  esac
}

rc=0
while IFS=$'\t' read -r path fallback; do
  f=$KF_CORPUS/$path
  [ -f "$f" ] || { echo "missing $path"; rc=1; continue; }
  da=$(printf '%s' "$fallback" | sed -n 's/^decode-as \([^:]*\):.*/\1/p')
  a=$(tshark_items "$f" "$da"); b=$(ours_items "$f")
  why=$(awk -F'\t' -v p="$proto" -v c="$path" '$1==p && $2==c {print $3}' "$here/exceptions.tsv")
  if [ "$a" == "$b" ]; then
    if [ -n "$why" ]; then echo "stale exception (now agrees): $path"; rc=1; fi
    echo "ok $path $(printf '%s' "$a" | grep -c .)"
  elif [ -n "$why" ]; then
    echo "known $path: $why"
  else
    echo "DIFF $path (tshark <, kdissect >)"; diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | head -20; rc=1
  fi
done < <(for d in $dir; do awk -F'\t' -v d="$d" '$8=="capture" && index($1, d "/")==1 {print $1"\t"$15}' "$KF_CORPUS/SOURCES.tsv"; done)
exit $rc
