import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError, defaultConfig, parseConfig } from '../../src/config/load.js';
import { renderDefaultConfig } from '../../src/config/render.js';
import { OPTIONS } from '../../src/config/schema.js';

const fails = (toml: string, pattern: RegExp): void => {
  assert.throws(
    () => parseConfig(toml, 'test.toml'),
    (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
  );
};

describe('config', () => {
  it('has a default for every option and the documented values', () => {
    const c = defaultConfig();
    assert.equal(c.root, '/var/lib/skiff');
    assert.equal(c.stateDir, '/run/skiff');
    assert.equal(c.listen, '/run/skiff/skiff.sock');
    assert.equal(c.cgroupDriver, 'cgroupfs');
    assert.deepEqual(c.cni.binDirs, ['/usr/lib/cni', '/opt/cni/bin']);
    assert.equal(c.cni.confDir, '/etc/cni/net.d');
    assert.deepEqual(c.runtimes['runc'], { path: '/usr/sbin/runc', optional: false });
    assert.ok(c.runtimes['crun']);
  });

  it('renders a default file that parses back to the defaults, with a comment per option', () => {
    const text = renderDefaultConfig();
    assert.deepEqual(parseConfig(text, 'default.toml'), defaultConfig());
    for (const opt of OPTIONS) assert.ok(text.includes(`# ${opt.doc}`), opt.key.join('.'));
  });

  it('reads values from the file', () => {
    const c = parseConfig(
      'root = "/srv/skiff"\nlog_level = "debug"\n[cni]\nbin_dirs = ["/x/cni"]\n[stream]\nport = 10010\nidle_timeout_seconds = 60\n',
      't.toml',
    );
    assert.equal(c.root, '/srv/skiff');
    assert.equal(c.logLevel, 'debug');
    assert.deepEqual(c.cni.binDirs, ['/x/cni']);
    assert.equal(c.stream.port, 10010);
    assert.equal(c.stream.idleTimeoutSeconds, 60);
  });

  it('adds runtime handlers to the defaults', () => {
    const c = parseConfig('default_runtime = "kata"\n[runtimes.kata]\npath = "/usr/bin/kata-runtime"\n', 't.toml');
    assert.deepEqual(Object.keys(c.runtimes).sort(), ['crun', 'kata', 'runc']);
    assert.equal(c.defaultRuntime, 'kata');
  });

  it('names the file and key of each problem', () => {
    fails('bogus = 1', /^config test\.toml: bogus: unknown key$/);
    fails('[cni]\nextra = 1', /cni\.extra: unknown key/);
    fails('log_level = "loud"', /log_level: expected one of trace, debug, info, warn, error, fatal, got string "loud"/);
    fails('root = "relative/dir"', /root: expected an absolute path/);
    fails('cni = 3', /cni: must be a table/);
    fails('[cni]\nbin_dirs = "/usr/lib/cni"', /cni\.bin_dirs: expected an array of absolute paths/);
    fails('[runtimes.runc]\noptional = true', /runtimes\.runc\.path: is required/);
    fails('[runtimes.Bad_Name]\npath = "/x"', /runtimes\.Bad_Name: handler names must be lowercase/);
    fails('[runtimes.runc]\npath = "/x"\nflavour = "y"', /runtimes\.runc\.flavour: unknown key/);
    fails('default_runtime = "nope"', /default_runtime: "nope" is not a configured runtime/);
    fails('root = ', /invalid TOML/);
    fails(
      '[stream]\ntls_cert_file = "/etc/skiff/stream.crt"',
      /stream\.tls_cert_file: tls_cert_file and tls_key_file must be set together/,
    );
    fails('[stream]\ntls_key_file = "key.pem"', /stream\.tls_key_file: expected an absolute path, or "" for none/);
  });
});

describe('deploy/config.toml', () => {
  it('is the current `skiff config default` output', async () => {
    const { readFile } = await import('node:fs/promises');
    const shipped = await readFile(new URL('../../../deploy/config.toml', import.meta.url), 'utf8');
    assert.equal(shipped, renderDefaultConfig(), 'regenerate with: node dist/src/main.js config default > deploy/config.toml');
  });
});
