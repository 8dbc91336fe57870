// A small tar (ustar + pax) writer for tests: it builds exactly the entries a
// test asks for, including hostile ones (../ paths, absolute names, links out of
// the tree) that ordinary tar tools refuse to produce.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export type TarEntry =
  | {
      type: 'file';
      name: string;
      data?: string | Buffer;
      mode?: number;
      uid?: number;
      gid?: number;
      mtime?: number;
      xattrs?: Record<string, string>;
    }
  | { type: 'dir'; name: string; mode?: number; uid?: number; gid?: number; mtime?: number; xattrs?: Record<string, string> }
  | { type: 'symlink'; name: string; target: string; mtime?: number }
  | { type: 'hardlink'; name: string; target: string; mode?: number }
  | { type: 'char' | 'block'; name: string; major: number; minor: number; mode?: number }
  | { type: 'fifo'; name: string; mode?: number };

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(fields: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname?: string;
  major?: number;
  minor?: number;
}): Buffer {
  const h = Buffer.alloc(512);
  h.write(fields.name, 0, 100, 'utf8');
  h.write(octal(fields.mode, 8), 100, 'ascii');
  h.write(octal(fields.uid, 8), 108, 'ascii');
  h.write(octal(fields.gid, 8), 116, 'ascii');
  h.write(octal(fields.size, 12), 124, 'ascii');
  h.write(octal(fields.mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(fields.type, 156, 'ascii');
  if (fields.linkname) h.write(fields.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(octal(fields.major ?? 0, 8), 329, 'ascii');
  h.write(octal(fields.minor ?? 0, 8), 337, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

/** Builds an uncompressed tar archive from the entries, in order. */
export function buildTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const pax: Record<string, string> = {};
    if (Buffer.byteLength(e.name) > 99) pax['path'] = e.name;
    if ((e.type === 'symlink' || e.type === 'hardlink') && Buffer.byteLength(e.target) > 99) pax['linkpath'] = e.target;
    if ((e.type === 'file' || e.type === 'dir') && e.xattrs) for (const [k, v] of Object.entries(e.xattrs)) pax[`SCHILY.xattr.${k}`] = v;
    if (Object.keys(pax).length) {
      const body = Buffer.from(
        Object.entries(pax)
          .map(([k, v]) => paxRecord(k, v))
          .join(''),
      );
      parts.push(header({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, type: 'x' }), pad(body));
    }
    const data = e.type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    const defaultMode = e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644;
    parts.push(
      header({
        name: e.name.slice(0, 99),
        mode: 'mode' in e && e.mode !== undefined ? e.mode : defaultMode,
        uid: 'uid' in e && e.uid !== undefined ? e.uid : 0,
        gid: 'gid' in e && e.gid !== undefined ? e.gid : 0,
        size: data.length,
        mtime: 'mtime' in e && e.mtime !== undefined ? e.mtime : 1700000000,
        type: TYPEFLAG[e.type],
        ...(e.type === 'symlink' || e.type === 'hardlink' ? { linkname: e.target.slice(0, 99) } : {}),
        ...(e.type === 'char' || e.type === 'block' ? { major: e.major, minor: e.minor } : {}),
      }),
    );
    if (data.length) parts.push(pad(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const sha256 = (data: Buffer | string): string => 'sha256:' + createHash('sha256').update(data).digest('hex');

/** A gzip-compressed layer with its digest (of the blob) and diff ID (of the tar). */
export function gzipLayer(entries: TarEntry[]): { blob: Buffer; digest: string; diffId: string } {
  const tar = buildTar(entries);
  const blob = gzipSync(tar);
  return { blob, digest: sha256(blob), diffId: sha256(tar) };
}
