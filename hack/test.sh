#!/usr/bin/env bash
# `npm test`: installs what the tests need, builds, checks types and lint, then
# runs the three test tiers: unit (pure, runs anywhere), host (needs root and
# host tools, no daemon) and e2e (the built daemon with real runc/conmon/CNI/registry).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
bash hack/node-deps.sh
npm run --silent typecheck
npm run --silent lint
# Host and e2e files share host resources (bridges, registries, cgroups): one file at a time.
exec node --test --test-concurrency=1 dist/test/unit/ dist/test/host/ dist/test/e2e/
