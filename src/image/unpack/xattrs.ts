// Extended attributes for a whole layer, applied by one `setfattr --restore`
// process at the end instead of one process per file. Applying last is also
// what keeps them: chown(2) and writes clear security.capability, and by the
// end every file has been written, chowned and chmodded.
import { runTool } from './run-tool.js';
import { forgetSubtree } from './safe-path.js';

export class XattrBatch {
  /** Layer-relative path → attribute name → value. Additive, like tar: a re-declared directory keeps earlier ones. */
  private readonly pending = new Map<string, Map<string, Buffer>>();

  get size(): number {
    return this.pending.size;
  }

  set(rel: string, name: string, value: Buffer): void {
    let attrs = this.pending.get(rel);
    if (!attrs) this.pending.set(rel, (attrs = new Map()));
    attrs.set(name, value);
  }

  /** Drops what was queued at and below `rel` (it was removed or replaced). */
  forget(rel: string): void {
    forgetSubtree(this.pending, rel);
  }

  /** Sets everything queued, with paths relative to `root`; symlinks themselves are not followed (-h). */
  async apply(root: string, signal?: AbortSignal): Promise<void> {
    if (this.pending.size === 0) return;
    const lines: string[] = [];
    for (const [rel, attrs] of this.pending) {
      lines.push(`# file: ${quotePath(rel === '' ? '.' : rel)}`);
      for (const [name, value] of attrs) lines.push(`${name}=0x${value.toString('hex')}`);
      lines.push('');
    }
    await runTool('setfattr', ['-h', '--restore=-'], { cwd: root, input: lines.join('\n') + '\n', signal });
    this.pending.clear();
  }
}

/** setfattr's restore format reads `\ooo` octal escapes in file names; escape every byte that is not plain printable ASCII. */
function quotePath(rel: string): string {
  let out = '';
  for (const byte of Buffer.from(rel, 'utf8')) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : '\\' + byte.toString(8).padStart(3, '0');
  }
  return out;
}

/** Names setfattr's restore format can carry, and that a layer may set. */
export function xattrNameProblem(name: string): string | undefined {
  if (name === '' || !/^[\x21-\x7e]+$/.test(name) || name.includes('=')) return 'has an unusable xattr name';
  return undefined;
}
