// Wall-clock nanoseconds that never step backwards: the wall clock is read once
// and advanced with the monotonic clock. CRI timestamps are Unix nanoseconds,
// and CPU rates divide by differences of them, so monotonicity matters more
// than following later NTP steps.
const offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export function nowNs(): bigint {
  return process.hrtime.bigint() + offsetNs;
}
