import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: this file is compiled to dist/src/version.js. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

export const RUNTIME_NAME = 'skiff';
export const RUNTIME_VERSION = readVersion();
/** The CRI version we serve (runtime.v1). */
export const CRI_API_VERSION = 'v1';
