import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import { formatReference, parseDigest, parseReference, repositoryOf, withDigest } from '../../src/image/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

const normalized = (text: string): string => formatReference(parseReference(text));

const refuses = (text: string, pattern: RegExp): void => {
  assert.throws(
    () => parseReference(text),
    (err: unknown) =>
      err instanceof SkiffError &&
      err.kind === 'InvalidArgument' &&
      err.message.startsWith(`invalid image reference ${JSON.stringify(text)}: `) &&
      pattern.test(err.message),
    text,
  );
};

describe('image reference', () => {
  it('normalises Docker Hub names like kubelet and containerd', () => {
    assert.deepEqual(parseReference('busybox'), { domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
    assert.equal(normalized('busybox:1.36'), 'docker.io/library/busybox:1.36');
    assert.equal(normalized('user/img'), 'docker.io/user/img:latest');
    assert.equal(normalized('docker.io/busybox'), 'docker.io/library/busybox:latest');
    assert.equal(normalized('index.docker.io/busybox'), 'docker.io/library/busybox:latest');
    assert.equal(normalized('index.docker.io/library/busybox:1'), 'docker.io/library/busybox:1');
    assert.equal(normalized('docker.io/user/img'), 'docker.io/user/img:latest');
  });

  it('recognises a registry host by a dot, a port, or the name localhost', () => {
    assert.deepEqual(parseReference('registry.k8s.io/pause:3.10'), { domain: 'registry.k8s.io', path: 'pause', tag: '3.10' });
    assert.deepEqual(parseReference('127.0.0.1:5000/a/b'), { domain: '127.0.0.1:5000', path: 'a/b', tag: 'latest' });
    assert.deepEqual(parseReference('localhost:5000/foo:v1'), { domain: 'localhost:5000', path: 'foo', tag: 'v1' });
    assert.deepEqual(parseReference('localhost/foo'), { domain: 'localhost', path: 'foo', tag: 'latest' });
    assert.deepEqual(parseReference('[::1]:5000/foo'), { domain: '[::1]:5000', path: 'foo', tag: 'latest' });
    assert.deepEqual(parseReference('myhost:5000/ns/repo'), { domain: 'myhost:5000', path: 'ns/repo', tag: 'latest' });
    // A first component without dot, colon or upper case is a Hub namespace, not a host.
    assert.deepEqual(parseReference('myhost/repo'), { domain: 'docker.io', path: 'myhost/repo', tag: 'latest' });
    // Upper case cannot be a path, so it marks a host (whose case is kept).
    assert.deepEqual(parseReference('Registry/repo'), { domain: 'Registry', path: 'repo', tag: 'latest' });
    // Without a slash, a colon starts a tag: Docker reads this as the Hub image "localhost".
    assert.equal(normalized('localhost:5000'), 'docker.io/library/localhost:5000');
  });

  it('keeps tag and digest, and adds latest only when both are absent', () => {
    assert.deepEqual(parseReference(`busybox@${D}`), { domain: 'docker.io', path: 'library/busybox', digest: D });
    assert.deepEqual(parseReference(`busybox:1.36@${D}`), { domain: 'docker.io', path: 'library/busybox', tag: '1.36', digest: D });
    assert.equal(normalized(`localhost:5000/x:y@${D}`), `localhost:5000/x:y@${D}`);
    // Other algorithms pass the grammar; registered ones are length-checked.
    const sha512 = `sha512:${'0'.repeat(128)}`;
    assert.equal(parseReference(`a@${sha512}`).digest, sha512);
    assert.equal(parseReference(`a@multihash+base58:${'b'.repeat(40)}`).digest, `multihash+base58:${'b'.repeat(40)}`);
  });

  it('accepts the separators and tag characters of the grammar', () => {
    assert.equal(normalized('ns/a.b_c__d-e---f:Tag_1.2-x'), 'docker.io/ns/a.b_c__d-e---f:Tag_1.2-x');
    assert.equal(normalized(`x:${'t'.repeat(128)}`), `docker.io/library/x:${'t'.repeat(128)}`);
  });

  it('refuses malformed references, naming them', () => {
    refuses('', /empty/);
    refuses('Foo/Bar', /lower case/);
    refuses('UPPER', /lower case/);
    refuses('busybox:', /invalid tag/);
    refuses(`x:${'t'.repeat(129)}`, /invalid tag/);
    refuses('x:-tag', /invalid tag/);
    refuses('a b', /invalid repository path component/);
    refuses('a//b', /invalid repository path component ""/);
    refuses('a/', /invalid repository path component/);
    refuses('-a', /invalid repository path component/);
    refuses('a_-b', /invalid repository path component/);
    refuses('a___b', /invalid repository path component/);
    refuses('x:tag:tag2', /invalid repository path component "x:tag"/);
    refuses('x@sha256:abc', /invalid digest/);
    refuses(`x@sha256:${'A'.repeat(64)}`, /lower-case/);
    refuses(`x@sha256:${'a'.repeat(63)}`, /64 lower-case/);
    refuses('x@sha256', /invalid digest/);
    refuses(`x@${D}@${D}`, /invalid digest/);
    refuses('@' + D, /repository name is empty/);
    refuses(':tag', /repository name is empty/);
    refuses(`${'a'.repeat(256)}`, /longer than 255/);
    refuses('f'.repeat(64), /image ID/);
    refuses('-bad.host:5000/x', /invalid registry host/);
    refuses('host:port/x', /invalid registry host/);
  });

  it('formats, and derives repository and digest forms', () => {
    const r = parseReference('127.0.0.1:5000/a/b:v1');
    assert.equal(repositoryOf(r), '127.0.0.1:5000/a/b');
    assert.equal(formatReference(r), '127.0.0.1:5000/a/b:v1');
    const pinned = withDigest(r, D);
    assert.equal(formatReference(pinned), `127.0.0.1:5000/a/b:v1@${D}`);
    assert.equal(r.digest, undefined, 'withDigest does not modify its argument');
    assert.throws(
      () => withDigest(r, 'sha256:nope'),
      (e: unknown) => e instanceof SkiffError && e.kind === 'InvalidArgument',
    );
  });

  it('parses sha256 digests only', () => {
    assert.deepEqual(parseDigest(D), { algorithm: 'sha256', hex: 'a'.repeat(64) });
    for (const bad of [
      '',
      'sha256:',
      `sha256:${'A'.repeat(64)}`,
      `sha512:${'a'.repeat(128)}`,
      `sha256:${'a'.repeat(65)}`,
      'a'.repeat(64),
    ]) {
      assert.throws(
        () => parseDigest(bad),
        (e: unknown) => e instanceof SkiffError && e.kind === 'InvalidArgument' && e.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
  });
});
