// The streaming cases through crictl (cri-tools' real client-go clients), over
// --transport spdy and websocket. cri-tools is not packaged in Debian: these
// run when `crictl` is on PATH and are skipped otherwise.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { StreamingPod } from '../support/streaming-pod.js';

const haveCrictl = spawnSync('crictl', ['--version'], { stdio: 'ignore' }).status === 0;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (SIGKILL by pid after `timeoutMs`), feeding `input` to its stdin. */
function run(file: string, args: string[], input = '', timeoutMs = 20_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('streaming through crictl', { skip: haveCrictl ? false : 'crictl is not on PATH' }, () => {
  let pod: StreamingPod;
  let running: string;
  let echo: string;
  let crictl: (args: string[], input?: string, timeoutMs?: number) => Promise<Outcome>;

  before(async () => {
    pod = await StreamingPod.start();
    const endpoint = `unix://${pod.d.socket}`;
    crictl = (args, input, timeoutMs) =>
      run('crictl', ['--runtime-endpoint', endpoint, '--image-endpoint', endpoint, '--timeout', '10s', ...args], input, timeoutMs);
    running = await pod.run({
      command: ['sh', '-c', 'mkdir -p /tmp/www && echo hello-crictl > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'],
    });
    echo = await pod.run({ command: ['sh', '-c', 'while read l; do echo "got $l"; done'], stdin: true });
  });
  after(() => pod?.destroy());

  for (const transport of ['spdy', 'websocket'] as const) {
    it(`${transport}: crictl exec gives stdout, stderr and the exit code`, async () => {
      const r = await crictl(['exec', '--transport', transport, running, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      assert.equal(r.stdout, 'out\n');
      assert.match(r.stderr, /err\n/);
      // crictl exits 1 and names the command's exit code, which it read from the status Skiff sent.
      assert.match(r.stderr, /command terminated with exit code 3/);
      assert.notEqual(r.code, 0);
    });

    it(`${transport}: crictl exec -i pipes stdin through cat`, async () => {
      const r = await crictl(['exec', '-i', '--transport', transport, running, 'cat'], 'piped\nthrough\n');
      assert.equal(r.stdout, 'piped\nthrough\n');
      assert.equal(r.code, 0, r.stderr);
    });

    it(`${transport}: crictl exec -it has a terminal (under script for a pty)`, async () => {
      const cmd = `crictl --runtime-endpoint unix://${pod.d.socket} exec -it --transport ${transport} ${running} sh -c 'test -t 0 && echo IS-A-TTY'`;
      // script runs its command through a shell: the line is built from test-owned ids only.
      const r = await run('script', ['-qec', cmd, '/dev/null']);
      assert.match(r.stdout, /IS-A-TTY/);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });

    it(`${transport}: crictl attach -i reaches the container and ends with its stdin`, async () => {
      const r = await crictl(['attach', '-i', '--transport', transport, echo], `via-${transport}\n`);
      assert.equal(r.stdout, `got via-${transport}\n`);
      assert.equal(r.code, 0, r.stderr);
    });

    it(`${transport}: crictl port-forward serves the pod's httpd`, async () => {
      const child = spawn(
        'crictl',
        ['--runtime-endpoint', `unix://${pod.d.socket}`, 'port-forward', '--transport', transport, pod.podId, ':8080'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      try {
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (out += b.toString()));
        let port: number | undefined;
        for (let i = 0; i < 200 && !port; i++) {
          port = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1]) || undefined;
          if (!port) await sleep(50);
        }
        assert.ok(port, `crictl said: ${out}`);
        for (let attempt = 0; ; attempt++) {
          const res = await fetch(`http://127.0.0.1:${port}/index.html`).catch((err: unknown) => err as Error);
          if (!(res instanceof Error)) {
            assert.equal(res.status, 200);
            assert.equal(await res.text(), 'hello-crictl\n');
            break;
          }
          if (attempt > 40) throw res;
          await sleep(100);
        }
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
