// bench/pull: pull a generated ~200 MB multi-layer image from a local registry.
// Skiff's time beside containerd's (CRI PullImage on Debian's containerd) and the
// floor (curl + sha256sum + gunzip + tar of the same blobs), in the same run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { TestDaemon } from '../test/support/daemon.js';
import { buildImage, type BuiltImage, layer, pushImage } from '../test/support/images.js';
import { TestRegistry } from '../test/support/registry.js';
import type { TarEntry } from '../test/support/tar-writer.js';
import { Containerd } from './harness/containerd.js';
import { median, row, TABLE_HEADER, timed } from './harness/stats.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const LAYERS = 5;
const CONCURRENCY = 3;

/** A layer of ~40 MB compressed: random (incompressible) files plus text-like files, like real images. */
function generateLayer(n: number): TarEntry[] {
  const entries: TarEntry[] = [{ type: 'dir', name: `layer${n}/` }];
  for (let i = 0; i < 300; i++) entries.push({ type: 'file', name: `layer${n}/bin${i}`, data: randomBytes(100 * 1024) });
  const words = Array.from({ length: 5000 }, () => randomBytes(4).toString('hex'));
  for (let i = 0; i < 200; i++) {
    const text = Array.from({ length: 30000 }, (_, k) => words[(k * 7 + i) % words.length]).join(' ');
    entries.push({ type: 'file', name: `layer${n}/text${i}.txt`, data: text.slice(0, 200 * 1024) });
  }
  return entries;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/** The floor: each blob downloaded, hashed, decompressed and untarred by standard tools, 3 at a time. */
async function floorPull(base: string, repo: string, image: BuiltImage): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-floor-'));
  try {
    const script = 'curl -sf "$1" | tee >(sha256sum > "$2/sum") | gunzip | tar -x -C "$2/fs"';
    const queue = image.layers.map((l, i) => ({ l, i }));
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const out = path.join(dir, String(next.i));
        await fs.mkdir(path.join(out, 'fs'), { recursive: true });
        // The script is fixed; URL and directory are positional arguments, never spliced in.
        await run('bash', ['-o', 'pipefail', '-c', script, 'floor', `${base}/v2/${repo}/blobs/${next.l.digest}`, out]);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  process.stderr.write('generating the image…\n');
  const layers = Array.from({ length: LAYERS }, (_, i) => layer(generateLayer(i)));
  const image = buildImage(layers);
  const compressed = layers.reduce((n, l) => n + l.blob.length, 0);
  const registry = await TestRegistry.start();
  const skiff = await TestDaemon.start({ extraToml: `[image]\nmax_concurrent_layers = ${CONCURRENCY}\n`, args: ['--log-level', 'info'] });
  let containerd: Containerd | undefined;
  try {
    await pushImage(registry.url, 'bench/big', 'v1', image);
    containerd = await Containerd.start({ registryHosts: [registry.host] });
    const ref = `${registry.host}/bench/big:v1`;
    const times = { skiff: [] as number[], containerd: [] as number[], floor: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      process.stderr.write(`run ${i + 1}/${RUNS}\n`);
      times.floor.push(await timed(() => floorPull(registry.url, 'bench/big', image)));
      times.skiff.push(await timed(() => skiff.img('PullImage', { image: { image: ref } }, 600000)));
      await skiff.img('RemoveImage', { image: { image: ref } });
      const c = containerd;
      times.containerd.push(await timed(() => c.call(c.image, 'PullImage', { image: { image: ref } })));
      await c.call(c.image, 'RemoveImage', { image: { image: ref } });
    }
    const mb = (compressed / 1e6).toFixed(0);
    process.stdout.write(`\nbench/pull: ${LAYERS} layers, ${mb} MB compressed, median of ${RUNS} runs\n\n${TABLE_HEADER}\n`);
    process.stdout.write(
      row(`PullImage (${mb} MB, ${LAYERS} layers)`, median(times.skiff), median(times.floor), median(times.containerd)) + '\n',
    );
  } finally {
    await containerd?.stop();
    await skiff.destroy();
    await registry.stop();
  }
}

await main();
