import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';

import { TestDaemon } from '../support/daemon.js';
import { busyboxImage, pushImage } from '../support/images.js';
import { TestNetwork } from '../support/network.js';
import { podConfig } from '../support/pod-config.js';
import { TestRegistry } from '../support/registry.js';
import { spdyExec, SpdyTestClient } from '../support/spdy-client.js';
import { wsExec } from '../support/ws-client.js';
import { openSpdyTunnel } from '../support/ws-tunnel.js';

const SUCCESS = { metadata: {}, status: 'Success' };
const exitStatus = (code: number): unknown => ({
  metadata: {},
  status: 'Failure',
  message: `command terminated with non-zero exit code: exit status ${code}`,
  reason: 'NonZeroExitCode',
  details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
});

/** Command lines of the processes in the container's pids cgroup. */
function processesInCgroupOf(pid: number): string[] {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => /^\d+:[^:]*\bpids\b[^:]*:/.test(l));
  assert.ok(line, 'container is in a pids cgroup');
  const dir = `/sys/fs/cgroup/pids${line.split(':')[2]}`;
  return readFileSync(`${dir}/cgroup.procs`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        return '';
      }
    });
}

describe('streaming exec over SPDY/3.1 and WebSocket', () => {
  let registry: TestRegistry;
  let d: TestDaemon;
  let netw: TestNetwork;
  let image: string;
  let podId: string;
  let running: string;
  let runningPid: number;
  let n = 0;

  const create = async (config: Record<string, unknown>): Promise<string> => {
    n++;
    return (
      await d.rt<{ containerId: string }>('CreateContainer', {
        podSandboxId: podId,
        config: { metadata: { name: `s${n}`, attempt: 0 }, image: { image }, logPath: `s${n}.log`, ...config },
      })
    ).containerId;
  };
  const execUrl = async (req: Record<string, unknown>): Promise<string> =>
    (await d.rt<{ url: string }>('Exec', { containerId: running, stdout: true, stderr: true, ...req })).url;
  const rejectsWith = async (p: Promise<unknown>, code: grpc.status, pattern: RegExp): Promise<void> =>
    assert.rejects(p, (err: grpc.ServiceError) => {
      assert.equal(err.code, code, err.details);
      assert.match(err.details, pattern);
      return true;
    });

  before(async () => {
    registry = await TestRegistry.start();
    await pushImage(registry.url, 'test/busybox', '1', busyboxImage({ env: ['PATH=/bin', 'FROM_IMAGE=img'], workingDir: '/tmp' }));
    d = await TestDaemon.start();
    netw = new TestNetwork(d.dir);
    await netw.install(d.cniConfDir);
    image = `${registry.host}/test/busybox:1`;
    await d.img('PullImage', { image: { image } });
    await d.waitNetworkReady();
    podId = (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config: podConfig({ logDirectory: `${d.dir}/logs` }) })).podSandboxId;
    running = await create({ command: ['sleep', '3600'], envs: [{ key: 'FROM_CRI', value: Buffer.from('cri') }] });
    await d.rt('StartContainer', { containerId: running });
    const info = JSON.parse(
      (await d.rt<{ info: Record<string, string> }>('ContainerStatus', { containerId: running, verbose: true })).info['info']!,
    ) as { pid: number };
    runningPid = info.pid;
  });
  after(async () => {
    await d?.destroy();
    netw?.cleanup();
    await registry?.stop();
  });

  it('answers an absolute URL on the streaming server, single use', async () => {
    const url = await execUrl({ cmd: ['true'] });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]{32,}$/);
    const status = await d.rt<{ info: Record<string, string> }>('Status', { verbose: true });
    assert.ok(url.startsWith(status.info['streamServerUrl']!), 'verbose Status names the streaming server');
    assert.deepEqual(JSON.parse((await spdyExec(url)).error), SUCCESS);
    const again = await SpdyTestClient.connect(url, ['v4.channel.k8s.io']);
    assert.equal(again.answer.status, 404, 'a used token is refused');
    const guessed = await SpdyTestClient.connect(url.replace(/[^/]+$/, 'x'.repeat(32)), ['v4.channel.k8s.io']);
    assert.equal(guessed.answer.status, 404);
  });

  it('validates the request at the call', async () => {
    await rejectsWith(d.rt('Exec', { containerId: 'nope', cmd: ['true'], stdout: true }), grpc.status.NOT_FOUND, /nope/);
    await rejectsWith(d.rt('Exec', { containerId: running, cmd: [], stdout: true }), grpc.status.INVALID_ARGUMENT, /cmd/);
    await rejectsWith(
      d.rt('Exec', { containerId: running, cmd: ['true'], tty: true, stdout: true, stderr: true }),
      grpc.status.INVALID_ARGUMENT,
      /tty.*stderr/,
    );
    await rejectsWith(d.rt('Exec', { containerId: running, cmd: ['true'] }), grpc.status.INVALID_ARGUMENT, /stdin.*stdout.*stderr/);
    const exited = await create({ command: ['true'] });
    await d.rt('StartContainer', { containerId: exited });
    for (let i = 0; i < 100; i++) {
      const s = await d.rt<{ status: { state: string } }>('ContainerStatus', { containerId: exited });
      if (s.status.state === 'CONTAINER_EXITED') break;
      await sleep(50);
    }
    await rejectsWith(d.rt('Exec', { containerId: exited, cmd: ['true'], stdout: true }), grpc.status.FAILED_PRECONDITION, /not running/);
  });

  it('refuses an upgrade offering no protocol it speaks, naming those it does', async () => {
    const url = await execUrl({ cmd: ['true'] });
    const { client, answer } = await SpdyTestClient.connect(url, ['v9.channel.example']);
    assert.equal(client, undefined);
    assert.equal(answer.status, 403);
    assert.match(answer.body, /v4\.channel\.k8s\.io/);
  });

  for (const transport of ['spdy', 'websocket'] as const) {
    const exec = (url: string, o: { stdin?: string } = {}) =>
      transport === 'spdy' ? spdyExec(url, o) : wsExec(url, { ...o, protocol: 'v5.channel.k8s.io' });

    it(`${transport}: exact stdout and stderr, the container's env and cwd`, async () => {
      const res = await exec(await execUrl({ cmd: ['sh', '-c', 'echo out; echo err >&2; echo $FROM_IMAGE $FROM_CRI; pwd'] }));
      assert.equal(res.stdout, 'out\nimg cri\n/tmp\n');
      assert.equal(res.stderr, 'err\n');
      assert.deepEqual(JSON.parse(res.error), SUCCESS);
      assert.equal(res.protocol, 'v5.channel.k8s.io');
    });

    it(`${transport}: the exit code reaches the client`, async () => {
      const res = await exec(await execUrl({ cmd: ['sh', '-c', 'echo bye; exit 3'] }));
      assert.equal(res.stdout, 'bye\n');
      assert.deepEqual(JSON.parse(res.error), exitStatus(3));
    });

    it(`${transport}: stdin is passed through and closed at the client's end`, async () => {
      const input = 'line one\nline two\n' + 'x'.repeat(100_000) + '\n';
      const res = await exec(await execUrl({ cmd: ['cat'], stdin: true }), { stdin: input });
      assert.equal(res.stdout.length, input.length);
      assert.equal(res.stdout, input);
      assert.deepEqual(JSON.parse(res.error), SUCCESS);
    });

    it(`${transport}: large output arrives whole`, async () => {
      const res = await exec(await execUrl({ cmd: ['sh', '-c', 'head -c 3000000 /dev/zero | tr "\\0" a'] }));
      assert.equal(res.stdout.length, 3_000_000);
      assert.match(res.stdout, /^a+$/);
    });

    it(`${transport}: a client that goes away mid-exec leaves no process behind`, async () => {
      const marker = transport === 'spdy' ? '4301' : '4302';
      const url = await execUrl({ cmd: ['sh', '-c', `sleep ${marker} & sleep ${marker}`], stdin: true });
      const inCgroup = () => processesInCgroupOf(runningPid).filter((c) => c.includes(`sleep ${marker}`));
      if (transport === 'spdy') {
        const { client } = await SpdyTestClient.connect(url, ['v4.channel.k8s.io']);
        assert.ok(client);
        await client.open({ streamtype: 'error' });
        await client.open({ streamtype: 'stdin' });
        await client.open({ streamtype: 'stdout' });
        await client.open({ streamtype: 'stderr' });
        await waitFor(() => inCgroup().length === 2, 'the exec runs');
        client.close();
      } else {
        const done = wsExec(url, {
          onOpen: (_send, ws) =>
            void waitFor(() => inCgroup().length === 2, 'the exec runs').then(
              () => ws.terminate(),
              () => ws.terminate(),
            ),
        });
        await done;
      }
      await waitFor(() => inCgroup().length === 0, 'the exec tree is killed');
    });
  }

  it('spdy: stdin written before the other streams are open is not lost', async () => {
    const { client } = await SpdyTestClient.connect(await execUrl({ cmd: ['cat'], stdin: true }), ['v4.channel.k8s.io']);
    assert.ok(client);
    try {
      const error = await client.open({ streamtype: 'error' });
      const stdin = await client.open({ streamtype: 'stdin' });
      stdin.write('early\n');
      stdin.end();
      const stdout = await client.open({ streamtype: 'stdout' });
      const stderr = await client.open({ streamtype: 'stderr' });
      await Promise.all([error.closed, stdout.closed, stderr.closed]);
      assert.equal(stdout.text, 'early\n');
      assert.deepEqual(JSON.parse(error.text), SUCCESS);
    } finally {
      client.close();
    }
  });

  it('websocket: v4 and base64 framings, and the old channel protocol over SPDY', async () => {
    const v4 = await wsExec(await execUrl({ cmd: ['sh', '-c', 'echo four; exit 2'] }), { protocol: 'v4.channel.k8s.io' });
    assert.equal(v4.stdout, 'four\n');
    assert.deepEqual(JSON.parse(v4.error), exitStatus(2));
    const b64 = await wsExec(await execUrl({ cmd: ['sh', '-c', 'echo sixty-four; echo e >&2'] }), { protocol: 'base64.channel.k8s.io' });
    assert.equal(b64.stdout, 'sixty-four\n');
    assert.equal(b64.stderr, 'e\n');
    assert.equal(b64.protocol, 'base64.channel.k8s.io');
    // channel.k8s.io (v1): no status on success, a message on failure.
    const v1ok = await spdyExec(await execUrl({ cmd: ['echo', 'one'] }), { protocols: ['channel.k8s.io'] });
    assert.equal(v1ok.protocol, 'channel.k8s.io');
    assert.equal(v1ok.stdout, 'one\n');
    assert.equal(v1ok.error, '');
    const v1fail = await spdyExec(await execUrl({ cmd: ['sh', '-c', 'exit 4'] }), { protocols: ['v2.channel.k8s.io'] });
    assert.match(v1fail.error, /exit status 4/);
  });

  it('spdy: a tty exec has a terminal that starts at the size the client sent', async () => {
    const url = await execUrl({ cmd: ['sh', '-c', 'test -t 0 && echo TTY; stty size'], stdin: true, stderr: false, tty: true });
    const out = await spdyExec(url, { tty: true, stdin: '', resize: { Width: 91, Height: 33 } });
    assert.equal(out.stdout, 'TTY\r\n33 91\r\n');
    assert.deepEqual(JSON.parse(out.error), SUCCESS);
  });

  it('spdy: a tty exec follows resize messages', async () => {
    const url = await execUrl({ cmd: ['sh', '-c', 'stty size; read x; stty size'], stdin: true, stderr: false, tty: true });
    const { client } = await SpdyTestClient.connect(url, ['v4.channel.k8s.io']);
    assert.ok(client);
    try {
      const error = await client.open({ streamtype: 'error' });
      const stdin = await client.open({ streamtype: 'stdin' });
      const stdout = await client.open({ streamtype: 'stdout' });
      const resize = await client.open({ streamtype: 'resize' });
      resize.write(JSON.stringify({ Width: 91, Height: 33 }));
      await waitFor(() => stdout.text.includes('33 91'), 'the first size');
      resize.write(JSON.stringify({ Width: 0, Height: 0 })); // no terminal of its own: ignored
      resize.write(JSON.stringify({ Width: 120, Height: 40 }));
      await sleep(200);
      stdin.write('go\n');
      await Promise.race([error.closed, sleep(10_000)]);
      assert.match(stdout.text, /^33 91\r\n[\s\S]*40 120\r\n$/);
      assert.deepEqual(JSON.parse(error.text), SUCCESS);
    } finally {
      client.close();
    }
  });

  it('websocket: a tty exec starts at the size sent and follows resizes', async () => {
    const url = await execUrl({
      cmd: ['sh', '-c', 'test -t 0 && echo TTY; stty size; read x; stty size'],
      stdin: true,
      stderr: false,
      tty: true,
    });
    const { ws, out, closed } = await openWs(url);
    const send = (channel: number, data: string): void => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
    send(4, JSON.stringify({ Width: 91, Height: 33 }));
    await waitFor(() => out(1).includes('33 91'), 'the first size');
    send(4, JSON.stringify({ Width: 120, Height: 40 }));
    await sleep(200);
    send(0, 'go\n');
    await Promise.race([closed, sleep(10_000)]);
    assert.match(out(1), /^TTY\r\n33 91\r\n[\s\S]*40 120\r\n$/);
    assert.deepEqual(JSON.parse(out(3)), SUCCESS);
  });

  it('websocket: attach to a tty container gets its terminal', async () => {
    const shell = await create({ command: ['sh'], stdin: true, tty: true });
    await d.rt('StartContainer', { containerId: shell });
    const url = (await d.rt<{ url: string }>('Attach', { containerId: shell, stdin: true, stdout: true, tty: true })).url;
    const { ws, out } = await openWs(url);
    const send = (channel: number, data: string): void => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
    send(4, JSON.stringify({ Width: 77, Height: 22 }));
    await sleep(200);
    send(0, 'echo $((6*7)); stty size\n');
    await waitFor(() => /\r\n42\r\n22 77\r\n/.test(out(1)), `the shell's answer on the terminal (got ${JSON.stringify(out(1))})`);
    ws.close();
  });

  it("attach: the client's stdin ending detaches (the container runs on); with stdin_once it closes the container's stdin", async () => {
    const echo = await create({ command: ['sh', '-c', 'while read l; do echo "got $l"; done'], stdin: true });
    await d.rt('StartContainer', { containerId: echo });
    const attach = async (id: string): Promise<string> =>
      (await d.rt<{ url: string }>('Attach', { containerId: id, stdin: true, stdout: true, stderr: true })).url;
    const started = Date.now();
    const detached = await spdyExec(await attach(echo), { stdin: 'bye\n' });
    assert.equal(detached.stdout, 'got bye\n');
    assert.deepEqual(JSON.parse(detached.error), SUCCESS);
    assert.ok(Date.now() - started < 5000, 'ended soon after stdin');
    const ws = await wsExec(await attach(echo), { protocol: 'v5.channel.k8s.io', stdin: 'again\n' });
    assert.equal(ws.stdout, 'got again\n', 'the container kept its stdin after the first detach');
    assert.equal((await d.rt<{ status: { state: string } }>('ContainerStatus', { containerId: echo })).status.state, 'CONTAINER_RUNNING');

    const once = await create({
      command: ['sh', '-c', 'while read l; do echo "got $l"; done; echo stdin-closed'],
      stdin: true,
      stdinOnce: true,
    });
    await d.rt('StartContainer', { containerId: once });
    const closedOnce = await spdyExec(await attach(once), { stdin: 'last\n' });
    assert.equal(closedOnce.stdout, 'got last\nstdin-closed\n');
    await waitFor(
      async () => (await d.rt<{ status: { state: string } }>('ContainerStatus', { containerId: once })).status.state === 'CONTAINER_EXITED',
      'the container ends with its stdin',
    );
  });

  it('attach: what is written to the container reaches it and its answer comes back, over SPDY and WebSocket', async () => {
    const echo = await create({ command: ['sh', '-c', 'while read l; do echo "got $l"; done'], stdin: true });
    await d.rt('StartContainer', { containerId: echo });
    const attachUrl = async (): Promise<string> =>
      (await d.rt<{ url: string }>('Attach', { containerId: echo, stdin: true, stdout: true, stderr: true })).url;
    const { client } = await SpdyTestClient.connect(await attachUrl(), ['v4.channel.k8s.io']);
    assert.ok(client);
    try {
      await client.open({ streamtype: 'error' });
      const stdin = await client.open({ streamtype: 'stdin' });
      const stdout = await client.open({ streamtype: 'stdout' });
      await client.open({ streamtype: 'stderr' });
      stdin.write('over-spdy\n');
      await waitFor(() => stdout.text.includes('got over-spdy'), 'the echo over SPDY');
    } finally {
      client.close();
    }
    const ws = new WebSocket((await attachUrl()).replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    let wsOut = '';
    ws.on('message', (raw: Buffer) => raw[0] === 1 && (wsOut += raw.subarray(1).toString()));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('over-ws\n')]));
    await waitFor(() => wsOut.includes('got over-ws'), 'the echo over WebSocket');
    ws.close();
    const noStdin = await create({ command: ['sleep', '3600'] });
    await d.rt('StartContainer', { containerId: noStdin });
    await rejectsWith(d.rt('Attach', { containerId: noStdin, stdin: true, stdout: true }), grpc.status.INVALID_ARGUMENT, /stdin/);
  });

  it('port-forward: real HTTP answers over SPDY (two at once) and WebSocket, and a closed port is an error, not a hang', async () => {
    const web = await create({
      command: [
        'sh',
        '-c',
        'busybox mkdir -p /tmp/www && echo hello-web > /tmp/www/index.html && exec busybox httpd -f -p 8080 -h /tmp/www',
      ],
    });
    await d.rt('StartContainer', { containerId: web });
    const pfUrl = async (ports: number[]): Promise<string> =>
      (await d.rt<{ url: string }>('PortForward', { podSandboxId: podId, port: ports })).url;
    await rejectsWith(d.rt('PortForward', { podSandboxId: 'nope', port: [80] }), grpc.status.NOT_FOUND, /nope/);
    const request = 'GET /index.html HTTP/1.0\r\n\r\n';
    const fetchWith = async (client: SpdyTestClient, requestid: string, port: string): Promise<{ data: string; error: string }> => {
      const error = await client.open({ streamtype: 'error', port, requestid });
      const data = await client.open({ streamtype: 'data', port, requestid });
      data.write(request);
      await Promise.race([data.closed, sleep(10_000)]);
      await Promise.race([error.closed, sleep(2000)]);
      return { data: data.text, error: error.text };
    };
    const { client, answer } = await SpdyTestClient.connect(await pfUrl([]), ['portforward.k8s.io']);
    assert.ok(client, `upgrade: ${answer.status} ${answer.body}`);
    try {
      const fetchOne = async (requestid: string, port: string): Promise<{ data: string; error: string }> => {
        const error = await client.open({ streamtype: 'error', port, requestid });
        const data = await client.open({ streamtype: 'data', port, requestid });
        data.write(request);
        await Promise.race([data.closed, sleep(10_000)]);
        await Promise.race([error.closed, sleep(2000)]);
        return { data: data.text, error: error.text };
      };
      for (let attempt = 0; ; attempt++) {
        // httpd may still be starting.
        const probe = await fetchOne(`probe${attempt}`, '8080');
        if (probe.data.includes('hello-web') || attempt > 40) break;
        await sleep(100);
      }
      const [a, b] = await Promise.all([fetchOne('1', '8080'), fetchOne('2', '8080')]);
      for (const r of [a, b]) {
        assert.match(r.data, /^HTTP\/1\.[01] 200 OK\r\n/);
        assert.match(r.data, /\r\n\r\nhello-web\n$/);
        assert.equal(r.error, '');
      }
      const closed = await fetchOne('3', '8081');
      assert.equal(closed.data, '');
      assert.match(closed.error, /8081.*refused/i);
    } finally {
      client.close();
    }
    const ws = new WebSocket((await pfUrl([8080])).replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    const byChannel: Record<number, Buffer[]> = { 0: [], 1: [] };
    ws.on('message', (raw: Buffer) => byChannel[raw[0] ?? -1]?.push(raw.subarray(1)));
    const closedWs = new Promise((resolve) => ws.once('close', resolve));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(request)]));
    await Promise.race([closedWs, sleep(10_000)]);
    const data = Buffer.concat(byChannel[0]!);
    assert.equal(data.readUInt16LE(0), 8080, 'the data channel starts with its port');
    assert.match(data.subarray(2).toString(), /^HTTP\/1\.[01] 200 OK\r\n[\s\S]*hello-web\n$/);

    // Two ports on one WebSocket: the closed one says so on its error channel, the open one answers.
    const two = await openWs(await pfUrl([8081, 8080]), 'v4.channel.k8s.io');
    await waitFor(() => two.raw(1).length > 2, 'the closed port reports on its error channel');
    assert.equal(two.raw(1).readUInt16LE(0), 8081);
    assert.match(two.raw(1).subarray(2).toString(), /8081.*refused/i);
    two.ws.send(Buffer.concat([Buffer.from([2]), Buffer.from(request)]));
    await Promise.race([two.closed, sleep(10_000)]);
    assert.match(two.raw(2).subarray(2).toString(), /^HTTP\/1\.[01] 200 OK\r\n[\s\S]*hello-web\n$/);

    // SPDY tunnelled in WebSocket, as `crictl port-forward --transport websocket` and kubectl 1.31+ do it.
    const tunnel = SpdyTestClient.over(await openSpdyTunnel(await pfUrl([])), 'portforward.k8s.io');
    try {
      const [t1, t2] = await Promise.all([fetchWith(tunnel, '1', '8080'), fetchWith(tunnel, '2', '8080')]);
      for (const r of [t1, t2]) assert.match(r.data, /^HTTP\/1\.[01] 200 OK\r\n[\s\S]*hello-web\n$/);
      assert.match((await fetchWith(tunnel, '3', '8081')).error, /8081.*refused/i);
    } finally {
      tunnel.close();
    }
  });

  it('a command that does not exist fails on the error stream', async () => {
    const res = await spdyExec(await execUrl({ cmd: ['/no/such/binary'] }));
    const status = JSON.parse(res.error) as { status: string };
    assert.equal(status.status, 'Failure');
  });

  // Last: it restarts the daemon.
  it('a tty exec whose daemon was killed is ended by the restarted daemon', async () => {
    const url = await execUrl({ cmd: ['sh', '-c', 'sleep 4303'], stdin: true, stderr: false, tty: true });
    const inCgroup = (): string[] => processesInCgroupOf(runningPid).filter((c) => c.includes('sleep 4303'));
    const { client } = await SpdyTestClient.connect(url, ['v4.channel.k8s.io']);
    assert.ok(client);
    await client.open({ streamtype: 'error' });
    await client.open({ streamtype: 'stdin' });
    await client.open({ streamtype: 'stdout' });
    await client.open({ streamtype: 'resize' });
    await waitFor(() => inCgroup().length === 1, 'the exec runs');
    const execs = `${d.stateDir}/execs`;
    assert.equal(readdirSync(execs).length, 1, 'the exec has its dir');
    await d.stop('SIGKILL');
    client.close();
    await sleep(300);
    assert.equal(inCgroup().length, 1, 'its monitor keeps the exec alive without the daemon');
    d = await TestDaemon.start({ dir: d.dir });
    await waitFor(() => inCgroup().length === 0, 'the restarted daemon ends the exec');
    assert.deepEqual(readdirSync(execs), [], 'and removes its dir');
    assert.equal(
      (await d.rt<{ status: { state: string } }>('ContainerStatus', { containerId: running })).status.state,
      'CONTAINER_RUNNING',
    );
  });
});

/** A raw WebSocket to a streaming URL: what arrived per channel, as text or bytes. */
async function openWs(
  url: string,
  protocol = 'v5.channel.k8s.io',
): Promise<{ ws: WebSocket; out: (channel: number) => string; raw: (channel: number) => Buffer; closed: Promise<void> }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), [protocol]);
  const byChannel = new Map<number, Buffer[]>();
  ws.on('message', (m: Buffer) => {
    const c = m[0] ?? -1;
    byChannel.set(c, [...(byChannel.get(c) ?? []), m.subarray(1)]);
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const raw = (c: number): Buffer => Buffer.concat(byChannel.get(c) ?? []);
  return { ws, raw, out: (c) => raw(c).toString(), closed };
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await sleep(50);
  }
}
