// gRPC server for tests/l7: node server.js HOST:PORT  (plaintext HTTP/2, prior knowledge)
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const pkg = grpc.loadPackageDefinition(loader.loadSync(__dirname + '/greeter.proto')).kf.test;
const server = new grpc.Server();
server.addService(pkg.Greeter.service, {
  SayHello: (call, cb) => cb(null, { message: 'hello ' + call.request.name, seq: 1 }),
  Find: (call, cb) => cb({ code: grpc.status.NOT_FOUND, details: 'no such name: ' + call.request.name }),
  Count: (call) => {
    for (let i = 0; i < call.request.times; i++) call.write({ message: call.request.name, seq: i });
    call.end();
  },
});
server.bindAsync(process.argv[2], grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { console.error(err.message); process.exit(1); }
  console.log('listening');
});
