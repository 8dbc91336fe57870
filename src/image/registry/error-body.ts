// What a registry said when it refused: the distribution spec's error body
//   {"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":…}]}
// is the most useful thing to show a user, so failures quote it.

import { readLimited } from './body.js';
import type { HttpResponse } from './transport.js';

/** Error bodies are small; more than this is not an error document worth reading. */
const MAX_ERROR_BODY = 64 * 1024;

interface ErrorEntry {
  code?: unknown;
  message?: unknown;
}

/** "CODE: message; CODE2: message2", or undefined when the body holds no spec error. */
export function describeErrorBody(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const errors = (doc as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return undefined;
  const parts = errors
    .filter((e): e is ErrorEntry => typeof e === 'object' && e !== null)
    .map((e) => {
      const code = typeof e.code === 'string' ? e.code : undefined;
      const message = typeof e.message === 'string' ? e.message : undefined;
      return [code, message].filter((s) => s !== undefined && s !== '').join(': ');
    })
    .filter((s) => s !== '');
  return parts.length === 0 ? undefined : parts.join('; ');
}

/**
 * Consumes the response body and returns the registry's error description, if any. Never
 * throws: a broken error body must not hide the status that came with it.
 */
export async function readErrorBody(res: HttpResponse): Promise<string | undefined> {
  try {
    return describeErrorBody((await readLimited(res, MAX_ERROR_BODY, 'error body')).toString('utf8'));
  } catch {
    return undefined;
  }
}
