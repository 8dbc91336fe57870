// CRI timestamps are nanoseconds since the epoch; records keep them as decimal strings.

/** Now, in nanoseconds since the epoch. */
export const nowNsBig = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** Now, in nanoseconds since the epoch, as a decimal string. */
export const nowNs = (): string => nowNsBig().toString();

/** A Date in nanoseconds since the epoch. */
export const dateNs = (d: Date): bigint => BigInt(d.getTime()) * 1_000_000n;
