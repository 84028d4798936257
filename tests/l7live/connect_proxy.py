#!/usr/bin/env python3
"""A tiny HTTP CONNECT proxy for the live tests (tests/bats/kdissect_l7_live.bats).

connect_proxy.py ADDR PORT: answers CONNECT host:port with 200 and relays bytes both ways to
127.0.0.1:port (every target host is this machine: the test's network namespace); anything
else gets 405. One thread per connection. Prints "ready" once listening."""
import select
import socket
import sys
import threading


def relay(a, b):
    socks = [a, b]
    while True:
        r, _, _ = select.select(socks, [], [], 30)
        if not r:
            return
        for s in r:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


def handle(c):
    try:
        head = b''
        while b'\r\n\r\n' not in head and len(head) < 65536:
            d = c.recv(4096)
            if not d:
                return
            head += d
        line = head.split(b'\r\n', 1)[0].split()
        if len(line) < 2 or line[0] != b'CONNECT':
            c.sendall(b'HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            return
        port = int(line[1].rsplit(b':', 1)[1])
        u = socket.create_connection(('127.0.0.1', port))
        c.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
        rest = head.split(b'\r\n\r\n', 1)[1]
        if rest:
            u.sendall(rest)
        relay(c, u)
        u.close()
    finally:
        c.close()


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


if __name__ == '__main__':
    main()
