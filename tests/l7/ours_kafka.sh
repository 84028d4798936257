#!/usr/bin/env bash
# kdissect's side of tshark_kafka.sh (NDJSON on stdin).
jq -r 'select(.kafka) | (select(.kafka_request) | "REQ \(.kafka_api_key) \(.kafka_api_version) \(.kafka_correlation_id)"),
  (select(.kafka_response) | "RESP \(.kafka_correlation_id)"),
  (select(.kafka_request and .kafka_request_summary != "" and (.kafka_api_key == 0 or .kafka_api_key == 2 or .kafka_api_key == 3 or .kafka_api_key == 8 or .kafka_api_key == 1)) | .kafka_request_summary | split(",")[] | "TOPIC \(.)")' | LC_ALL=C sort
