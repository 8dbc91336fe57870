// Whether this host can give a user-namespaced pod its image: an overlay whose
// lower layers are idmapped mounts (Linux 5.19+ for overlayfs, on a filesystem
// that allows idmapping). Tried for real once at start-up in a scratch
// directory on the filesystem the snapshots live on; everything it made goes.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { mountOverlay, unmount } from './mount.js';
import type { UserNamespaceOps } from './userns.js';

export type IdmapSupport = { ok: true } | { ok: false; reason: string };

const PROBE_HOST_ID = 3_000_000_000;

/** The first directory from / down to `dir` without search permission for others, if any. */
async function closedAncestor(dir: string): Promise<string | undefined> {
  const parts = path.resolve(dir).split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const p = '/' + parts.slice(0, i).join('/');
    const st = await fs.stat(p).catch(() => undefined);
    if (st && (st.mode & 0o001) === 0) return p;
  }
  return undefined;
}

export async function probeIdmappedLayers(ops: UserNamespaceOps, scratch: string, stateDir: string): Promise<IdmapSupport> {
  if (!ops.available) return { ok: false, reason: 'dist/native/skiff-userns was not built' };
  const closed = await closedAncestor(stateDir);
  if (closed)
    return { ok: false, reason: `${closed} is not traversable by other users, so a pod's unprivileged root cannot reach its bundle` };
  const dir = path.join(scratch, `idmap-probe-${process.pid}`);
  const p = (n: string): string => path.join(dir, n);
  try {
    await fs.rm(dir, { recursive: true, force: true });
    for (const d of ['lower', 'idmapped', 'upper', 'work', 'merged']) await fs.mkdir(p(d), { recursive: true, mode: 0o700 });
    await fs.writeFile(p('lower/f'), '');
    await fs.writeFile(p('user'), '');
    const range = { containerId: 0, hostId: PROBE_HOST_ID, length: 65536 };
    await ops.pin({ user: p('user') }, range, range, '');
    await ops.idmap(p('user'), p('lower'), p('idmapped'));
    await mountOverlay(p('merged'), `lowerdir=${p('idmapped')},upperdir=${p('upper')},workdir=${p('work')}`);
    const st = await fs.stat(p('merged/f'));
    if (st.uid !== PROBE_HOST_ID) return { ok: false, reason: `an idmapped overlay layer showed uid ${st.uid}, not ${PROBE_HOST_ID}` };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `idmapped overlay layers do not work here: ${(err as Error).message}` };
  } finally {
    for (const m of ['merged', 'idmapped', 'user']) await unmount(p(m)).catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
