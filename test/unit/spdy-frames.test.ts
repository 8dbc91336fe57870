import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SPDY3_DICTIONARY } from '../../src/streaming/spdy/dictionary.js';
import {
  controlFrame,
  dataFrame,
  FLAG_FIN,
  type Frame,
  FrameReader,
  FrameType,
  goAwayFrame,
  MAX_FRAME_PAYLOAD,
  pingFrame,
  RstStatus,
  rstStreamFrame,
  settingsFrame,
  streamIdOf,
  synReplyFrame,
  synStreamFrame,
  windowUpdateFrame,
} from '../../src/streaming/spdy/frames.js';
import {
  DictionaryHeaderEncoder,
  HeaderDecoder,
  HeaderEncoder,
  parseHeaderBlock,
  serializeHeaderBlock,
} from '../../src/streaming/spdy/header-codec.js';

const readAll = (bytes: Buffer): Frame[] => new FrameReader().push(bytes);
const control = (bytes: Buffer): Extract<Frame, { kind: 'control' }> => {
  const [f] = readAll(bytes);
  assert.ok(f && f.kind === 'control');
  return f;
};

describe('SPDY/3.1 frames', () => {
  it('writes control frames with the version-3 control bit and their type', () => {
    const ping = pingFrame(7);
    assert.deepEqual([...ping.subarray(0, 8)], [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04]);
    assert.equal(ping.readUInt32BE(8), 7);
    const rst = control(rstStreamFrame(5, RstStatus.Cancel));
    assert.equal(rst.type, FrameType.RstStream);
    assert.equal(streamIdOf(rst.payload), 5);
    assert.equal(rst.payload.readUInt32BE(4), RstStatus.Cancel);
    const away = control(goAwayFrame(9, 1));
    assert.equal(away.type, FrameType.GoAway);
    assert.deepEqual([away.payload.readUInt32BE(0), away.payload.readUInt32BE(4)], [9, 1]);
    const win = control(windowUpdateFrame(3, 65536));
    assert.equal(win.type, FrameType.WindowUpdate);
    assert.deepEqual([streamIdOf(win.payload), win.payload.readUInt32BE(4)], [3, 65536]);
    const set = control(settingsFrame([{ id: 7, value: 1 << 20, flags: 1 }]));
    assert.equal(set.type, FrameType.Settings);
    assert.deepEqual([set.payload.readUInt32BE(0), set.payload.readUInt32BE(4), set.payload.readUInt32BE(8)], [1, 0x01000007, 1 << 20]);
  });

  it('writes SYN_STREAM and SYN_REPLY with stream ids, priority and flags', () => {
    const syn = control(synStreamFrame(3, Buffer.from('hdrs'), FLAG_FIN, 1, 2));
    assert.equal(syn.type, FrameType.SynStream);
    assert.equal(syn.flags, FLAG_FIN);
    assert.equal(streamIdOf(syn.payload), 3);
    assert.equal(syn.payload.readUInt32BE(4), 1);
    assert.equal(syn.payload[8], 2 << 5);
    assert.equal(syn.payload.subarray(10).toString(), 'hdrs');
    const reply = control(synReplyFrame(3, Buffer.from('x')));
    assert.equal(reply.type, FrameType.SynReply);
    assert.equal(streamIdOf(reply.payload), 3);
  });

  it('reads data frames split at any byte, and several frames in one chunk', () => {
    const bytes = Buffer.concat([dataFrame(1, Buffer.from('hello')), dataFrame(3, Buffer.alloc(0), true), pingFrame(1)]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new FrameReader();
      const frames = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
      assert.equal(frames.length, 3, `cut at ${cut}`);
      assert.deepEqual(frames[0], { kind: 'data', streamId: 1, flags: 0, data: Buffer.from('hello') });
      assert.deepEqual(frames[1], { kind: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.alloc(0) });
      assert.equal(frames[2]?.kind, 'control');
    }
  });

  it('refuses oversized frames and other versions', () => {
    const big = Buffer.alloc(8);
    big.writeUInt32BE(1, 0);
    big.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 4);
    assert.throws(() => readAll(big), /too large/);
    const v2 = controlFrame(FrameType.Ping, 0, Buffer.alloc(4));
    v2[1] = 2;
    assert.throws(() => readAll(v2), /version 2/);
  });
});

describe('SPDY/3 header blocks', () => {
  it('carries the SPDY/3 dictionary exactly (its Adler-32 is what zlib checks)', () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    let a = 1;
    let b = 0;
    for (const byte of SPDY3_DICTIONARY) {
      a = (a + byte) % 65521;
      b = (b + a) % 65521;
    }
    assert.equal(((b << 16) | a) >>> 0, 3821447106);
  });

  it('serializes and parses names, lower-cased, and NUL-joined values', () => {
    const raw = serializeHeaderBlock({ StreamType: 'stdout', port: '80\u00008080' });
    const parsed = parseHeaderBlock(raw);
    assert.deepEqual(parsed.get('streamtype'), ['stdout']);
    assert.deepEqual(parsed.get('port'), ['80', '8080']);
    assert.throws(() => parseHeaderBlock(raw.subarray(0, raw.length - 2)), /truncated/);
  });

  it('decodes a dictionary-compressed stream of blocks, each continuing the last', () => {
    const enc = new DictionaryHeaderEncoder();
    const dec = new HeaderDecoder();
    for (const type of ['error', 'stdin', 'stdout', 'stderr', 'resize', 'stdout']) {
      assert.deepEqual(dec.decode(enc.encode({ streamtype: type })).get('streamtype'), [type]);
    }
    assert.throws(() => new HeaderDecoder().decode(Buffer.from('not zlib at all')), /SPDY header block/);
  });

  it('encodes stored blocks any zlib reader takes, each block complete on its own', () => {
    const enc = new HeaderEncoder();
    const dec = new HeaderDecoder();
    const first = enc.encode({});
    assert.deepEqual([...first.subarray(0, 2)], [0x78, 0x01]);
    assert.deepEqual([...first.subarray(first.length - 5)], [0, 0, 0, 0xff, 0xff], 'ends on an empty stored block');
    assert.equal(dec.decode(first).size, 0);
    const long = 'v'.repeat(70_000);
    assert.deepEqual(dec.decode(enc.encode({ a: 'b', long })).get('long'), [long]);
  });
});
