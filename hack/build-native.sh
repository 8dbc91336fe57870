#!/usr/bin/env bash
# Builds native/spawner.c into dist/native/skiff-spawner (see src/host/spawn.ts).
# Without a C compiler Skiff still works: children are then started by Node itself.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/native/skiff-spawner
if ! command -v cc >/dev/null 2>&1; then
  echo "build-native: no C compiler; children will be started by Node (slower)" >&2
  exit 0
fi
if [ -x "$out" ] && [ "$out" -nt native/spawner.c ]; then exit 0; fi
mkdir -p dist/native
cc -O2 -Wall -Wextra -Werror -o "$out.tmp" native/spawner.c
mv "$out.tmp" "$out"
