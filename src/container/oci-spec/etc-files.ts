// Parsers for /etc/passwd and /etc/group as found in images: comments, blank
// and malformed lines are skipped (as libc does), the first match wins.

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const ID = /^\d{1,10}$/;

/** A decimal uid/gid in range, or undefined. */
export function parseId(s: string): number | undefined {
  if (!ID.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

function lines(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of lines(text)) {
    const [name, , uid, gid] = f;
    const u = parseId(uid ?? '');
    const g = parseId(gid ?? '');
    if (name && u !== undefined && g !== undefined) out.push({ name, uid: u, gid: g });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of lines(text)) {
    const [name, , gid, members] = f;
    const g = parseId(gid ?? '');
    if (name && g !== undefined) {
      out.push({
        name,
        gid: g,
        members: (members ?? '')
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean),
      });
    }
  }
  return out;
}
