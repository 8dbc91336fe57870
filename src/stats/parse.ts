/** Values at or above 2^62 are the kernel's "no limit" (v1 prints 0x7FFFFFFFFFFFF000). */
export const UNLIMITED_THRESHOLD = 1n << 62n;

/** Parses a single decimal integer file ("12345\n"); throws on anything else. */
export function parseBigIntValue(text: string, what: string): bigint {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new Error(`${what}: unexpected content ${JSON.stringify(t.slice(0, 40))}`);
  return BigInt(t);
}

export function parseNumberValue(text: string, what: string): number {
  return Number(parseBigIntValue(text, what));
}

/**
 * A memory limit in bytes, or undefined when unlimited: v2 "max", or a value
 * of 2^62 or more (v1's page-rounded INT64_MAX).
 */
export function parseLimit(text: string, what: string): number | undefined {
  const t = text.trim();
  if (t === 'max') return undefined;
  const v = parseBigIntValue(t, what);
  return v >= UNLIMITED_THRESHOLD ? undefined : Number(v);
}

/**
 * Picks the wanted keys out of a flat keyed file ("key value\n" lines, as
 * memory.stat and cpu.stat). Missing keys are absent from the result;
 * values that are not decimal integers are skipped.
 */
export function parseFlatKeyed<K extends string>(text: string, wanted: readonly K[]): Partial<Record<K, bigint>> {
  const want = new Set<string>(wanted);
  const out: Partial<Record<K, bigint>> = {};
  let remaining = want.size;
  let start = 0;
  while (start < text.length && remaining > 0) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const sp = text.indexOf(' ', start);
    if (sp !== -1 && sp < end) {
      const key = text.slice(start, sp);
      if (want.has(key) && !(key in out)) {
        const value = text.slice(sp + 1, end).trim();
        if (/^\d+$/.test(value)) {
          out[key as K] = BigInt(value);
          remaining--;
        }
      }
    }
    start = end + 1;
  }
  return out;
}

/** Working set as kubelet defines it: usage minus inactive file pages, never below 0. */
export function workingSet(usage: number, inactiveFile: number): number {
  return usage > inactiveFile ? usage - inactiveFile : 0;
}

/** What is left under the limit, floored at 0; undefined without a limit. */
export function available(limit: number | undefined, workingSetBytes: number): number | undefined {
  if (limit === undefined) return undefined;
  return limit > workingSetBytes ? limit - workingSetBytes : 0;
}
