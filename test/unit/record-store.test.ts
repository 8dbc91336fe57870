import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import { NameReservations } from '../../src/store/name-reservations.js';
import { type RecordSchema, RecordStore } from '../../src/store/record-store.js';

interface Thing {
  readonly version: 2;
  readonly id: string;
  readonly n: number;
}

// Version 1 called the field `count`; version 0 had no version and no number.
const SCHEMA: RecordSchema<Thing> = {
  kind: 'thing',
  version: 2,
  migrate(raw) {
    if (typeof raw['id'] !== 'string') throw new Error('no id');
    if (raw['version'] === undefined) return { version: 2, id: raw['id'], n: 0 };
    if (raw['version'] === 1) return { version: 2, id: raw['id'], n: Number(raw['count']) };
    return raw as unknown as Thing;
  },
};

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-rs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const open = async (onCorrupt: (f: string, e: unknown) => void = () => {}): Promise<RecordStore<Thing>> => {
  const s = new RecordStore<Thing>(path.join(dir, 'things'), { schema: SCHEMA, onCorrupt });
  await s.load();
  return s;
};

describe('RecordStore', () => {
  it('update copies, changes, writes and swaps; concurrent updates of one id apply in order', async () => {
    const s = await open();
    await s.put({ version: 2, id: 'a', n: 0 });
    const before = s.get('a')!;
    await Promise.all(Array.from({ length: 20 }, () => s.update('a', (r) => ({ ...r, n: r.n + 1 }))));
    assert.equal(s.get('a')!.n, 20);
    assert.equal(before.n, 0, 'the old object is untouched');
    assert.equal((JSON.parse(readFileSync(path.join(dir, 'things', 'a.json'), 'utf8')) as Thing).n, 20);
    await assert.rejects(
      s.update('nope', (r) => r),
      (e: unknown) => e instanceof SkiffError && e.kind === 'NotFound',
    );
  });

  it('a change that throws leaves the record as it was', async () => {
    const s = await open();
    await s.put({ version: 2, id: 'a', n: 1 });
    await assert.rejects(
      s.update('a', () => {
        throw new Error('no');
      }),
      /no/,
    );
    assert.equal(s.get('a')!.n, 1);
  });

  it('migrates older versions on load and rewrites them once', async () => {
    const d = path.join(dir, 'things');
    (await open()).get('x');
    writeFileSync(path.join(d, 'v0.json'), JSON.stringify({ id: 'v0' }));
    writeFileSync(path.join(d, 'v1.json'), JSON.stringify({ version: 1, id: 'v1', count: 5 }));
    const s = await open();
    assert.deepEqual(s.get('v0'), { version: 2, id: 'v0', n: 0 });
    assert.deepEqual(s.get('v1'), { version: 2, id: 'v1', n: 5 });
    assert.deepEqual(JSON.parse(readFileSync(path.join(d, 'v1.json'), 'utf8')), { version: 2, id: 'v1', n: 5 });
  });

  it('moves unreadable records aside, drops temp files, refuses records of a newer version', async () => {
    const d = path.join(dir, 'things');
    await open();
    writeFileSync(path.join(d, 'bad.json'), '{');
    writeFileSync(path.join(d, 'noid.json'), '{"version":2}');
    writeFileSync(path.join(d, 'a.json.tmp-1'), 'partial');
    const corrupt: string[] = [];
    await open((f) => corrupt.push(path.basename(f)));
    assert.deepEqual(corrupt.sort(), ['bad.json', 'noid.json']);
    assert.deepEqual(readdirSync(d), []);
    assert.equal(readdirSync(`${d}.corrupt`).length, 2);
    writeFileSync(path.join(d, 'new.json'), JSON.stringify({ version: 3, id: 'new' }));
    await assert.rejects(open(), /newer skiff/);
  });
});

describe('NameReservations', () => {
  it('same request in flight → same promise; held → the holder id if reusable; otherwise ALREADY_EXISTS', async () => {
    const names = new NameReservations('thing');
    let creates = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const create = async (): Promise<string> => {
      creates++;
      await gate;
      return 'id1';
    };
    const a = names.reserve('n', 'fp', undefined, create);
    const b = names.reserve('n', 'fp', undefined, create);
    assert.throws(() => names.reserve('n', 'other', undefined, create), /being created with a different config/);
    release();
    assert.equal(await a, 'id1');
    assert.equal(await b, 'id1');
    assert.equal(creates, 1);
    assert.equal(await names.reserve('n', 'fp', { id: 'id1', fingerprint: 'fp', reusable: true }, create), 'id1');
    assert.throws(() => names.reserve('n', 'fp', { id: 'id1', fingerprint: 'fp', reusable: false }, create), /reserved by id1/);
    assert.throws(() => names.reserve('n', 'x', { id: 'id1', fingerprint: 'fp', reusable: true }, create), /reserved by id1/);
    assert.equal(creates, 1);
  });

  it('a failed create frees the name', async () => {
    const names = new NameReservations('thing');
    await assert.rejects(
      names.reserve('n', 'fp', undefined, () => Promise.reject(new Error('x'))),
      /x/,
    );
    assert.equal(await names.reserve('n', 'fp', undefined, async () => 'id2'), 'id2');
  });
});
