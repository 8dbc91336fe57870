// Skiff's WebSocket streaming driven by @kubernetes/client-node's Exec and
// Attach, the JavaScript ecosystem's Kubernetes client, pointed at the URL
// Skiff answers (the path client-node builds for an API server is ignored).
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Attach, Exec, KubeConfig, type V1Status } from '@kubernetes/client-node';
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import WebSocket from 'ws';

import { StreamingPod } from '../support/streaming-pod.js';

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** A handler whose sockets go to `url()` (the streaming URL of the current request) with the offered protocols. */
function handlerFor(url: () => string): WebSocketHandler {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new WebSocketHandler(kc, (_uri, protocols, opts) => new WebSocket(url().replace(/^http/, 'ws'), protocols, opts));
}

describe('streaming with @kubernetes/client-node', () => {
  let pod: StreamingPod;
  let running: string;
  let next = '';
  const handler = handlerFor(() => next);

  before(async () => {
    pod = await StreamingPod.start();
    running = await pod.run({ command: ['sleep', '3600'] });
  });
  after(() => pod?.destroy());

  it('Exec: stdout, stderr and the exit code in the status', async () => {
    // The command is the one in the Exec request; client-node's own goes into a path Skiff does not read.
    next = (
      await pod.d.rt<{ url: string }>('Exec', {
        containerId: running,
        cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
        stdout: true,
        stderr: true,
      })
    ).url;
    const stdout = new Collect();
    const stderr = new Collect();
    const status = await new Promise<V1Status>((resolve, reject) => {
      new Exec(new KubeConfig(), handler).exec('ns', 'pod', 'c', ['ignored'], stdout, stderr, null, false, resolve).catch(reject);
    });
    assert.equal(stdout.text, 'out\n');
    assert.equal(stderr.text, 'err\n');
    assert.equal(status.status, 'Failure');
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details?.causes, [{ reason: 'ExitCode', message: '3' }]);
  });

  it('Exec: stdin piped through cat, and Success', async () => {
    next = (await pod.d.rt<{ url: string }>('Exec', { containerId: running, cmd: ['cat'], stdin: true, stdout: true, stderr: true })).url;
    const stdout = new Collect();
    const stdin = new PassThrough();
    const status = new Promise<V1Status>((resolve, reject) => {
      new Exec(new KubeConfig(), handler).exec('ns', 'pod', 'c', ['cat'], stdout, null, stdin, false, resolve).catch(reject);
    });
    stdin.write('from client-node\n');
    await sleep(100);
    stdin.end();
    assert.equal((await status).status, 'Success');
    assert.equal(stdout.text, 'from client-node\n');
  });

  it('Attach: what is written reaches the container and its answer comes back', async () => {
    const echo = await pod.run({ command: ['sh', '-c', 'while read l; do echo "got $l"; done'], stdin: true });
    next = (await pod.d.rt<{ url: string }>('Attach', { containerId: echo, stdin: true, stdout: true, stderr: true })).url;
    const stdout = new Collect();
    const stdin = new PassThrough();
    const ws = await new Attach(new KubeConfig(), handler).attach('ns', 'pod', 'c', stdout, null, stdin, false);
    stdin.write('hello\n');
    const deadline = Date.now() + 10_000;
    while (!stdout.text.includes('got hello') && Date.now() < deadline) await sleep(50);
    assert.equal(stdout.text, 'got hello\n');
    ws.close();
  });
});
