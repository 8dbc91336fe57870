// A streaming reader for the tar dialects found in image layers: ustar, GNU
// (long names, base-256 numbers) and PAX (long names, xattrs). Written here
// rather than taken from tar-stream because layers carry binary xattr values
// (security.capability) in PAX records, which must reach setxattr byte for
// byte, and tar-stream decodes PAX values as UTF-8.
import { ByteReader } from './byte-reader.js';
import { UnsafeLayerError } from './unsafe-layer-error.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  /** As stored in the archive (not yet cleaned or checked). */
  name: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow the header (only meaningful for files). */
  size: number;
  /** Seconds since the epoch, fractional when PAX says so. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.<name>` records, values as raw bytes. */
  xattrs: Array<[name: string, value: Buffer]>;
}

export interface TarEntry {
  header: TarHeader;
  /** The content. Consume it before asking for the next entry, or it is skipped. */
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;
/** PAX and GNU long-name records are held in memory: refuse absurd ones. */
const MAX_META_SIZE = 1024 * 1024;
/** The largest body handed out at once, so a huge buffered chunk still flows in bounded writes. */
const MAX_BODY_CHUNK = 1024 * 1024;

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // 7 = contiguous file, a regular file everywhere that matters
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Fields that PAX and GNU meta entries carry over to the next real entry. */
interface Pending {
  name?: string;
  linkname?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs: Array<[string, Buffer]>;
}

/**
 * Yields the entries of a tar stream in order. After the end-of-archive marker
 * it reads the source to its end, so a hashing stage upstream sees every byte.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry, void, undefined> {
  const reader = new ByteReader(source);
  let pending: Pending = { xattrs: [] };
  let pendingMeta = false;
  for (;;) {
    const block = await reader.readExact(BLOCK);
    if (block === null || isZeroBlock(block)) {
      if (pendingMeta) throw malformed('archive ends after a PAX or GNU long-name header');
      break; // one zero block is enough to end: what follows is padding
    }
    verifyChecksum(block);
    const flag = String.fromCharCode(block[156]!);
    const size = parseNumber(block, 124, 12, 'size');

    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META_SIZE) throw malformed(`meta entry of ${size} bytes`);
      const data = size ? await reader.readExact(size) : Buffer.alloc(0);
      if (data === null) throw malformed('truncated meta entry');
      await reader.skip(padding(size));
      // Global PAX headers ('g') are ignored, as containerd and Docker do.
      if (flag === 'x') parsePax(data, pending);
      else if (flag === 'L') pending.name = cString(data, 0, data.length);
      else if (flag === 'K') pending.linkname = cString(data, 0, data.length);
      pendingMeta = true;
      continue;
    }

    const type = TYPES[flag];
    const rawName = headerName(block);
    if (type === undefined) throw new UnsafeLayerError(pending.name ?? rawName, `unsupported tar entry type ${JSON.stringify(flag)}`);
    const header: TarHeader = {
      name: pending.name ?? rawName,
      // An old (V7) tar marks directories only by a trailing slash.
      type: flag === '\0' && rawName.endsWith('/') ? 'dir' : type,
      mode: parseNumber(block, 100, 8, 'mode') & 0o7777,
      uid: pending.uid ?? parseNumber(block, 108, 8, 'uid'),
      gid: pending.gid ?? parseNumber(block, 116, 8, 'gid'),
      size: pending.size ?? size,
      mtime: pending.mtime ?? parseNumber(block, 136, 12, 'mtime'),
      linkname: pending.linkname ?? cString(block, 157, 100),
      devmajor: parseNumber(block, 329, 8, 'devmajor'),
      devminor: parseNumber(block, 337, 8, 'devminor'),
      xattrs: pending.xattrs,
    };
    pending = { xattrs: [] };
    pendingMeta = false;

    let remaining = header.size;
    const body = (async function* (): AsyncGenerator<Buffer> {
      while (remaining > 0) {
        const chunk = await reader.chunk(Math.min(remaining, MAX_BODY_CHUNK));
        remaining -= chunk.length; // before yielding: the consumer may stop at any yield
        yield chunk;
      }
    })();
    yield { header, body };
    if (remaining > 0) await reader.skip(remaining);
    await reader.skip(padding(header.size));
  }
  await reader.drain();
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;
const malformed = (why: string): UnsafeLayerError => new UnsafeLayerError(undefined, `malformed tar: ${why}`);

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function verifyChecksum(block: Buffer): void {
  const stored = parseNumber(block, 148, 8, 'checksum');
  // The checksum field counts as spaces. Some old tars summed signed bytes.
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) throw malformed('header checksum mismatch');
}

/** The entry name; ustar keeps long names' leading directories in a separate prefix field. */
function headerName(block: Buffer): string {
  const name = cString(block, 0, 100);
  const ustar = block.toString('latin1', 257, 263) === 'ustar\0';
  if (ustar && block[345] !== 0) return `${cString(block, 345, 155)}/${name}`;
  return name;
}

/** A NUL-terminated UTF-8 field. */
function cString(buf: Buffer, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.toString('utf8', 0, nul === -1 ? field.length : nul);
}

/** An octal field, or GNU base-256 (high bit set) for values octal cannot hold. */
function parseNumber(buf: Buffer, offset: number, length: number, what: string): number {
  const field = buf.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    if (field[0]! & 0x40) throw malformed(`negative ${what}`);
    let value = field[0]! & 0x3f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    if (!Number.isSafeInteger(value)) throw malformed(`${what} out of range`);
    return value;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw malformed(`bad ${what} field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** PAX records: "<length> <key>=<value>\n", length counting the whole record. */
function parsePax(data: Buffer, into: Pending): void {
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw malformed('bad PAX record');
    const lengthText = data.toString('latin1', pos, space);
    const length = /^[0-9]+$/.test(lengthText) ? parseInt(lengthText, 10) : NaN;
    const end = pos + length;
    if (!(end > space + 1) || end > data.length || data[end - 1] !== 0x0a) throw malformed('bad PAX record');
    const eq = data.indexOf(0x3d, space + 1);
    if (eq === -1 || eq >= end - 1) throw malformed('bad PAX record');
    const key = data.toString('utf8', space + 1, eq);
    const value = data.subarray(eq + 1, end - 1);
    pos = end;

    if (key.startsWith('SCHILY.xattr.')) {
      // Copy: the record buffer is a view into a chunk that lives on otherwise.
      into.xattrs.push([key.slice('SCHILY.xattr.'.length), Buffer.from(value)]);
      continue;
    }
    const text = value.toString('utf8');
    if (text === '') continue; // an empty value un-sets a field: the ustar header's value stands
    switch (key) {
      case 'path':
        into.name = text;
        break;
      case 'linkpath':
        into.linkname = text;
        break;
      case 'size':
        into.size = paxInteger(text, key);
        break;
      case 'uid':
        into.uid = paxInteger(text, key);
        break;
      case 'gid':
        into.gid = paxInteger(text, key);
        break;
      case 'mtime':
        if (!/^-?[0-9]+(\.[0-9]+)?$/.test(text)) throw malformed(`bad PAX mtime ${JSON.stringify(text)}`);
        into.mtime = Number(text);
        break;
      default: // atime, ctime, uname, gname, comments, vendor records: not needed
    }
  }
}

function paxInteger(text: string, key: string): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw malformed(`bad PAX ${key} ${JSON.stringify(text)}`);
  return n;
}
