#!/usr/bin/env bash
# Installs the npm packages of package.json once into a cache outside the repository and prints
# the NODE_PATH to use: NODE_PATH=$(tests/l7/grpc/setup.sh) node tests/l7/grpc/server.js …
# Env: KF_GRPC_DEPS (default /var/tmp/kf-l7-grpc). Exit 1 when npm cannot install them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
deps=${KF_GRPC_DEPS:-/var/tmp/kf-l7-grpc}
if [ ! -d "$deps/node_modules/@grpc/grpc-js" ] || ! cmp -s "$here/package.json" "$deps/package.json"; then
  mkdir -p "$deps"
  cp "$here/package.json" "$deps/package.json"
  (cd "$deps" && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || exit 1
fi
echo "$deps/node_modules"
