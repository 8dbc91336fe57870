#!/usr/bin/env bash
# Runs the benchmarks (not part of npm test). Installs the containerd peer if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
if ! command -v containerd >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q containerd
fi
bash hack/node-deps.sh
for b in "${@:-pull}"; do
  node "dist/bench/$b.js"
done
