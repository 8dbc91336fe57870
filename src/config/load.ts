import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parse as parseToml } from 'smol-toml';

import { errnoCode } from '../errors.js';
import {
  type ConfigValue,
  DEFAULT_RUNTIMES,
  OPTIONS,
  type OptionSpec,
  RUNTIME_FIELDS,
  type RuntimeHandlerConfig,
  type SkiffConfig,
  type ValueType,
} from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/skiff/config.toml';

/** A configuration problem, naming the file and the key at fault. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly key: string | undefined,
    readonly problem: string,
  ) {
    super(`config ${file}: ${key === undefined ? '' : `${key}: `}${problem}`);
    this.name = 'ConfigError';
  }
}

/** Command-line flags that override the file. */
export interface ConfigOverrides {
  root?: string | undefined;
  stateDir?: string | undefined;
  listen?: string | undefined;
  logLevel?: string | undefined;
}

export interface LoadedConfig {
  config: SkiffConfig;
  /** The file read, or undefined when the embedded defaults were used. */
  source: string | undefined;
}

type Table = Record<string, unknown>;

const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * Loads the configuration. An explicit `--config` must exist; the default path
 * is optional and falls back to the embedded defaults.
 */
export function loadConfig(explicitPath: string | undefined, overrides: ConfigOverrides = {}): LoadedConfig {
  const file = explicitPath ?? DEFAULT_CONFIG_PATH;
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' || explicitPath !== undefined) {
      throw new ConfigError(file, undefined, `cannot read: ${(err as Error).message}`);
    }
  }
  const config = text === undefined ? defaultConfig() : parseConfig(text, file);
  applyOverrides(config, overrides, '(command line)');
  return { config, source: text === undefined ? undefined : path.resolve(file) };
}

export function defaultConfig(): SkiffConfig {
  return parseConfig('', '(defaults)');
}

/** Parses and validates TOML text; every key must be known and well typed. */
export function parseConfig(text: string, file: string): SkiffConfig {
  let doc: Table;
  try {
    doc = parseToml(text);
  } catch (err) {
    throw new ConfigError(file, undefined, `invalid TOML: ${(err as Error).message.split('\n')[0]}`);
  }
  const values = new Map<string, ConfigValue>();
  for (const opt of OPTIONS) values.set(opt.key.join('.'), opt.default);
  let runtimes: Record<string, RuntimeHandlerConfig> | undefined;

  const walk = (table: Table, prefix: string[]): void => {
    for (const [name, value] of Object.entries(table)) {
      const key = [...prefix, name];
      const dotted = key.join('.');
      if (dotted === 'runtimes') {
        runtimes = parseRuntimes(value, file);
        continue;
      }
      const opt = OPTIONS.find((o) => o.key.join('.') === dotted);
      if (opt) {
        values.set(dotted, checkValue(value, opt.type, file, dotted));
        continue;
      }
      const isSection = OPTIONS.some((o) => o.key.length > key.length && o.key.slice(0, key.length).join('.') === dotted);
      if (isSection) {
        if (!isTable(value)) throw new ConfigError(file, dotted, 'must be a table');
        walk(value, key);
        continue;
      }
      throw new ConfigError(file, dotted, 'unknown key');
    }
  };
  walk(doc, []);

  const str = (k: string): string => values.get(k) as string;
  const config: SkiffConfig = {
    root: str('root'),
    stateDir: str('state_dir'),
    listen: str('listen'),
    logLevel: str('log_level') as SkiffConfig['logLevel'],
    cgroupDriver: str('cgroup_driver') as SkiffConfig['cgroupDriver'],
    conmonPath: str('conmon_path'),
    pauseImage: str('pause_image'),
    defaultRuntime: str('default_runtime'),
    infraContainer: str('infra_container') as SkiffConfig['infraContainer'],
    // [runtimes.<name>] tables add to (or redefine) the default handlers.
    runtimes: { ...structuredClone(DEFAULT_RUNTIMES), ...runtimes },
    cni: { binDirs: values.get('cni.bin_dirs') as string[], confDir: str('cni.conf_dir') },
    registry: { configDir: str('registry.config_dir') },
    image: {
      pullProgressTimeoutSeconds: values.get('image.pull_progress_timeout_seconds') as number,
      maxConcurrentLayers: values.get('image.max_concurrent_layers') as number,
    },
    stream: {
      address: str('stream.address'),
      port: values.get('stream.port') as number,
      idleTimeoutSeconds: values.get('stream.idle_timeout_seconds') as number,
      tlsCertFile: str('stream.tls_cert_file'),
      tlsKeyFile: str('stream.tls_key_file'),
    },
  };
  if (!config.stream.tlsCertFile !== !config.stream.tlsKeyFile) {
    throw new ConfigError(file, 'stream.tls_cert_file', 'tls_cert_file and tls_key_file must be set together');
  }
  if (!(config.defaultRuntime in config.runtimes)) {
    throw new ConfigError(
      file,
      'default_runtime',
      `"${config.defaultRuntime}" is not a configured runtime (have: ${Object.keys(config.runtimes).join(', ') || 'none'})`,
    );
  }
  return config;
}

function parseRuntimes(value: unknown, file: string): Record<string, RuntimeHandlerConfig> {
  if (!isTable(value)) throw new ConfigError(file, 'runtimes', 'must be a table of [runtimes.<name>] tables');
  const out: Record<string, RuntimeHandlerConfig> = {};
  for (const [name, entry] of Object.entries(value)) {
    const base = `runtimes.${name}`;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
      throw new ConfigError(file, base, 'handler names must be lowercase DNS labels (as RuntimeClass handlers are)');
    }
    if (!isTable(entry)) throw new ConfigError(file, base, 'must be a table with a "path" key');
    const handler: RuntimeHandlerConfig = { path: '', optional: false };
    for (const [field, fieldValue] of Object.entries(entry)) {
      const spec = RUNTIME_FIELDS.find((f) => f.name === field);
      if (!spec) throw new ConfigError(file, `${base}.${field}`, 'unknown key');
      (handler as unknown as Record<string, ConfigValue>)[field] = checkValue(fieldValue, spec.type, file, `${base}.${field}`);
    }
    if (handler.path === '') throw new ConfigError(file, `${base}.path`, 'is required');
    out[name] = handler;
  }
  return out;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (isTable(v)) return 'a table';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function checkValue(value: unknown, type: ValueType, file: string, key: string): ConfigValue {
  const fail = (want: string): never => {
    throw new ConfigError(file, key, `expected ${want}, got ${describe(value)}`);
  };
  switch (type.kind) {
    case 'string':
      if (typeof value !== 'string' || value === '') fail('a non-empty string');
      return value as string;
    case 'path':
      if (typeof value !== 'string' || !path.isAbsolute(value)) fail('an absolute path');
      return path.normalize(value as string);
    case 'optional-path':
      if (typeof value !== 'string' || (value !== '' && !path.isAbsolute(value))) fail('an absolute path, or "" for none');
      return value === '' ? '' : path.normalize(value as string);
    case 'enum':
      if (typeof value !== 'string' || !type.values.includes(value)) fail(`one of ${type.values.join(', ')}`);
      return value as string;
    case 'int': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < type.min || n > type.max) fail(`an integer from ${type.min} to ${type.max}`);
      return n as number;
    }
    case 'bool':
      if (typeof value !== 'boolean') fail('true or false');
      return value as boolean;
    case 'paths':
      if (!Array.isArray(value) || value.some((p) => typeof p !== 'string' || !path.isAbsolute(p))) fail('an array of absolute paths');
      return (value as string[]).map((p) => path.normalize(p));
  }
}

function applyOverrides(config: SkiffConfig, o: ConfigOverrides, file: string): void {
  const check = (v: string | undefined, key: string, opt: OptionSpec | undefined): string | undefined =>
    v === undefined || opt === undefined ? v : (checkValue(v, opt.type, file, key) as string);
  const find = (k: string): OptionSpec | undefined => OPTIONS.find((x) => x.key.join('.') === k);
  config.root = check(o.root, '--root', find('root')) ?? config.root;
  config.stateDir = check(o.stateDir, '--state-dir', find('state_dir')) ?? config.stateDir;
  config.listen = check(o.listen, '--listen', find('listen')) ?? config.listen;
  config.logLevel = (check(o.logLevel, '--log-level', find('log_level')) as SkiffConfig['logLevel'] | undefined) ?? config.logLevel;
}
