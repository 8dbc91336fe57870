// The configuration schema: every option, its TOML key, type, default and a
// one-line description. Loading, validation and `skiff config default` all read
// from this table, so the three can never drift apart.

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const CGROUP_DRIVERS = ['cgroupfs', 'systemd'] as const;
export type CgroupDriver = (typeof CGROUP_DRIVERS)[number];

export const INFRA_MODES = ['when-needed', 'always'] as const;
export type InfraMode = (typeof INFRA_MODES)[number];

export interface RuntimeHandlerConfig {
  /** Path of the OCI runtime binary (runc-compatible CLI). */
  path: string;
  /** When true, a missing binary is reported instead of failing start-up. */
  optional: boolean;
}

export interface SkiffConfig {
  root: string;
  stateDir: string;
  listen: string;
  logLevel: LogLevel;
  cgroupDriver: CgroupDriver;
  conmonPath: string;
  pauseImage: string;
  defaultRuntime: string;
  infraContainer: InfraMode;
  runtimes: Record<string, RuntimeHandlerConfig>;
  cni: { binDirs: string[]; confDir: string };
  registry: { configDir: string };
  image: { pullProgressTimeoutSeconds: number; maxConcurrentLayers: number };
  stream: { address: string; port: number; idleTimeoutSeconds: number; tlsCertFile: string; tlsKeyFile: string };
}

export type ValueType =
  | { kind: 'string' }
  | { kind: 'path' }
  /** An absolute path, or '' for none. */
  | { kind: 'optional-path' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'paths' };

export type ConfigValue = string | number | boolean | string[];

/** A scalar option at a fixed TOML key path such as ["cni", "conf_dir"]. */
export interface OptionSpec {
  key: readonly string[];
  type: ValueType;
  default: ConfigValue;
  doc: string;
}

const path_: ValueType = { kind: 'path' };

export const OPTIONS: readonly OptionSpec[] = [
  { key: ['root'], type: path_, default: '/var/lib/skiff', doc: 'Persistent state: images, snapshots, container and pod records.' },
  { key: ['state_dir'], type: path_, default: '/run/skiff', doc: 'Runtime state: bundles, conmon sockets, exit files, locks.' },
  { key: ['listen'], type: path_, default: '/run/skiff/skiff.sock', doc: 'Unix socket serving the CRI (mode 0660).' },
  { key: ['log_level'], type: { kind: 'enum', values: LOG_LEVELS }, default: 'info', doc: `Log verbosity: ${LOG_LEVELS.join(', ')}.` },
  {
    key: ['cgroup_driver'],
    type: { kind: 'enum', values: CGROUP_DRIVERS },
    default: 'cgroupfs',
    doc: 'cgroup manager reported to kubelet; systemd needs a running systemd.',
  },
  { key: ['conmon_path'], type: path_, default: '/usr/bin/conmon', doc: 'The conmon binary that monitors each container.' },
  {
    key: ['pause_image'],
    type: { kind: 'string' },
    default: 'registry.k8s.io/pause:3.10',
    doc: 'Infra container image; never garbage-collected (pinned).',
  },
  {
    key: ['default_runtime'],
    type: { kind: 'string' },
    default: 'runc',
    doc: 'Runtime handler used when a pod names none; must be in [runtimes].',
  },
  {
    key: ['infra_container'],
    type: { kind: 'enum', values: INFRA_MODES },
    default: 'when-needed',
    doc: 'Pause process per pod: "when-needed" (shared PID namespace only; others pin namespaces) or "always".',
  },
  {
    key: ['cni', 'bin_dirs'],
    type: { kind: 'paths' },
    default: ['/usr/lib/cni', '/opt/cni/bin'],
    doc: 'Directories searched, in order, for CNI plugin binaries.',
  },
  {
    key: ['cni', 'conf_dir'],
    type: path_,
    default: '/etc/cni/net.d',
    doc: 'Directory holding the CNI network configuration (first file in lexical order wins).',
  },
  {
    key: ['registry', 'config_dir'],
    type: path_,
    default: '/etc/skiff/registry.d',
    doc: 'Per-registry host configs: <config_dir>/<host>/hosts.toml (mirrors, TLS, plain HTTP).',
  },
  {
    key: ['image', 'pull_progress_timeout_seconds'],
    type: { kind: 'int', min: 1, max: 86400 },
    default: 300,
    doc: 'A layer download that receives no bytes for this many seconds fails the pull.',
  },
  {
    key: ['image', 'max_concurrent_layers'],
    type: { kind: 'int', min: 1, max: 32 },
    default: 3,
    doc: 'Layers of one pull downloaded and unpacked at once.',
  },
  {
    key: ['stream', 'address'],
    type: { kind: 'string' },
    default: '127.0.0.1',
    doc: 'Address of the exec/attach/port-forward streaming server.',
  },
  {
    key: ['stream', 'port'],
    type: { kind: 'int', min: 0, max: 65535 },
    default: 0,
    doc: 'Port of the streaming server; 0 picks a free one.',
  },
  {
    key: ['stream', 'idle_timeout_seconds'],
    type: { kind: 'int', min: 1, max: 7 * 86400 },
    default: 4 * 3600,
    doc: 'A stream connection that carries no data for this long is closed.',
  },
  {
    key: ['stream', 'tls_cert_file'],
    type: { kind: 'optional-path' },
    default: '',
    doc: 'PEM certificate of the streaming server; with tls_key_file it serves HTTPS. Empty: plain HTTP.',
  },
  {
    key: ['stream', 'tls_key_file'],
    type: { kind: 'optional-path' },
    default: '',
    doc: 'PEM private key for tls_cert_file.',
  },
];

/** Fields of one `[runtimes.<name>]` table. */
export const RUNTIME_FIELDS: readonly { name: keyof RuntimeHandlerConfig; type: ValueType; doc: string }[] = [
  { name: 'path', type: path_, doc: 'Path of the OCI runtime binary.' },
  { name: 'optional', type: { kind: 'bool' }, doc: 'If true, a missing binary is reported in Status instead of stopping start-up.' },
];

export const DEFAULT_RUNTIMES: Readonly<Record<string, RuntimeHandlerConfig>> = {
  runc: { path: '/usr/sbin/runc', optional: false },
  // crun refuses hybrid cgroup hosts; offered, but never required.
  crun: { path: '/usr/bin/crun', optional: true },
};
