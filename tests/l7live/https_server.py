#!/usr/bin/env python3
"""HTTPS test server for the TLS decryption tests (tests/bats/kdissect_tls_decrypt.bats).

https_server.py ADDR PORT CERT KEY: HTTP/1.1 with keep-alive over TLS 1.2 or 1.3 (the client picks
version and suite; every suite OpenSSL has is allowed), answers GET/POST/PUT/DELETE on any path:
200 with a small body (/big*: 1 MiB), /missing* 404, /created* 201. Prints "ready" once listening."""
import http.server
import ssl
import sys


BIG = bytes(range(256)) * 4096


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        last = self.path.rsplit("/", 1)[-1]
        code = 404 if last.startswith("missing") else 201 if last.startswith("created") else 200
        body = ("%s %s\n" % (self.command, self.path)).encode()
        if last.startswith("big"):
            body = BIG
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *a):
        pass


def main():
    addr, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv = http.server.ThreadingHTTPServer((addr, port), H)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


main()
