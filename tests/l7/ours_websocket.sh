#!/usr/bin/env bash
# kdissect's side of tshark_websocket.sh (NDJSON on stdin): each message is its first frame
# plus ws_frames - 1 continuations; ws_masked is the first frame's mask bit.
jq -r 'select(.ws) | . as $r | ({"continuation":0,"text":1,"binary":2,"close":8,"ping":9,"pong":10}[.ws_opcode]) as $op
  | (if .ws_masked then 1 else 0 end) as $mk
  | "OP \($op) \($mk)", (range(1; .ws_frames) | "CONT \($mk)")' | LC_ALL=C sort
