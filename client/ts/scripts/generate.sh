#!/usr/bin/env bash
# Regenerates client/ts/src/gen: the ophost.v1 protocol from protos/ (the template's
# input) and the google.rpc status details from the .proto files that the Python
# env ships with googleapis-common-protos (found through Python, so no path is
# hard-coded). Needs `make setup` (for .venv/bin/buf) and `npm ci` (for protoc-gen-es).
set -euo pipefail
cd "$(dirname "$0")/../../.."
rm -rf client/ts/src/gen
.venv/bin/buf generate --template client/ts/buf.gen.yaml
root="$(.venv/bin/python -c 'import google.rpc.status_pb2 as m, os; print(os.path.dirname(os.path.dirname(os.path.dirname(m.__file__))))')"
.venv/bin/buf generate --template client/ts/buf.gen.yaml "$root" \
  --path "$root/google/rpc/status.proto" --path "$root/google/rpc/error_details.proto"
