#!/usr/bin/env bash
# Builds the small C helpers under native/ into dist/native/:
#   skiff-spawner          the process launcher (src/host/spawn.ts); without it Node starts children itself (slower)
#   skiff-seqpacket-relay  conmon's SOCK_SEQPACKET attach socket to stdio (src/runtime/attach-socket.ts);
#                          without it Attach and tty Exec answer FAILED_PRECONDITION
#   skiff-userns           user namespace pins and idmapped mounts (src/host/userns.ts); without it
#                          no handler reports user namespaces and such pods are refused
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cc >/dev/null 2>&1; then
  echo "build-native: no C compiler; children are started by Node, and Attach and tty Exec are unavailable" >&2
  exit 0
fi
mkdir -p dist/native
for pair in spawner:skiff-spawner seqpacket-relay:skiff-seqpacket-relay userns:skiff-userns; do
  src=native/${pair%%:*}.c
  out=dist/native/${pair##*:}
  if [ -x "$out" ] && [ "$out" -nt "$src" ]; then continue; fi
  cc -O2 -Wall -Wextra -Werror -o "$out.tmp" "$src"
  mv "$out.tmp" "$out"
done
