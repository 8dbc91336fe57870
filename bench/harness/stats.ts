export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** A markdown table row: name, figure, baselines and ratios. */
export function row(name: string, skiff: number, floor: number | undefined, peer: number): string {
  const f = (n: number): string => `${n.toFixed(n < 1 ? 2 : n < 10 ? 1 : 0)} ms`;
  const fl = floor === undefined ? '—' : f(floor);
  const ratio = floor === undefined ? '—' : `${(skiff / floor).toFixed(2)}×`;
  return `| ${name} | ${f(skiff)} | ${fl} | ${f(peer)} | ${ratio} | ${(skiff / peer).toFixed(2)}× |`;
}

export const TABLE_HEADER = '| benchmark | skiff | floor | containerd | skiff/floor | skiff/containerd |\n|---|---|---|---|---|---|';
