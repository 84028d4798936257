// gRPC server and client for tests/l7live/capture-grpc.sh, on @grpc/grpc-js over h2c.
//   node live.js server HOST:PORT    serves kf.live.Orders until killed
//   node live.js client HOST:PORT    unary OK twice, unary NOT_FOUND, a server stream of 3, a
//                                    gzip-compressed unary call on a second channel; prints one
//                                    line per call: "<method> <status> ..."
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const def = loader.loadSync(path.join(__dirname, 'kf.proto'), { keepCase: true });
const Orders = grpc.loadPackageDefinition(def).kf.live.Orders;
const [mode, addr] = process.argv.slice(2);
const orders = { 1: { id: 1, item: 'apple', qty: 3, tags: ['fruit'] }, 2: { id: 2, item: 'pear', qty: 5, tags: [] } };

if (mode === 'server') {
  const server = new grpc.Server();
  server.addService(Orders.service, {
    GetOrder(call, cb) {
      const o = orders[call.request.id];
      if (o) cb(null, o);
      else cb({ code: grpc.status.NOT_FOUND, details: `no order ${call.request.id}` });
    },
    ListOrders(call) {
      for (let i = 1; i <= 3; i++) call.write({ id: i, item: `item${i}`, qty: i, tags: [call.request.region] });
      call.end();
    },
  });
  server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) { console.error(err.message); process.exit(1); }
    console.log('listening', addr);
  });
} else if (mode === 'client') {
  const c = new Orders(addr, grpc.credentials.createInsecure());
  const unary = (id) => new Promise((resolve) => c.GetOrder({ id }, (err) => {
    console.log('GetOrder', err ? err.code : 0); resolve();
  }));
  const stream = () => new Promise((resolve) => {
    const s = c.ListOrders({ region: 'eu' });
    let n = 0;
    s.on('data', () => n++);
    s.on('status', (st) => { console.log('ListOrders', st.code, n); resolve(); });
    s.on('error', () => {});
  });
  // a client that gzips its messages (compressed flag 1, grpc-encoding: gzip)
  const z = new Orders(addr, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
  const zunary = (id) => new Promise((resolve) => z.GetOrder({ id, region: 'x'.repeat(64) }, (err) => {
    console.log('GetOrder', err ? err.code : 0, 'gzip'); resolve();
  }));
  (async () => {
    await unary(1); await unary(2); await unary(99); await stream(); await zunary(2);
    c.close(); z.close();
  })();
} else {
  console.error('usage: node live.js server|client HOST:PORT'); process.exit(2);
}
