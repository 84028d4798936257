#!/usr/bin/env bash
# kdissect's side of tshark_amqp.sh (NDJSON on stdin): each record is its method and its reply.
jq -r 'select(.amqp) | "M \(.amqp_class_id) \(.amqp_method_id)",
  (select(.amqp_reply_method_id) | "M \(.amqp_class_id) \(.amqp_reply_method_id)"),
  (select(.amqp_class_id == 60 and .amqp_method_id == 40) | "PUB \(.amqp_exchange // "") \(.amqp_routing_key // "")")' | LC_ALL=C sort
