# Helpers for the kmcp tests (load kmcp after helpers). Real MCP clients from npm drive kmcp:
# tests/mcp/client.mjs on the official TypeScript SDK, the MCP Inspector CLI, the conformance
# suite; all under Node 22 from tests/mcp/node_modules (scripts/install-deps runs npm ci there).
MCP_DIR=$KF_ROOT/tests/mcp
MCP_NODE=$MCP_DIR/node_modules/.bin/node

need_mcp_clients() {
  if [ ! -x "$MCP_NODE" ] || [ ! -d "$MCP_DIR/node_modules/@modelcontextprotocol/sdk" ]; then
    echo "# MCP CLIENT TEST NOT RUN: $BATS_TEST_DESCRIPTION: tests/mcp/node_modules missing (scripts/install-deps)" >&3
    if [ "${KF_REQUIRE_LIVE:-0}" = 1 ]; then fail "KF_REQUIRE_LIVE=1 but the npm MCP clients are not installed"; fi
    skip "npm MCP clients not installed (scripts/install-deps)"
  fi
  export PATH=$MCP_DIR/node_modules/.bin:$PATH
}

# a capture store of the bundled sample (one node, worker-1) with its metadata, in $1
make_sample_store() {
  local st=$1 first seg
  mkdir -p "$st/worker-1"
  first=$(tshark -r "$SAMPLES/node-worker-1-cni0.pcap" -c1 -T fields -e frame.time_epoch 2>/dev/null)
  seg=$(date -u -d "@${first%.*}" +%Y%m%dT%H%M%S).000000000Z.pcapng
  "$KF_BIN/kexport" "$SAMPLES/node-worker-1-cni0.pcap" -o "$st/worker-1/$seg"
  "$KF_BIN/ksnap" meta import --dir "$st" "$SAMPLES/meta-events.ndjson"
}

# mcp_stdio STEPS_JSON KMCP_ARGS... : runs the SDK client over stdio; output lines in $T/out.jsonl
mcp_stdio() {
  local steps=$1; shift
  printf '%s' "$steps" | "$MCP_NODE" "$MCP_DIR/client.mjs" --stdio "$KF_BIN/kmcp" "$@" >"$T/out.jsonl" 2>"$T/client.err" 3>&-
}

# step N: the output line of step N
step() { jq -c "select(.step == $1)" "$T/out.jsonl"; }
# sc N JQ: a jq expression over step N's structuredContent
sc() { step "$1" | jq -r ".result.structuredContent | $2"; }
txt() { step "$1" | jq -r '.result.content[0].text'; }
iserr() { step "$1" | jq -r '.result.isError'; }

# kmcp raw: lines of JSON-RPC in ($1), answers out; no client library (for malformed input)
raw() {
  printf '%s\n' "$1" | timeout 30 "$KF_BIN/kmcp" "${@:2}" 3>&-
}
