import type { RecordSchema } from '../store/record-store.js';
import {
  type InfraProcess,
  type NamespacePins,
  SANDBOX_RECORD_VERSION,
  type SandboxConfig,
  type SandboxRecord,
  type SandboxState,
  type SandboxStatusFields,
} from './types.js';

type Raw = Record<string, unknown>;

/** Version 0 (no version field): status beside metadata; hostsPath and ownedCgroups could be missing. */
function fromV0(raw: Raw): SandboxRecord {
  const str = (k: string, dflt = ''): string => (typeof raw[k] === 'string' ? raw[k] : dflt);
  return {
    version: SANDBOX_RECORD_VERSION,
    id: str('id'),
    name: str('name'),
    config: raw['config'] as SandboxConfig,
    createdAt: str('createdAt', '0'),
    runtimeHandler: str('runtimeHandler'),
    dir: str('dir'),
    pins: (raw['pins'] as NamespacePins | undefined) ?? {},
    shmPath: str('shmPath', '/dev/shm'),
    resolvConfPath: str('resolvConfPath'),
    hostnamePath: str('hostnamePath'),
    hostsPath: str('hostsPath'),
    cgroupParent: str('cgroupParent', '/'),
    ownedCgroups: (raw['ownedCgroups'] as string[] | undefined) ?? [],
    status: {
      state: str('state', 'notready') as SandboxState,
      ips: (raw['ips'] as string[] | undefined) ?? [],
      ...(typeof raw['hostVeth'] === 'string' ? { hostVeth: raw['hostVeth'] } : {}),
      cniAttempted: raw['cniAttempted'] === true,
      ...(raw['infra'] ? { infra: raw['infra'] as InfraProcess } : {}),
      ...(raw['podResources'] ? { podResources: raw['podResources'] as SandboxStatusFields['podResources'] } : {}),
    },
  };
}

export const SANDBOX_SCHEMA: RecordSchema<SandboxRecord> = {
  kind: 'pod sandbox',
  version: SANDBOX_RECORD_VERSION,
  migrate(raw) {
    const record = raw['version'] === undefined ? fromV0(raw) : (raw as unknown as SandboxRecord);
    if (typeof record.id !== 'string' || record.id === '' || typeof record.status !== 'object' || typeof record.config !== 'object') {
      throw new Error('not a pod sandbox record');
    }
    return record;
  },
};

/** A copy of the record with some status fields replaced. */
export function withSandboxStatus(record: SandboxRecord, change: Partial<SandboxStatusFields>): SandboxRecord {
  return { ...record, status: { ...record.status, ...change } };
}
