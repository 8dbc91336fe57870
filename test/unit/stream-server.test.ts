import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import pino from 'pino';

import type { DialPort } from '../../src/network/port-dialer.js';
import { type StreamBackend, StreamServer } from '../../src/streaming/stream-server.js';
import { ResizeDecoder, type StreamTarget } from '../../src/streaming/stream-session.js';
import { SpdyTestClient } from '../support/spdy-client.js';
import { wsExec } from '../support/ws-client.js';

/** A target that echoes stdin to stdout and ends when stdin ends; counts releases. */
class EchoBackend implements StreamBackend {
  released = 0;
  openExec(): (sinks: { stdout(b: Buffer): void }) => Promise<StreamTarget> {
    return async (sinks) => {
      let finish: (code: number) => void = () => {};
      const done = new Promise<number>((r) => (finish = r));
      return {
        write: (b) => sinks.stdout(b),
        endInput: () => finish(0),
        resize: () => {},
        done,
        release: async () => {
          this.released++;
          finish(137);
        },
      };
    };
  }
  openAttach(): ReturnType<EchoBackend['openExec']> {
    return this.openExec();
  }
  portDialer(): DialPort {
    throw new Error('no pods here');
  }
}

const request = { containerId: 'c1', cmd: ['cat'], stdin: true, stdout: true, stderr: false, tty: false };

describe('stream server', () => {
  const backend = new EchoBackend();
  let server: StreamServer;
  let now = 0;

  before(async () => {
    server = new StreamServer({
      address: '127.0.0.1',
      port: 0,
      backend,
      log: pino({ level: 'silent' }),
      tokenTtlMs: 1000,
      idleTimeoutMs: 400,
      clock: () => now,
    });
    await server.listen();
  });
  after(() => server.close());

  it('answers 404 to an expired token over SPDY and over WebSocket', async () => {
    const spdyUrl = server.exec(request);
    const wsUrl = server.exec(request);
    now += 1000;
    const { client, answer } = await SpdyTestClient.connect(spdyUrl, ['v4.channel.k8s.io']);
    assert.equal(client, undefined);
    assert.equal(answer.status, 404);
    await assert.rejects(wsExec(wsUrl, { protocol: 'v4.channel.k8s.io', stdin: 'x' }), { status: 404 });
  });

  it('answers a token used once with 404 the second time over WebSocket', async () => {
    const url = server.exec(request);
    const first = await wsExec(url, { protocol: 'v5.channel.k8s.io', stdin: 'hi' });
    assert.equal(first.stdout, 'hi');
    await assert.rejects(wsExec(url, { protocol: 'v5.channel.k8s.io', stdin: 'x' }), { status: 404 });
  });

  it('closes an idle stream after the idle timeout and releases its target', async () => {
    const before = backend.released;
    const started = Date.now();
    const outcome = await wsExec(server.exec(request), { protocol: 'v5.channel.k8s.io', onOpen: () => {} });
    assert.ok(Date.now() - started >= 350, `closed after ${Date.now() - started} ms`);
    assert.equal(outcome.stdout, '');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(backend.released, before + 1, 'the target was released');
  });

  it('keeps a stream that carries traffic open past the idle timeout', async () => {
    const outcome = await wsExec(server.exec(request), {
      protocol: 'v5.channel.k8s.io',
      onOpen: (send, ws) => {
        let n = 0;
        const tick = setInterval(() => {
          send(0, String(n++));
          if (n === 8) {
            clearInterval(tick);
            ws.send(Buffer.from([255, 0]));
          }
        }, 150);
      },
    });
    assert.equal(outcome.stdout, '01234567', 'all input echoed over 1.2 s, three idle timeouts long');
    assert.match(outcome.error, /Success/);
  });
});

describe('resize decoder', () => {
  it('reads sizes split across chunks and ignores 0x0 and garbage', () => {
    const sizes: [number, number][] = [];
    const d = new ResizeDecoder((w, h) => sizes.push([w, h]));
    d.push(Buffer.from('{"Width":80,"Hei'));
    d.push(Buffer.from('ght":24}\n{"Width":0,"Height":0}{"Width":"x"}'));
    d.push(Buffer.from(' {"Width":100,"Height":40}'));
    assert.deepEqual(sizes, [
      [80, 24],
      [100, 40],
    ]);
  });
});
