// A small shop with an incident, for tests/bats/kmcp_live.bats (run inside network namespaces):
//   node shop.mjs servers   orders (HTTP 10.77.0.10:8080) -> inventory (HTTP 10.77.0.11:8081, slow:
//                           400 ms) and payment (gRPC 10.77.0.12:50051, @grpc/grpc-js)
//   node shop.mjs client    frontend's calls from 10.77.0.2; prints a JSON summary of what it did
// orders answers GET /api/orders/N after asking inventory (slow but fine); POST /api/checkout
// gives inventory only 150 ms and answers 503 when it has not replied (the injected 5xx, caused
// by the slow dependency). payment's Charge fails with UNAVAILABLE when the request says "fail".
import http from 'node:http';
import grpc from '@grpc/grpc-js';

const ORDERS = '10.77.0.10', INVENTORY = '10.77.0.11', PAYMENT = '10.77.0.12';
const id = (b) => b;
const def = { Charge: { path: '/shop.Payment/Charge', requestStream: false, responseStream: false,
  requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };

function get(host, port, path, { localAddress, timeout, method = 'GET' } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host, port, path, method, localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    if (timeout) req.setTimeout(timeout, () => { req.destroy(); resolve(0); });
    req.on('error', () => resolve(0));
    req.end();
  });
}

if (process.argv[2] === 'servers') {
  http.createServer((req, res) => {          // inventory: slow
    setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"stock":7}'); }, 400);
  }).listen(8081, INVENTORY);
  http.createServer(async (req, res) => {    // orders
    const n = (req.url.match(/(\d+)$/) || [0, 0])[1];
    if (req.method === 'POST' && req.url.startsWith('/api/checkout')) {
      const s = await get(INVENTORY, 8081, `/stock/${n}`, { localAddress: ORDERS, timeout: 150 });
      res.writeHead(s === 200 ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(s === 200 ? 'ok' : 'inventory timed out');
      return;
    }
    const s = await get(INVENTORY, 8081, `/stock/${n}`, { localAddress: ORDERS });
    res.writeHead(s === 200 ? 200 : 502, { 'content-type': 'application/json' });
    res.end(`{"order":${n}}`);
  }).listen(8080, ORDERS);
  const server = new grpc.Server();
  server.addService(def, { Charge: (call, cb) => {
    if (call.request.toString().includes('fail')) cb({ code: grpc.status.UNAVAILABLE, details: 'card processor down' });
    else cb(null, Buffer.from('charged'));
  } });
  server.bindAsync(`${PAYMENT}:50051`, grpc.ServerCredentials.createInsecure(), (e) => {
    if (e) { console.error(e); process.exit(1); }
    console.log('ready');
  });
} else if (process.argv[2] === 'client') {
  const from = process.argv[3] || '10.77.0.2';
  const what = process.argv[4] || 'all';
  const out = { orders: [], checkout: [], grpc: [] };
  if (what === 'all' || what === 'http') {
    for (let i = 1; i <= 4; i++) out.orders.push(await get(ORDERS, 8080, `/api/orders/${i}`, { localAddress: from }));
    for (let i = 1; i <= 3; i++) out.checkout.push(await get(ORDERS, 8080, `/api/checkout/${i}`, { localAddress: from, method: 'POST' }));
  }
  if (what === 'all' || what === 'grpc') {
    const Client = grpc.makeGenericClientConstructor(def);
    const c = new Client(`${PAYMENT}:50051`, grpc.credentials.createInsecure());
    for (const body of ['card-1', 'fail-2', 'card-3', 'fail-4', 'card-5'])
      out.grpc.push(await new Promise((r) => c.Charge(Buffer.from(body), (e) => r(e ? e.code : 0))));
    c.close();
  }
  console.log(JSON.stringify(out));
}
