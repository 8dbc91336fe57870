// Small static programs the test images need and busybox lacks, compiled
// from source written here with the host's C compiler (gcc and libc6-dev are
// test dependencies), once per process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cache = new Map<string, Buffer>();

function compileStatic(name: string, source: string): Buffer {
  const hit = cache.get(name);
  if (hit) return hit;
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-cc-'));
  try {
    writeFileSync(path.join(dir, `${name}.c`), source);
    execFileSync('cc', ['-static', '-O2', '-o', path.join(dir, name), path.join(dir, `${name}.c`)], { stdio: 'pipe' });
    const bin = readFileSync(path.join(dir, name));
    cache.set(name, bin);
    return bin;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints "Effective uid: <euid>": installed setuid root, it shows whether no_new_privs held the uid. */
export function euidProbe(): Buffer {
  return compileStatic(
    'euid-probe',
    '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("Effective uid: %d\\n", (int)geteuid()); return 0; }\n',
  );
}
