// A Localhost seccomp profile: the JSON file kubelet names in localhost_ref,
// in the OCI form (architectures, syscalls with names) or Docker's (archMap,
// name or names, includes/excludes by capability, architecture and kernel).
// Anything Skiff cannot apply exactly is refused, naming the file.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { invalidArgument } from '../../errors.js';
import { kernelAtLeast } from './build-seccomp.js';
import {
  type OciSeccomp,
  SECCOMP_ACTIONS,
  SECCOMP_OPERATORS,
  type SeccompAction,
  type SeccompArg,
  type SeccompRule,
} from './seccomp-types.js';

/** Node's arch → the native SCMP_ARCH name and the short names Docker's includes use. */
const NATIVE: Readonly<Record<string, { scmp: string; short: readonly string[] }>> = {
  x64: { scmp: 'SCMP_ARCH_X86_64', short: ['amd64', 'x86_64'] },
  arm64: { scmp: 'SCMP_ARCH_AARCH64', short: ['arm64', 'aarch64'] },
};

export interface ProfileContext {
  /** The container's capabilities (OCI names). */
  capabilities: readonly string[];
  arch: string;
  kernelRelease: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

export function loadLocalhostSeccomp(ref: string, ctx: ProfileContext): OciSeccomp {
  const bad = (why: string) => invalidArgument(`seccomp profile ${JSON.stringify(ref)}: ${why}`);
  if (!path.isAbsolute(ref)) throw bad('localhost_ref must be an absolute path');
  let text: string;
  try {
    text = readFileSync(ref, 'utf8');
  } catch (err) {
    throw bad(`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw bad('not a JSON object');
  return parseProfile(doc, ctx, bad);
}

function parseProfile(doc: Json, ctx: ProfileContext, bad: (why: string) => Error): OciSeccomp {
  const native = NATIVE[ctx.arch];
  if (!native) throw bad(`no seccomp support for architecture ${ctx.arch}`);
  const action = (v: unknown, where: string): SeccompAction => {
    if (typeof v !== 'string' || !SECCOMP_ACTIONS.includes(v as SeccompAction)) throw bad(`${where}: unknown action ${JSON.stringify(v)}`);
    if (v === 'SCMP_ACT_NOTIFY') throw bad(`${where}: SCMP_ACT_NOTIFY needs a seccomp agent, which Skiff does not run`);
    return v as SeccompAction;
  };
  const errno = (v: unknown, where: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 4095) throw bad(`${where}: errnoRet must be an errno number`);
    return v as number;
  };
  const out: OciSeccomp = { defaultAction: action(doc['defaultAction'], 'defaultAction') };
  const defErrno = errno(doc['defaultErrnoRet'], 'defaultErrnoRet');
  if (defErrno !== undefined) out.defaultErrnoRet = defErrno;

  if (doc['architectures'] !== undefined && doc['architectures'] !== null) {
    if (!strings(doc['architectures'])) throw bad('architectures must be a list of SCMP_ARCH_* names');
    out.architectures = [...doc['architectures']];
  } else if (doc['archMap'] !== undefined && doc['archMap'] !== null) {
    if (!Array.isArray(doc['archMap'])) throw bad('archMap must be a list');
    for (const m of doc['archMap'] as unknown[]) {
      if (!isObject(m) || typeof m['architecture'] !== 'string') throw bad('archMap entries need an architecture');
      if (m['architecture'] !== native.scmp) continue;
      const subs = m['subArchitectures'] ?? [];
      if (!strings(subs)) throw bad('subArchitectures must be a list of names');
      out.architectures = [native.scmp, ...subs];
    }
  }
  for (const a of out.architectures ?? []) if (!/^SCMP_ARCH_[A-Z0-9_]+$/.test(a)) throw bad(`unknown architecture ${JSON.stringify(a)}`);
  if (doc['flags'] !== undefined && doc['flags'] !== null) {
    if (!strings(doc['flags'])) throw bad('flags must be a list of SECCOMP_FILTER_FLAG_* names');
    out.flags = [...doc['flags']];
  }
  if (doc['listenerPath']) throw bad('listenerPath (a seccomp agent) is not supported');

  const syscalls = doc['syscalls'] ?? [];
  if (!Array.isArray(syscalls)) throw bad('syscalls must be a list');
  const rules: SeccompRule[] = [];
  (syscalls as unknown[]).forEach((s, i) => {
    const where = `syscalls[${i}]`;
    if (!isObject(s)) throw bad(`${where} is not an object`);
    if (!applies(s['includes'], true, ctx, native.short, bad, where) || !applies(s['excludes'], false, ctx, native.short, bad, where))
      return;
    const names = s['names'] ?? (typeof s['name'] === 'string' ? [s['name']] : undefined);
    if (!strings(names) || names.length === 0) throw bad(`${where} needs names`);
    const rule: SeccompRule = { names: [...names], action: action(s['action'], where) };
    const e = errno(s['errnoRet'], where);
    if (e !== undefined) rule.errnoRet = e;
    if (s['args'] !== undefined && s['args'] !== null) {
      if (!Array.isArray(s['args'])) throw bad(`${where}.args must be a list`);
      rule.args = (s['args'] as unknown[]).map((a, j) => arg(a, `${where}.args[${j}]`, bad));
    }
    rules.push(rule);
  });
  out.syscalls = rules;
  return out;
}

function arg(a: unknown, where: string, bad: (why: string) => Error): SeccompArg {
  if (!isObject(a)) throw bad(`${where} is not an object`);
  const { index, value, valueTwo, op } = a;
  if (!Number.isInteger(index) || (index as number) < 0 || (index as number) > 5) throw bad(`${where}.index must be 0-5`);
  const num = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
  if (!num(value)) throw bad(`${where}.value must be a non-negative integer`);
  if (valueTwo !== undefined && !num(valueTwo)) throw bad(`${where}.valueTwo must be a non-negative integer`);
  if (typeof op !== 'string' || !(SECCOMP_OPERATORS as readonly string[]).includes(op))
    throw bad(`${where}: unknown op ${JSON.stringify(op)}`);
  return {
    index: index as number,
    value: value as number,
    ...(valueTwo !== undefined ? { valueTwo: valueTwo as number } : {}),
    op: op as SeccompArg['op'],
  };
}

/**
 * Docker's conditions: a rule applies when every `includes` condition holds
 * and no `excludes` condition does.
 */
function applies(
  cond: unknown,
  include: boolean,
  ctx: ProfileContext,
  shortArch: readonly string[],
  bad: (why: string) => Error,
  where: string,
): boolean {
  if (cond === undefined || cond === null) return true;
  if (!isObject(cond)) throw bad(`${where}: ${include ? 'includes' : 'excludes'} must be an object`);
  const caps = cond['caps'] ?? [];
  const arches = cond['arches'] ?? [];
  const minKernel = cond['minKernel'];
  if (!strings(caps) || !strings(arches)) throw bad(`${where}: caps and arches must be lists of names`);
  const checks: boolean[] = [];
  if (caps.length) checks.push(include ? caps.every((c) => ctx.capabilities.includes(c)) : caps.some((c) => ctx.capabilities.includes(c)));
  if (arches.length) checks.push(arches.some((a) => shortArch.includes(a)));
  if (typeof minKernel === 'string') {
    const [maj = NaN, min = 0] = minKernel.split('.').map(Number);
    if (!Number.isInteger(maj)) throw bad(`${where}: minKernel ${JSON.stringify(minKernel)} is not a version`);
    checks.push(kernelAtLeast(ctx.kernelRelease, maj, min));
  }
  if (include) return checks.every(Boolean);
  return !checks.some(Boolean);
}
