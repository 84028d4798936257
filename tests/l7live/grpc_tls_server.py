#!/usr/bin/python3
"""gRPC over TLS test server (python3-grpcio) for the gRPC-over-TLS tests (capture-grpctls.sh).

grpc_tls_server.py ADDR PORT CERT KEY: a generic handler, no generated code (messages are bytes):
/kf.Shop/GetItem answers its request message back with grpc-status 0 (OK), /kf.Shop/Missing
answers grpc-status 5 (NOT_FOUND, message "no such item"); any other method gets gRPC's own
12 (UNIMPLEMENTED). Prints "ready" once listening."""
import sys
from concurrent import futures

import grpc


def get_item(request, context):
    return request


def missing(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such item")


def ident(b):
    return b


def main():
    addr, port, cert, key = sys.argv[1:5]
    handlers = {
        "GetItem": grpc.unary_unary_rpc_method_handler(get_item, ident, ident),
        "Missing": grpc.unary_unary_rpc_method_handler(missing, ident, ident),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("kf.Shop", handlers),))
    with open(key, "rb") as k, open(cert, "rb") as c:
        creds = grpc.ssl_server_credentials(((k.read(), c.read()),))
    server.add_secure_port("%s:%s" % (addr, port), creds)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
