// critest (cri-tools' conformance suite) against the built daemon, with the
// images it asks for served from the test registry. cri-tools is not packaged
// in Debian: this runs when `critest` is on PATH and is skipped otherwise.
// SKIFF_CRITEST_FOCUS picks the specs (a ginkgo regexp; default: the whole
// suite); SKIFF_CRITEST_SKIP leaves some out (default: the two specs no image
// built here can pass, see docs/testing.md).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { mirrorUpstreams, pushCritestImages } from '../support/critest-images.js';
import { TestDaemon } from '../support/daemon.js';
import { TestNetwork } from '../support/network.js';
import { TestRegistry } from '../support/registry.js';

const haveCritest = spawnSync('critest', ['--version'], { stdio: 'ignore' }).status === 0;
const focus = process.env['SKIFF_CRITEST_FOCUS'] ?? '';
const skip = process.env['SKIFF_CRITEST_SKIP'] ?? 'runtime should support MaskedPaths|public image with digest';

/** The host's SysV shared memory ids: critest's HostIpc specs make segments with ipcmk and leave them. */
const shmIds = (): Set<string> =>
  new Set(
    (spawnSync('ipcs', ['-m'], { encoding: 'utf8' }).stdout ?? '')
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[1] ?? '')
      .filter((id) => /^\d+$/.test(id)),
  );

describe('critest', { skip: haveCritest ? false : 'critest is not on PATH' }, () => {
  let registry: TestRegistry;
  let d: TestDaemon;
  let netw: TestNetwork;
  const shmBefore = shmIds();

  before(async () => {
    registry = await TestRegistry.start();
    await pushCritestImages(registry.url);
    d = await TestDaemon.start();
    await mirrorUpstreams(d.registryConfigDir, registry.host);
    netw = new TestNetwork(d.dir);
    await netw.install(d.cniConfDir);
    await d.waitNetworkReady();
  });
  after(async () => {
    for (const id of shmIds()) if (!shmBefore.has(id)) spawnSync('ipcrm', ['-m', id]);
    await d?.destroy();
    netw?.cleanup();
    await registry?.stop();
  });

  it(`passes the specs matching ${JSON.stringify(focus || '(all)')}`, { timeout: 40 * 60_000 }, async (t) => {
    const endpoint = `unix://${d.socket}`;
    const args = [
      '-runtime-endpoint',
      endpoint,
      '-image-endpoint',
      endpoint,
      '--ginkgo.no-color',
      ...(focus ? ['--ginkgo.focus', focus] : []),
      ...(skip ? ['--ginkgo.skip', skip] : []),
    ];
    const child = spawn('critest', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    // The whole output, for reading failures, where SKIFF_CRITEST_LOG says.
    if (process.env['SKIFF_CRITEST_LOG']) writeFileSync(process.env['SKIFF_CRITEST_LOG'], out);
    const summary = /Ran (\d+) of (\d+) Specs[\s\S]*?(\d+) Passed \| (\d+) Failed/.exec(out);
    assert.ok(summary, `no ginkgo summary in critest's output:\n${out.slice(-4000)}`);
    t.diagnostic(summary[0].replace(/\s+/g, ' '));
    assert.ok(Number(summary[1]) > 0, 'some specs ran');
    assert.equal(summary[4], '0', `failed specs:\n${out.slice(-6000)}`);
    assert.equal(code, 0, out.slice(-4000));
  });
});
