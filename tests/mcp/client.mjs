// An MCP client on the official TypeScript SDK (@modelcontextprotocol/sdk) that drives kmcp for
// the tests: it connects over stdio or Streamable HTTP, then runs a script of steps read as JSON
// from standard input and prints one JSON line per step.
//   node client.mjs --stdio KMCP [ARGS...]      |  node client.mjs --http URL [--token FILE]
// Steps: {"list":true} | {"sleep_ms":N} | {"call":"tool","args":{...},"label":"x","progress":true,"cancel_after_ms":N}
// An argument string "$x.a.b.0.c" is replaced by that path of step x's result (structuredContent
// first, so "$calls.calls.0.id"). Output lines: {"step":i,"tool":…,"result":…} or {"step":i,"error":{code,message}}.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
let transport;
if (argv[0] === '--stdio') {
  transport = new StdioClientTransport({ command: argv[1], args: argv.slice(2), stderr: 'inherit', env: { ...process.env } });
} else if (argv[0] === '--http') {
  const headers = {};
  const ti = argv.indexOf('--token');
  if (ti > 0) headers.Authorization = 'Bearer ' + readFileSync(argv[ti + 1], 'utf8').split('\n')[0].trim();
  transport = new StreamableHTTPClientTransport(new URL(argv[1]), { requestInit: { headers } });
} else {
  console.error('usage: client.mjs --stdio CMD ARGS... | --http URL [--token FILE]');
  process.exit(2);
}

const steps = JSON.parse(readFileSync(0, 'utf8'));
const client = new Client({ name: 'kforensics-tests', version: '1.0.0' });
await client.connect(transport);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
out({ step: -1, server: client.getServerVersion(), protocol: transport.protocolVersion ?? null,
      capabilities: client.getServerCapabilities() });

const labels = {};
function resolve(v) {
  if (typeof v === 'string' && v.startsWith('$')) {
    const [label, ...path] = v.slice(1).split('.');
    let cur = labels[label];
    if (cur && cur.structuredContent && !(path[0] in cur)) cur = cur.structuredContent;
    for (const p of path) cur = cur == null ? undefined : cur[p];
    return cur;
  }
  if (Array.isArray(v)) return v.map(resolve);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
  return v;
}

for (const [i, s] of steps.entries()) {
  try {
    if (s.sleep_ms) { await new Promise((r) => setTimeout(r, s.sleep_ms)); out({ step: i, slept: s.sleep_ms }); continue; }
    if (s.list) {
      const r = await client.listTools();
      out({ step: i, tools: r.tools });
      continue;
    }
    const progress = [];
    const opts = { timeout: s.timeout_ms ?? 120000, resetTimeoutOnProgress: true };
    if (s.progress) opts.onprogress = (p) => progress.push(p);
    let ac;
    if (s.cancel_after_ms) { ac = new AbortController(); opts.signal = ac.signal; setTimeout(() => ac.abort('test cancels'), s.cancel_after_ms); }
    const r = await client.callTool({ name: s.call, arguments: resolve(s.args ?? {}) }, undefined, opts);
    if (s.label) labels[s.label] = r;
    out({ step: i, tool: s.call, result: r, progress });
  } catch (e) {
    out({ step: i, tool: s.call, error: { code: e.code ?? null, message: String(e.message ?? e) } });
  }
}
await client.close();
