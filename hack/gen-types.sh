#!/usr/bin/env bash
# Generates TypeScript types for api/cri/api.proto into src/generated (never edited by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf src/generated
npx proto-loader-gen-types --grpcLib=@grpc/grpc-js --longs=String --enums=String --defaults --oneofs \
  --outDir=src/generated api/cri/api.proto
# The generator writes extensionless relative imports; resolving that folder as
# CommonJS makes them valid. Only types are imported from it, so nothing runs.
echo '{ "type": "commonjs" }' > src/generated/package.json
