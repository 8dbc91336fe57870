// CNI spec versions are semver strings. The runtime only needs ordering, so a
// small numeric comparison is enough (no pre-release tags appear in practice).

/** Oldest spec we run: 0.3.0 introduced the rich result and plugin chaining. */
export const MIN_CNI_VERSION = '0.3.0';
/** Spec 0.4.0 introduced CHECK and prevResult on DEL. */
export const CHECK_AND_DEL_PREVRESULT_VERSION = '0.4.0';
/** The version we speak when nothing else decides (VERSION, loopback). */
export const RUNTIME_CNI_VERSION = '1.0.0';

/** Parses "1.0.0" (also "0.3", "0.4.0") into numbers; undefined when not a version. */
export function parseCniVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? '0')];
}

/** Negative, zero or positive like a sort comparator; unparsable versions sort lowest. */
export function compareCniVersions(a: string, b: string): number {
  const pa = parseCniVersion(a) ?? [-1, 0, 0];
  const pb = parseCniVersion(b) ?? [-1, 0, 0];
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export const versionAtLeast = (v: string, min: string): boolean => compareCniVersions(v, min) >= 0;
