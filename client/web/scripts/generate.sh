#!/usr/bin/env bash
# Regenerates client/web/src/gen (the ophost.v1 protocol and the google.rpc
# status details); `npm run build` then bundles the console (scripts/build.mjs).
# Needs `make setup` (for .venv/bin/buf) and `npm ci` in client/web.
set -euo pipefail
cd "$(dirname "$0")/../../.."
rm -rf client/web/src/gen
.venv/bin/buf generate --template client/web/buf.gen.yaml
root="$(.venv/bin/python -c 'import google.rpc.status_pb2 as m, os; print(os.path.dirname(os.path.dirname(os.path.dirname(m.__file__))))')"
.venv/bin/buf generate --template client/web/buf.gen.yaml "$root" \
  --path "$root/google/rpc/status.proto" --path "$root/google/rpc/error_details.proto"
