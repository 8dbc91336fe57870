import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import { type Descriptor, type ImageIndex, MEDIA, type Platform } from '../../src/image/oci-types.js';
import { formatPlatform, normalizePlatform, selectManifest } from '../../src/image/platform.js';

let n = 0;
const entry = (platform: Platform | undefined, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: MEDIA.ociManifest,
  digest: `sha256:${(++n).toString(16).padStart(64, '0')}`,
  size: 100,
  ...(platform === undefined ? {} : { platform }),
  ...extra,
});
const index = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests });
const p = (os: string, architecture: string, variant?: string): Platform => ({ os, architecture, ...(variant ? { variant } : {}) });

describe('platform selection', () => {
  it('picks linux/amd64 by default, skipping attestations and non-image entries', () => {
    const attestation = entry(p('unknown', 'unknown'), {
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': 'sha256:x' },
    });
    const arm = entry(p('linux', 'arm64', 'v8'));
    const amd = entry(p('linux', 'amd64'));
    const amdAttestation = entry(p('linux', 'amd64'), { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } });
    const notImage = entry(p('linux', 'amd64'), { mediaType: 'application/vnd.in-toto+json' });
    assert.equal(selectManifest(index(attestation, amdAttestation, notImage, arm, amd)), amd);
  });

  it('accepts Docker list entries and nested indexes', () => {
    const nested = entry(p('linux', 'amd64'), { mediaType: MEDIA.dockerManifestList });
    assert.equal(selectManifest(index(nested)), nested);
    const docker = entry(p('linux', 'amd64'), { mediaType: MEDIA.dockerManifest });
    assert.equal(selectManifest(index(entry(p('windows', 'amd64')), docker)), docker);
  });

  it('normalises architecture aliases and baseline variants', () => {
    assert.deepEqual(normalizePlatform(p('Linux', 'x86_64')), { os: 'linux', architecture: 'amd64', variant: '' });
    assert.deepEqual(normalizePlatform(p('linux', 'amd64', 'v1')), { os: 'linux', architecture: 'amd64', variant: '' });
    assert.deepEqual(normalizePlatform(p('linux', 'aarch64', '8')), { os: 'linux', architecture: 'arm64', variant: '' });
    assert.deepEqual(normalizePlatform(p('linux', 'armhf')), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(normalizePlatform(p('linux', 'arm')), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(normalizePlatform(p('linux', 'i386')), { os: 'linux', architecture: '386', variant: '' });
    const x86 = entry(p('linux', 'x86_64'));
    assert.equal(selectManifest(index(entry(p('linux', 'arm64')), x86)), x86);
    const aarch = entry(p('linux', 'aarch64'));
    assert.equal(selectManifest(index(x86, aarch), p('linux', 'arm64')), aarch);
  });

  it('never gives a baseline amd64 machine a v2/v3 build, and prefers the exact variant', () => {
    const v3 = entry(p('linux', 'amd64', 'v3'));
    const v2 = entry(p('linux', 'amd64', 'v2'));
    const plain = entry(p('linux', 'amd64'));
    const v1 = entry(p('linux', 'amd64', 'v1'));
    assert.equal(selectManifest(index(v3, v2, plain)), plain);
    assert.equal(selectManifest(index(v3, v1)), v1);
    assert.throws(
      () => selectManifest(index(v3, v2)),
      (e: unknown) => e instanceof SkiffError && e.kind === 'NotFound',
    );
    assert.equal(selectManifest(index(plain, v2, v3), p('linux', 'amd64', 'v3')), v3);
    assert.equal(selectManifest(index(plain, v2), p('linux', 'amd64', 'v3')), v2);
    assert.equal(selectManifest(index(plain), p('linux', 'amd64', 'v3')), plain);
  });

  it('lets arm fall back to older compatible variants, nearest first', () => {
    const v5 = entry(p('linux', 'arm', 'v5'));
    const v6 = entry(p('linux', 'arm', 'v6'));
    const v8 = entry(p('linux', 'arm', 'v8'));
    assert.equal(selectManifest(index(v5, v6, v8), p('linux', 'arm', 'v7')), v6);
  });

  it('keeps the first of equally good entries, and takes a platformless entry only as a last resort', () => {
    const a = entry(p('linux', 'amd64'));
    const b = entry(p('linux', 'amd64'));
    assert.equal(selectManifest(index(a, b)), a);
    const bare = entry(undefined);
    assert.equal(selectManifest(index(bare, b)), b);
    assert.equal(selectManifest(index(entry(p('linux', 'arm64')), bare)), bare);
  });

  it('says which platforms exist when none matches', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    assert.throws(
      () =>
        selectManifest(
          index(entry(p('linux', 'arm64')), entry(p('linux', 'arm', 'v7')), entry(p('unknown', 'unknown'))),
          undefined,
          digest,
        ),
      (e: unknown) =>
        e instanceof SkiffError &&
        e.kind === 'NotFound' &&
        e.message === `no manifest for linux/amd64 in index ${digest}; available: linux/arm64, linux/arm/v7`,
    );
    assert.throws(() => selectManifest(index()), /no manifest for linux\/amd64 in index; available: none/);
    assert.equal(formatPlatform(p('linux', 'arm', 'v7')), 'linux/arm/v7');
  });
});
