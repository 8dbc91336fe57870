import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { type DirUsage, dirUsage, UsageCache } from '../../src/stats/dir-usage.js';

async function blocksOf(p: string): Promise<number> {
  return Number((await fs.lstat(p, { bigint: true })).blocks) * 512;
}

describe('dirUsage', () => {
  it('counts allocated bytes and inodes, hard links once, symlinks not followed', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-du-'));
    const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-du-out-'));
    try {
      await fs.mkdir(path.join(root, 'a/b'), { recursive: true });
      await fs.writeFile(path.join(root, 'a/big'), Buffer.alloc(1024 * 1024, 1));
      await fs.link(path.join(root, 'a/big'), path.join(root, 'a/b/big-link'));
      await fs.writeFile(path.join(root, 'small'), 'x');
      await fs.writeFile(path.join(outside, 'huge'), Buffer.alloc(4 * 1024 * 1024, 1));
      await fs.symlink(outside, path.join(root, 'to-outside'));
      // A name that is not valid UTF-8: must be counted, not lost to a mangled path.
      const weird = Buffer.concat([Buffer.from(root + '/latin1-'), Buffer.from([0xe9])]);
      await fs.writeFile(weird, 'y');

      const entries = ['', 'a', 'a/b', 'a/big', 'small', 'to-outside'];
      let expected = 0;
      for (const e of entries) expected += await blocksOf(path.join(root, e));
      expected += Number((await fs.lstat(weird, { bigint: true })).blocks) * 512;

      const u = await dirUsage(root);
      // root, a, a/b, a/big (= a/b/big-link), small, to-outside, latin1-\xe9
      assert.equal(u.inodes, 7);
      assert.equal(u.bytes, expected);
      assert.ok(u.bytes >= 1024 * 1024 && u.bytes < 4 * 1024 * 1024, `hard link once, symlink target not counted: ${u.bytes}`);

      assert.deepEqual(await dirUsage(path.join(root, 'small')), { bytes: await blocksOf(path.join(root, 'small')), inodes: 1 });
      await assert.rejects(dirUsage(path.join(root, 'nope')), { code: 'ENOENT' });
      await assert.rejects(dirUsage(root, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    } finally {
      await fs.rm(root, { recursive: true, force: true });
      await fs.rm(outside, { recursive: true, force: true });
    }
  });

  it('tolerates entries vanishing mid-walk', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-du-'));
    try {
      for (let d = 0; d < 20; d++) {
        await fs.mkdir(path.join(root, `d${d}`));
        for (let f = 0; f < 50; f++) await fs.writeFile(path.join(root, `d${d}`, `f${f}`), 'z');
      }
      const walking = dirUsage(root, { concurrency: 2 });
      const removing = (async () => {
        for (let d = 19; d >= 0; d--) await fs.rm(path.join(root, `d${d}`), { recursive: true, force: true });
      })();
      const [u] = await Promise.all([walking, removing]);
      assert.ok(u.inodes >= 1 && u.inodes <= 1 + 20 * 51, `inodes ${u.inodes}`);
      assert.deepEqual(await dirUsage(root), { bytes: await blocksOf(root), inodes: 1 });
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe('UsageCache', () => {
  const fake = (): { calls: string[]; measure: (p: string) => Promise<DirUsage>; result: { v: DirUsage | Error } } => {
    const calls: string[] = [];
    const result: { v: DirUsage | Error } = { v: { bytes: 1, inodes: 1 } };
    return {
      calls,
      result,
      measure: async (p) => {
        calls.push(p);
        await new Promise((r) => setImmediate(r));
        if (result.v instanceof Error) throw result.v;
        return result.v;
      },
    };
  };

  it('serves fresh values from memory, shares walks in flight, refreshes stale ones in the background', async () => {
    let now = 0;
    const f = fake();
    const c = new UsageCache({ ttlMs: 1000, now: () => now, measure: f.measure });
    const [a, b] = await Promise.all([c.get('/x'), c.get('/x')]);
    assert.deepEqual(a, { bytes: 1, inodes: 1 });
    assert.equal(b, a);
    assert.equal(f.calls.length, 1, 'one walk for concurrent callers');

    now = 999;
    await c.get('/x');
    assert.equal(f.calls.length, 1, 'fresh: no walk');

    f.result.v = { bytes: 2, inodes: 2 };
    now = 1000;
    assert.deepEqual(await c.get('/x'), { bytes: 1, inodes: 1 }, 'stale value served at once');
    assert.equal(f.calls.length, 2, 'background refresh started');
    await c.refresh('/x');
    assert.equal(f.calls.length, 2, 'refresh joined the walk in flight');
    assert.deepEqual(c.peek('/x'), { bytes: 2, inodes: 2 });
  });

  it('walks at most backgroundWalks stale paths at once, every stale path in turn', async () => {
    let now = 0;
    let running = 0;
    let peak = 0;
    const walked: string[] = [];
    const c = new UsageCache({
      ttlMs: 10,
      now: () => now,
      backgroundWalks: 2,
      measure: async (p) => {
        running++;
        peak = Math.max(peak, running);
        walked.push(p);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return { bytes: now, inodes: 1 };
      },
    });
    const paths = Array.from({ length: 8 }, (_, i) => `/p${i}`);
    await Promise.all(paths.map((p) => c.get(p)));
    walked.length = 0;
    peak = 0;
    now = 100;
    for (const p of paths) assert.deepEqual(await c.get(p), { bytes: 0, inodes: 1 }, 'stale value at once');
    for (const p of paths) void c.get(p); // asked again while queued: not queued twice
    while (walked.length < paths.length || running > 0) await new Promise((r) => setTimeout(r, 2));
    assert.equal(peak, 2);
    assert.deepEqual([...walked].sort(), [...paths].sort());
    for (const p of paths) assert.deepEqual(c.peek(p), { bytes: 100, inodes: 1 });
  });

  it('waits for the walk when staleWhileRevalidate is off; drops vanished paths; keeps values on other errors', async () => {
    let now = 0;
    const f = fake();
    const c = new UsageCache({ ttlMs: 10, now: () => now, measure: f.measure, staleWhileRevalidate: false });
    await c.get('/x');
    f.result.v = { bytes: 5, inodes: 5 };
    now = 10;
    assert.deepEqual(await c.get('/x'), { bytes: 5, inodes: 5 });

    f.result.v = Object.assign(new Error('EIO'), { code: 'EIO' });
    now = 20;
    await assert.rejects(c.get('/x'), /EIO/);
    assert.deepEqual(c.peek('/x'), { bytes: 5, inodes: 5 }, 'kept after EIO');
    assert.deepEqual(await c.get('/x'), { bytes: 5, inodes: 5 }, 'backs off for a TTL');

    f.result.v = Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    now = 40;
    await assert.rejects(c.get('/x'), /ENOENT/);
    assert.equal(c.peek('/x'), undefined);
    assert.equal(c.size, 0);

    await assert.rejects(c.get('/y'), /ENOENT/);
    assert.equal(c.size, 0, 'a first walk that fails leaves nothing');
  });

  it('forget during a walk does not resurrect the entry', async () => {
    const f = fake();
    const c = new UsageCache({ measure: f.measure });
    const p = c.get('/x');
    c.forget('/x');
    await p;
    assert.equal(c.peek('/x'), undefined);
    c.clear();
  });
});
