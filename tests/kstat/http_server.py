#!/usr/bin/env python3
"""A small HTTP/1.1 server for kstat's live test: http_server.py HOST PORT
/ok -> 200, /missing -> 404, /boom -> 500, /busy -> 503 (after 20 ms), /items/N -> 200,
anything else 404. Prints "listening" once it accepts connections."""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, code, body):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        p = self.path
        if p == "/ok" or p.startswith("/items/"):
            self.reply(200, "ok\n")
        elif p == "/boom":
            self.reply(500, "boom\n")
        elif p == "/busy":
            time.sleep(0.02)
            self.reply(503, "busy\n")
        else:
            self.reply(404, "no\n")
    do_POST = do_GET

s = ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H)
print("listening", flush=True)
s.serve_forever()
