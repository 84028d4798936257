// gRPC client for tests/l7: node client.js HOST:PORT N
// N unary SayHello calls (one connection, several in flight), one failing Find, one Count
// stream of 3 replies; prints "ok <n>" when done.
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const pkg = grpc.loadPackageDefinition(loader.loadSync(__dirname + '/greeter.proto')).kf.test;
const c = new pkg.Greeter(process.argv[2], grpc.credentials.createInsecure());
const n = parseInt(process.argv[3] || '10', 10);
let done = 0;
function hello(i) {
  return new Promise((res) => c.SayHello({ name: 'user-' + i, times: i }, () => { done++; res(); }));
}
(async () => {
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 50); k++) batch.push(hello(k));
    await Promise.all(batch);
  }
  await new Promise((res) => c.Find({ name: 'ghost' }, () => res()));
  await new Promise((res) => {
    const s = c.Count({ name: 'tick', times: 3 });
    s.on('data', () => {}); s.on('end', res); s.on('error', res);
  });
  console.log('ok ' + done);
  c.close();
})();
