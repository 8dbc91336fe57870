import { invalidArgument } from '../../errors.js';
import type { ContainerSecurityContext } from '../types.js';
import { type GroupEntry, parseGroup, parseId, parsePasswd, type PasswdEntry } from './etc-files.js';
import { readRootFile } from './root-file.js';

export type UserRequest = Pick<ContainerSecurityContext, 'runAsUser' | 'runAsGroup' | 'runAsUsername' | 'supplementalGroups'> &
  Partial<Pick<ContainerSecurityContext, 'supplementalGroupsPolicy'>>;

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups, ascending, without the primary gid. */
  additionalGids: number[];
  /** The user's name in the image, when it has one. */
  username?: string;
}

const MAX_ID = 0xffffffff;

function checkId(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n >= MAX_ID) throw invalidArgument(`${what} ${n} is not a valid id`);
  return n;
}

/** The image's /etc/passwd and /etc/group, read once and only when needed. */
class EtcFiles {
  private passwd?: Promise<PasswdEntry[]>;
  private group?: Promise<GroupEntry[]>;
  constructor(private readonly rootfs: string) {}

  users(): Promise<PasswdEntry[]> {
    this.passwd ??= readRootFile(this.rootfs, '/etc/passwd').then((t) => (t === undefined ? [] : parsePasswd(t)));
    return this.passwd;
  }
  groups(): Promise<GroupEntry[]> {
    this.group ??= readRootFile(this.rootfs, '/etc/group').then((t) => (t === undefined ? [] : parseGroup(t)));
    return this.group;
  }
  async userNamed(name: string): Promise<PasswdEntry> {
    const u = (await this.users()).find((e) => e.name === name);
    if (!u) throw invalidArgument(`user "${name}" not found in the image's /etc/passwd`);
    return u;
  }
  async userWithUid(uid: number): Promise<PasswdEntry | undefined> {
    return (await this.users()).find((e) => e.uid === uid);
  }
  async groupId(spec: string): Promise<number> {
    const n = parseId(spec);
    if (n !== undefined) return checkId(n, 'group');
    const g = (await this.groups()).find((e) => e.name === spec);
    if (!g) throw invalidArgument(`group "${spec}" not found in the image's /etc/group`);
    return g.gid;
  }
}

/** A user by name or number: a known uid takes its primary group from passwd, an unknown one gets gid 0. */
async function lookupUser(etc: EtcFiles, spec: string): Promise<{ uid: number; gid: number; username?: string }> {
  const n = parseId(spec);
  if (n === undefined) {
    const u = await etc.userNamed(spec);
    return { uid: u.uid, gid: u.gid, username: u.name };
  }
  const uid = checkId(n, 'user');
  const u = await etc.userWithUid(uid);
  return u ? { uid, gid: u.gid, username: u.name } : { uid, gid: 0 };
}

/**
 * The container process's user (`cfg` is the ContainerConfig), from the container's own /etc/passwd and
 * /etc/group (read inside `rootfs`, never the host's).
 *
 * Precedence, as kubelet expects: run_as_username, else run_as_user, else the
 * image's User ("name", "uid", "name:group", "uid:gid"; a group by name or
 * number). run_as_group then replaces the primary gid. Supplementary groups are
 * the /etc/group entries listing the user by name (policy Merge; not with
 * Strict) plus the CRI supplemental_groups, without duplicates and without the
 * primary gid (the process has that one as its gid already).
 *
 * A name that the image does not know is INVALID_ARGUMENT; a uid it does not
 * know is fine (gid 0, no supplementary groups from the image).
 */
export async function resolveUser(
  rootfs: string,
  cfg: { linux: { securityContext: UserRequest } },
  imageUser: string | undefined,
): Promise<ResolvedUser> {
  const sc = cfg.linux.securityContext;
  // As containerd: a group alone would silently pair with whatever user the image names.
  if (sc.runAsGroup !== undefined && sc.runAsUser === undefined && sc.runAsUsername === '') {
    throw invalidArgument('run_as_group is set without run_as_user or run_as_username');
  }
  const etc = new EtcFiles(rootfs);
  let user: { uid: number; gid: number; username?: string };
  if (sc.runAsUsername !== '') {
    const u = await etc.userNamed(sc.runAsUsername);
    user = { uid: u.uid, gid: u.gid, username: u.name };
  } else if (sc.runAsUser !== undefined) {
    user = await lookupUser(etc, String(checkId(sc.runAsUser, 'run_as_user')));
  } else {
    const spec = (imageUser ?? '').trim();
    const colon = spec.indexOf(':');
    const userPart = colon < 0 ? spec : spec.slice(0, colon);
    const groupPart = colon < 0 ? '' : spec.slice(colon + 1);
    if (userPart === '' && groupPart !== '') throw invalidArgument(`image user "${spec}" names a group without a user`);
    user = await lookupUser(etc, userPart === '' ? '0' : userPart);
    if (groupPart !== '') user.gid = await etc.groupId(groupPart);
  }
  if (sc.runAsGroup !== undefined) user.gid = checkId(sc.runAsGroup, 'run_as_group');

  const gids = new Set<number>();
  // Strict: only what the pod spec lists; Merge (the default) adds the image's memberships.
  if (user.username !== undefined && sc.supplementalGroupsPolicy !== 'Strict') {
    for (const g of await etc.groups()) if (g.members.includes(user.username)) gids.add(g.gid);
  }
  for (const g of sc.supplementalGroups) gids.add(checkId(g, 'supplemental group'));
  gids.delete(user.gid);
  const additionalGids = [...gids].sort((a, b) => a - b);
  return user.username !== undefined
    ? { uid: user.uid, gid: user.gid, additionalGids, username: user.username }
    : { uid: user.uid, gid: user.gid, additionalGids };
}
