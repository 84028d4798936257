// HTTP/2 (h2c, prior knowledge) client for tests/l7live/capture-http2.sh: several requests
// multiplexed on one connection (curl 7.88 cannot reuse a prior-knowledge connection).
//   node h2client.js http://HOST:PORT PATH...   (a path "POST:/p" posts a small body)
// Prints "<status> <method> <path>" per response.
'use strict';
const http2 = require('http2');
const [base, ...paths] = process.argv.slice(2);
const session = http2.connect(base);
session.on('error', (e) => { console.error(e.message); process.exit(1); });
let left = paths.length;
for (const p of paths) {
  const post = p.startsWith('POST:');
  const path = post ? p.slice(5) : p;
  const req = session.request({ ':method': post ? 'POST' : 'GET', ':path': path, 'x-kf-test': 'live' });
  let status = 0;
  req.on('response', (h) => { status = h[':status']; });
  req.on('data', () => {});
  req.on('end', () => {
    console.log(status, post ? 'POST' : 'GET', path);
    if (--left === 0) session.close();
  });
  req.end(post ? 'name=kf&n=1' : undefined);
}
