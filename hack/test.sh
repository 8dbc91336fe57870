#!/usr/bin/env bash
# `npm test`: installs what the tests need, builds, then runs unit and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
bash hack/node-deps.sh
# End-to-end files share host resources (bridges, registries, cgroups): one file at a time.
exec node --test --test-concurrency=1 dist/test/unit/ dist/test/e2e/
