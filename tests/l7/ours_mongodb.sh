#!/usr/bin/env bash
# kdissect's side of tshark_mongodb.sh (NDJSON on stdin).
jq -r 'select(.mongodb) | (select(.mongodb_request_id) | "REQ \({"OP_MSG":2013,"OP_QUERY":2004}[.mongodb_op]) \(.mongodb_request_id) \(if .mongodb_op == "OP_QUERY" then "\(.mongodb_database).\(.mongodb_collection)" else .mongodb_command end)"),
  (select(.mongodb_reply_op) | "RESP \(.mongodb_request_id)")' | LC_ALL=C sort
