#!/usr/bin/env bash
# `npm run up`: installs, builds and starts Skiff in the foreground with its
# config (/etc/skiff/config.toml if present, else the embedded defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
bash hack/node-deps.sh
exec node dist/src/main.js daemon "$@"
