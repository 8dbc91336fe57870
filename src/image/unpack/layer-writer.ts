// Writes tar entries into one layer directory in overlayfs diff format.
// Entries are applied in archive order; what cannot be final until the whole
// layer is in (directory mtimes, xattrs) is queued and done by finish().
// Paths are created with calls that never follow a symlink in their last
// component (O_EXCL, mkdir, symlink, link, mknod), and SafeTree has proven
// every component before it a real directory.
//
// Concurrency: an entry that creates a name that does not exist yet, in a
// directory already proven real, cannot affect or be affected by other such
// entries, so its work runs in a small pool while the archive is read on.
// Every other entry (replacing, removing, hardlinking, whiteouts, new parent
// directories) first waits for the pool to drain, so it sees a settled tree.
import { constants } from 'node:fs';
import { chmod, type FileHandle, lchown, link, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';

import { errnoCode } from '../../errors.js';
import { type CreationDefaults, modeIsDefault, ownerIsDefault } from './creation-defaults.js';
import { entryError } from './host-error.js';
import { cleanEntryName, forgetSubtree, parentOf, SafeTree } from './safe-path.js';
import { type SmallFileMeta, writeSmallFile } from './small-file.js';
import { makeNode } from './special-files.js';
import type { TarEntry, TarHeader } from './tar-reader.js';
import { TaskPool } from './task-pool.js';
import { UnsafeLayerError } from './unsafe-layer-error.js';
import { classifyWhiteout, OVERLAY_OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, type Whiteout } from './whiteout.js';
import { XattrBatch, xattrNameProblem } from './xattrs.js';

const CREATE_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** Files up to this size are read whole and written from the pool; larger ones stream. */
const SMALL_FILE = 256 * 1024;
/** In-flight entries; with SMALL_FILE this bounds buffered content to 4 MiB. */
const CONCURRENCY = 16;
/** Streamed (large) files are written in batches of this many bytes. */
const WRITE_BATCH = 1024 * 1024;

export class LayerWriter {
  private readonly tree: SafeTree;
  private readonly pool = new TaskPool(CONCURRENCY);
  private readonly xattrs = new XattrBatch();
  /**
   * Every non-directory this layer has created. With the tree's directories it
   * is everything in the (initially empty) layer directory, and only these
   * may be hardlink targets.
   */
  private readonly written = new Set<string>();
  /** Directory mtimes, set last because adding children changes them. */
  private readonly dirTimes = new Map<string, number>();
  /**
   * Directories that are or may be setgid (by their entry, or by inheriting it
   * while their own chmod is still in the pool): what is created below them
   * takes their group and, for directories, their setgid bit.
   */
  private readonly maybeSetgid = new Set<string>();

  constructor(
    root: string,
    private readonly defaults: CreationDefaults,
    private readonly signal?: AbortSignal,
  ) {
    this.tree = new SafeTree(root);
    if (defaults.rootSetgid) this.maybeSetgid.add('');
  }

  async write(entry: TarEntry): Promise<void> {
    const h = entry.header;
    const rel = cleanEntryName(h.name);
    const whiteout = classifyWhiteout(rel, h.name);
    const fresh = rel !== '' && !whiteout && h.type !== 'hardlink' && this.tree.isDir(parentOf(rel)) && !this.exists(rel);
    if (!fresh) await this.pool.drain();
    if (whiteout) return this.whiteout(whiteout, rel, h);
    if (rel === '' && h.type !== 'dir') throw new UnsafeLayerError(h.name, 'replaces the layer root with a non-directory');
    if (!fresh && rel !== '') await this.tree.prepareParents(rel, h.name);
    // Pool failures surface at a later entry: name the one they belong to now.
    const schedule = (op: () => Promise<void>): Promise<void> =>
      fresh ? this.pool.run(() => op().catch((err: unknown) => Promise.reject(entryError(err, h.name)))) : op();
    // A fresh name is recorded when scheduled; a replaced one after clearPath has forgotten the old.
    const createNonDir = async (op: () => Promise<void>): Promise<void> => {
      if (fresh) this.written.add(rel);
      await schedule(op);
      this.written.add(rel);
    };

    switch (h.type) {
      case 'dir': {
        const inherits = this.maybeSetgid.has(parentOf(rel));
        const ownerOk = ownerIsDefault(this.defaults, h.uid, h.gid, inherits);
        const modeOk = !inherits && modeIsDefault(this.defaults, h.mode);
        // Created now, so that entries below it can proceed; its metadata can wait in the pool.
        const created =
          rel !== '' && (await this.create(rel, () => mkdir(this.tree.abs(rel), modeOk ? h.mode : 0o700).then(() => true), true)) === true;
        this.tree.markDir(rel);
        this.dirTimes.set(rel, h.mtime);
        if (inherits || h.mode & 0o2000) this.maybeSetgid.add(rel);
        // A directory that was already there (the root, a re-declared one) always takes the entry's metadata.
        if (!created || !ownerOk || !modeOk) await schedule(() => this.setOwnerMode(rel, h));
        break;
      }
      case 'file':
        if (fresh && h.size <= SMALL_FILE) {
          const data = await readAll(entry.body);
          await createNonDir(() => this.file(rel, h, data));
        } else {
          await this.file(rel, h, entry.body); // streams: large files never sit in memory
          this.written.add(rel);
        }
        break;
      case 'symlink':
        // The target may point anywhere: it is only ever stored, never followed here.
        if (h.linkname === '') throw new UnsafeLayerError(h.name, 'symlink has no target');
        if (h.linkname.includes('\0')) throw new UnsafeLayerError(h.name, 'symlink target contains a NUL byte');
        await createNonDir(() => this.symlink(rel, h));
        break;
      case 'hardlink':
        await this.hardlink(rel, h);
        break;
      case 'char':
      case 'block':
      case 'fifo': {
        const kind = h.type;
        await createNonDir(async () => {
          if (!fresh) await this.clearPath(rel, false);
          await makeNode(this.tree.abs(rel), kind, h.mode, h.devmajor, h.devminor, this.signal);
          await this.setOwnerMode(rel, h);
          await lutimes(this.tree.abs(rel), h.mtime, h.mtime);
        });
        break;
      }
    }
    this.queueXattrs(rel, h);
  }

  /** Applies what was deferred. Call once, after the last entry. */
  async finish(): Promise<void> {
    await this.pool.drain();
    await this.xattrs.apply(this.tree.root, this.signal);
    for (const [rel, mtime] of this.dirTimes) await lutimes(this.tree.abs(rel), mtime, mtime);
  }

  /** Waits for in-flight work, ignoring its outcome: call before giving up, so nothing writes afterwards. */
  async settle(): Promise<void> {
    await this.pool.settle();
  }

  private exists(rel: string): boolean {
    return this.tree.isDir(rel) || this.written.has(rel);
  }

  private async file(rel: string, h: TarHeader, body: AsyncIterable<Buffer> | Buffer[]): Promise<void> {
    const ownerOk = ownerIsDefault(this.defaults, h.uid, h.gid, this.maybeSetgid.has(parentOf(rel)));
    const modeOk = modeIsDefault(this.defaults, h.mode);
    if (Array.isArray(body)) {
      const meta: SmallFileMeta = {
        openMode: modeOk ? h.mode : 0o600,
        ...(ownerOk ? {} : { chown: { uid: h.uid, gid: h.gid } }),
        ...(modeOk ? {} : { chmod: h.mode }),
        mtime: h.mtime,
      };
      await this.create(rel, () => writeSmallFile(this.tree.abs(rel), CREATE_FILE, body, meta));
      return;
    }
    const fh = (await this.create(rel, () => open(this.tree.abs(rel), CREATE_FILE, modeOk ? h.mode : 0o600)))!;
    try {
      // Chunks gathered into ~1 MiB writev calls: one thread-pool round trip per MiB, no copying.
      let batch: Buffer[] = [];
      let batched = 0;
      for await (const chunk of body) {
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) {
          await writeAllv(fh, batch);
          batch = [];
          batched = 0;
        }
      }
      if (batched > 0) await writeAllv(fh, batch);
      // chown clears setuid/setgid, so the mode comes after it.
      if (!ownerOk) await fh.chown(h.uid, h.gid);
      if (!modeOk) await fh.chmod(h.mode);
      await fh.utimes(h.mtime, h.mtime);
    } finally {
      await fh.close();
    }
  }

  private async symlink(rel: string, h: TarHeader): Promise<void> {
    const abs = this.tree.abs(rel);
    await this.create(rel, () => symlink(h.linkname, abs));
    if (!ownerIsDefault(this.defaults, h.uid, h.gid, this.maybeSetgid.has(parentOf(rel)))) await lchown(abs, h.uid, h.gid);
    await lutimes(abs, h.mtime, h.mtime);
  }

  private async hardlink(rel: string, h: TarHeader): Promise<void> {
    const target = cleanEntryName(h.linkname, h.name, 'hardlink target');
    if (target === rel || target.startsWith(rel + '/')) throw new UnsafeLayerError(h.name, 'hardlink to itself or below itself');
    if (!this.written.has(target)) throw new UnsafeLayerError(h.name, `hardlink target "${target}" is not an earlier entry of this layer`);
    // The target was safe when written; prove its path still is.
    await this.tree.checkParents(target, h.name);
    const targetAbs = this.tree.abs(target);
    if ((await lstat(targetAbs)).isDirectory()) throw new UnsafeLayerError(h.name, 'hardlink to a directory');
    // link(2) does not follow a symlink target: the new name shares the link itself.
    await this.create(rel, () => link(targetAbs, this.tree.abs(rel)));
    this.written.add(rel);
  }

  private async whiteout(w: Whiteout, markerRel: string, h: TarHeader): Promise<void> {
    if (w.kind === 'ignore') return;
    if (w.kind === 'opaque') {
      // The marker's parents, the opaque directory included, become real directories.
      await this.tree.prepareParents(markerRel, h.name);
      this.xattrs.set(w.dir, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    await this.tree.prepareParents(w.path, h.name);
    await this.clearPath(w.path, false);
    await makeNode(this.tree.abs(w.path), 'char', 0, 0, 0, this.signal);
    this.written.add(w.path);
  }

  private queueXattrs(rel: string, h: TarHeader): void {
    for (const [name, value] of h.xattrs) {
      // overlayfs acts on its own xattrs (redirects, metacopy, opaque…): a layer
      // must express deletions with whiteouts, never by bringing these in.
      if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
      const problem = xattrNameProblem(name);
      if (problem) throw new UnsafeLayerError(h.name, `${problem} ${JSON.stringify(name)}`);
      this.xattrs.set(rel, name, value);
    }
  }

  /** For directories and nodes; never called on a symlink, so chmod cannot follow one. */
  private async setOwnerMode(rel: string, h: TarHeader): Promise<void> {
    const abs = this.tree.abs(rel);
    await lchown(abs, h.uid, h.gid);
    await chmod(abs, h.mode); // after chown, which clears setuid/setgid
  }

  /**
   * Runs `make`; if the path exists, removes it (a later entry replaces an
   * earlier one) and runs `make` again. With keepDir an existing directory is
   * kept instead and `make` is not repeated.
   */
  private async create<T>(rel: string, make: () => Promise<T>, keepDir = false): Promise<T | undefined> {
    try {
      return await make();
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    if (await this.clearPath(rel, keepDir)) return undefined;
    return await make();
  }

  /** Removes whatever is at `rel`; returns true (and keeps it) if keepDir and it is a directory. */
  private async clearPath(rel: string, keepDir: boolean): Promise<boolean> {
    const abs = this.tree.abs(rel);
    let isDir: boolean;
    try {
      isDir = (await lstat(abs)).isDirectory();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    if (isDir && keepDir) return true;
    // rm never follows symlinks, neither at the top nor below.
    await rm(abs, { recursive: isDir, force: true });
    this.tree.forget(rel);
    forgetSubtree(this.written, rel);
    forgetSubtree(this.dirTimes, rel);
    forgetSubtree(this.maybeSetgid, rel);
    this.xattrs.forget(rel);
    return false;
  }
}

/**
 * The body as views of the source chunks, written later with one writev: no
 * copy. zlib never reuses bytes it has handed out, and the pool bounds what
 * stays pinned (CONCURRENCY files of at most SMALL_FILE bytes, plus the partly
 * used chunks around them).
 */
async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const views: Buffer[] = [];
  for await (const chunk of body) views.push(chunk);
  return views;
}

async function writeAllv(fh: FileHandle, chunks: Buffer[]): Promise<void> {
  const rest = chunks.filter((c) => c.length > 0);
  while (rest.length > 0) {
    let { bytesWritten } = await fh.writev(rest);
    // A short write: drop what went out, keep the tail of a partly written chunk.
    while (rest.length > 0 && bytesWritten >= rest[0]!.length) bytesWritten -= rest.shift()!.length;
    if (bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten);
  }
}
