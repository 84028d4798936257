#!/usr/bin/env python3
"""HTTP servers for tests/l7live/capture-incident.sh: a small incident on one loopback.
    servers.py backend ADDR PORT           every answer 250 ms late (the slow dependency); /stock/5
                                           answers 500
    servers.py frontend ADDR PORT BACKEND  /api/orders/N calls the backend (from ADDR; 502 when it
                                           fails), /api/pay
                                           answers 503, /health 200
Both serve until killed; one line on stdout once listening."""
import http.client
import http.server
import sys
import time

mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if mode == 'backend':
            time.sleep(0.25)
            if self.path == '/stock/5':
                return self.reply(500, 'stock db down\n')
            return self.reply(200, 'stock ok\n')
        if self.path.startswith('/api/orders/'):
            c = http.client.HTTPConnection(sys.argv[4], 8081, timeout=5, source_address=(addr, 0))
            c.request('GET', '/stock' + self.path[len('/api/orders'):])
            r = c.getresponse()
            r.read()
            c.close()
            return self.reply(200 if r.status == 200 else 502, 'order\n')
        if self.path.startswith('/api/pay'):
            return self.reply(503, 'payments down\n')
        return self.reply(200, 'ok\n')


srv = http.server.ThreadingHTTPServer((addr, port), Handler)
print('listening', addr, port, flush=True)
srv.serve_forever()
