// bench/pod-start: pod and container start latency, ExecSync round trip and
// ListContainers at 110 pods. Skiff beside containerd (Debian's, CRI plugin,
// same CNI plugins, same pause image, same run) and the floor (ip netns + CNI
// plugins + conmon/runc by hand; overlay mount + conmon + runc create/start for
// a container; `runc exec` for ExecSync; none for a list, which has no tool).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runChecked } from '../src/host/run.js';
import { Floor } from './harness/floor.js';
import { measureLists } from './harness/list-client.js';
import { startBenchRuntimes } from './harness/runtimes.js';
import { median, percentile, row, TABLE_HEADER, timed } from './harness/stats.js';

const N = Number(process.env['BENCH_PODS'] ?? 30);
const LIST_PODS = Number(process.env['BENCH_LIST_PODS'] ?? 110);
const LIST_WARMUP = 1500;
const LIST_CALLS = 1000;
/** BENCH_PHASES=ctr,exec runs only those phases (keys below); the table shows what ran. */
const ONLY = process.env['BENCH_PHASES']?.split(',').filter(Boolean);

interface Cri {
  name: string;
  socket: string;
  /** The pulled image's id on this runtime: kubelet creates containers by image id. */
  imageId?: string;
  rt<T = Record<string, unknown>>(method: string, req: object): Promise<T>;
  img<T = Record<string, unknown>>(method: string, req: object): Promise<T>;
}

let seq = 0;
const podConfig = (logDir: string): object => {
  seq++;
  return {
    metadata: { name: `bench-${seq}`, uid: `uid-${process.pid}-${seq}`, namespace: 'bench', attempt: 0 },
    hostname: `bench-${seq}`,
    logDirectory: path.join(logDir, String(seq)),
    linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
};
let ctrSeq = 0;
const containerConfig = (image: object): object => ({
  metadata: { name: `app${++ctrSeq}`, attempt: 0 },
  image,
  command: ['sleep', '100000'],
  logPath: 'app.log',
  linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
});

async function runPod(c: Cri, logDir: string): Promise<string> {
  return (await c.rt<{ podSandboxId: string }>('RunPodSandbox', { config: podConfig(logDir) })).podSandboxId;
}

async function startContainer(c: Cri, pod: string, image: string, logDir: string): Promise<string> {
  const cfg = podConfig(logDir);
  const id = (
    await c.rt<{ containerId: string }>('CreateContainer', {
      podSandboxId: pod,
      config: containerConfig({ image: c.imageId ?? image, userSpecifiedImage: image }),
      sandboxConfig: cfg,
    })
  ).containerId;
  await c.rt('StartContainer', { containerId: id });
  return id;
}

async function removeAll(c: Cri): Promise<void> {
  const pods = (await c.rt<{ items: { id: string }[] }>('ListPodSandbox', {})).items;
  for (let i = 0; i < pods.length; i += 10) {
    await Promise.all(
      pods.slice(i, i + 10).map(async (p) => {
        await c.rt('StopPodSandbox', { podSandboxId: p.id });
        await c.rt('RemovePodSandbox', { podSandboxId: p.id });
      }),
    );
  }
}

async function concurrent(n: number, width: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i += width) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(width, n - i) }, () => timed(fn)))));
  }
  return out;
}

async function series(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await timed(fn));
  return out;
}

type Phase = { key: string; label: string; run: (c: Cri, image: string, logDir: string) => Promise<number[]> };

/**
 * ListContainers with LIST_PODS pods on each runtime at once, the calls
 * alternating between them, so both are measured on the same machine state
 * (the kernel frees namespaces lazily for seconds after pods go away).
 */
async function listBoth(runtimes: readonly [Cri, Cri], image: string, logDir: string): Promise<Record<string, number[]>> {
  for (const c of runtimes) {
    process.stderr.write(`${c.name}: ${LIST_PODS} pods for ListContainers\n`);
    for (let i = 0; i < LIST_PODS; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, LIST_PODS - i) }, async () => startContainer(c, await runPod(c, logDir), image, logDir)),
      );
    }
    const listed = (await c.rt<{ containers: unknown[] }>('ListContainers', {})).containers.length;
    if (listed < LIST_PODS) throw new Error(`${c.name} lists ${listed} containers`);
  }
  // Steady state, as kubelet sees it (it lists every second), from a client
  // process of its own (see harness/list-client.ts): a long warm-up (a fresh
  // client's JIT settles over the first thousand calls), then the measure.
  const sockets = Object.fromEntries(runtimes.map((c) => [c.name, c.socket]));
  const out = await listFromChild(sockets);
  if (process.env['BENCH_LIST_INPROC']) {
    const inproc = await measureLists(sockets, LIST_WARMUP, LIST_CALLS);
    process.stderr.write(
      `in-process: ${Object.keys(inproc)
        .map((n) => `${n} ${median(inproc[n]!).toFixed(3)} ms`)
        .join(', ')}\n`,
    );
  }
  for (const c of runtimes) await removeAll(c);
  return out;
}

async function listFromChild(sockets: Record<string, string>): Promise<Record<string, number[]>> {
  const script = fileURLToPath(new URL('./harness/list-client.js', import.meta.url));
  const args = [script, String(LIST_WARMUP), String(LIST_CALLS), ...Object.entries(sockets).map(([n, s]) => `${n}=${s}`)];
  return JSON.parse(await runChecked(process.execPath, args, { timeoutMs: 600000 })) as Record<string, number[]>;
}

/** The phases, each leaving no pods behind. */
const PHASES: Phase[] = [
  { key: 'podSeq', label: 'RunPodSandbox sequential', run: async (c, _i, logDir) => series(N, () => runPod(c, logDir)) },
  { key: 'podPar', label: 'RunPodSandbox 10 at a time', run: async (c, _i, logDir) => concurrent(N, 10, () => runPod(c, logDir)) },
  {
    key: 'podCtr',
    label: 'pod + container',
    run: async (c, image, logDir) => series(N, async () => startContainer(c, await runPod(c, logDir), image, logDir)),
  },
  {
    key: 'ctr',
    label: 'container start',
    run: async (c, image, logDir) => {
      const pod = await runPod(c, logDir);
      return series(N, () => startContainer(c, pod, image, logDir));
    },
  },
  {
    key: 'exec',
    label: 'ExecSync',
    run: async (c, image, logDir) => {
      const ctr = await startContainer(c, await runPod(c, logDir), image, logDir);
      return series(N, () => c.rt('ExecSync', { containerId: ctr, cmd: ['true'], timeout: '10' }));
    },
  },
];

/**
 * Runs every phase on both runtimes, alternating which goes first, so that
 * neither always pays for the other's leftovers (the kernel frees network
 * namespaces lazily, for seconds after a burst of pod removals).
 */
async function measure(runtimes: [Cri, Cri], image: string, logDir: string): Promise<Record<string, Record<string, number[]>>> {
  const out: Record<string, Record<string, number[]>> = { [runtimes[0].name]: {}, [runtimes[1].name]: {} };
  for (const [i, phase] of PHASES.filter((p) => !ONLY || ONLY.includes(p.key)).entries()) {
    const order = i % 2 === 0 ? runtimes : ([runtimes[1], runtimes[0]] as const);
    for (const c of order) {
      process.stderr.write(`${c.name}: ${phase.label}\n`);
      out[c.name]![phase.key] = await phase.run(c, image, logDir);
      await removeAll(c);
    }
  }
  if (!ONLY || ONLY.includes('list')) {
    const lists = await listBoth(runtimes, image, logDir);
    for (const c of runtimes) {
      out[c.name]!['list'] = lists[c.name]!;
      out[c.name]!['list64k'] = lists[`${c.name}@64k`]!;
    }
  }
  return out;
}

async function main(): Promise<void> {
  const both = await startBenchRuntimes({ name: 'bench', octet: 236 });
  const { image, skiff, containerd: ctd } = both;
  const floor = await Floor.create('10.238.0.0/16');
  const logDir = path.join(skiff.dir, 'logs');
  const skiffCri: Cri = {
    name: 'skiff',
    socket: skiff.socket,
    rt: (m, r) => skiff.rt(m, r, 120000),
    img: (m, r) => skiff.img(m, r, 600000),
  };
  const ctdCri: Cri = {
    name: 'containerd',
    socket: ctd.socket,
    rt: (m, r) => ctd.call(ctd.runtime, m, r),
    img: (m, r) => ctd.call(ctd.image, m, r),
  };
  try {
    for (const c of [skiffCri, ctdCri]) {
      await c.img('PullImage', { image: { image } });
      c.imageId = (await c.img<{ image: { id: string } }>('ImageStatus', { image: { image } })).image.id;
      await c.img('PullImage', { image: { image: 'registry.k8s.io/pause:3.10' } });
    }
    // Warm-up: first pods pay for caches (iptables, bridge creation) on both.
    for (const c of [skiffCri, ctdCri]) {
      await startContainer(c, await runPod(c, logDir), image, logDir);
      await removeAll(c);
    }
    const results = await measure([skiffCri, ctdCri], image, logDir);
    const s = results['skiff']!;
    const k = results['containerd']!;
    const ran = (key: string): boolean => s[key] !== undefined && k[key] !== undefined;
    let fSeq: number[] = [];
    let fPar: number[] = [];
    if (ran('podSeq') || ran('podPar')) {
      process.stderr.write('floor\n');
      await floor.startPod();
      fSeq = await series(N, () => floor.startPod());
      fPar = await concurrent(N, 10, () => floor.startPod());
    }
    let fPodCtr: number[] = [];
    let fCtr: number[] = [];
    let fExec: number[] = [];
    if (ran('podCtr')) fPodCtr = await series(N, async () => (await floor.startPod(), await floor.startContainer()));
    if (ran('ctr')) fCtr = await series(N, () => floor.startContainer());
    if (ran('exec')) {
      const id = await floor.startContainer();
      fExec = await series(N, () => floor.exec(id));
    }
    const rows: [string, () => string][] = [
      ['podSeq', () => row('RunPodSandbox sequential, median', median(s['podSeq']!), median(fSeq), median(k['podSeq']!))],
      [
        'podSeq',
        () => row('RunPodSandbox sequential, p99', percentile(s['podSeq']!, 99), percentile(fSeq, 99), percentile(k['podSeq']!, 99)),
      ],
      ['podPar', () => row('RunPodSandbox 10 at a time, median', median(s['podPar']!), median(fPar), median(k['podPar']!))],
      [
        'podPar',
        () => row('RunPodSandbox 10 at a time, p99', percentile(s['podPar']!, 99), percentile(fPar, 99), percentile(k['podPar']!, 99)),
      ],
      ['podCtr', () => row('pod + container to running, median', median(s['podCtr']!), median(fPodCtr), median(k['podCtr']!))],
      [
        'podCtr',
        () => row('pod + container to running, p99', percentile(s['podCtr']!, 99), percentile(fPodCtr, 99), percentile(k['podCtr']!, 99)),
      ],
      ['ctr', () => row('container create + start, median', median(s['ctr']!), median(fCtr), median(k['ctr']!))],
      ['exec', () => row('ExecSync `true`, median', median(s['exec']!), median(fExec), median(k['exec']!))],
      ['list', () => row(`ListContainers at ${LIST_PODS} pods, median`, median(s['list']!), undefined, median(k['list']!))],
      [
        'list64k',
        () =>
          row(
            `ListContainers at ${LIST_PODS} pods, grpc-js 64 KiB client window, median`,
            median(s['list64k']!),
            undefined,
            median(k['list64k']!),
          ),
      ],
    ];
    const lines = [
      `bench/pod-start: ${N} pods per row, ListContainers over ${LIST_PODS} pods with one container each`,
      '',
      TABLE_HEADER,
      ...rows.filter(([key]) => ran(key)).map(([, render]) => render()),
    ];
    process.stdout.write('\n' + lines.join('\n') + '\n');
  } finally {
    await removeAll(skiffCri).catch(() => undefined);
    await removeAll(ctdCri).catch(() => undefined);
    await floor.cleanup().catch(() => undefined);
    await both.stop();
  }
}

await main();
