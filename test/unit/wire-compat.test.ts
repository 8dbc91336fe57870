// Proves api/cri/api.proto is wire-compatible with upstream CRI v1: bytes are
// built by hand from the upstream field numbers and wire types, then decoded with
// the exact codecs the server uses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { loadCriProto } from '../../src/server/proto.js';

// Minimal protobuf encoder: tags, varints and length-delimited fields.
const varint = (n: number | bigint): number[] => {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
};
const tag = (field: number, wire: number): number[] => varint((field << 3) | wire);
const int = (field: number, n: number | bigint): number[] => [...tag(field, 0), ...varint(n)];
const bytes = (field: number, body: number[]): number[] => [...tag(field, 2), ...varint(body.length), ...body];
const str = (field: number, s: string): number[] => bytes(field, [...Buffer.from(s, 'utf8')]);
const entry = (field: number, k: string, v: string): number[] => bytes(field, [...str(1, k), ...str(2, v)]);

describe('api.proto wire compatibility with upstream CRI v1', () => {
  const v1 = loadCriProto().runtime.v1;

  it('decodes a RunPodSandboxRequest with nested, repeated, enum and map fields', () => {
    const metadata = [...str(1, 'web'), ...str(2, 'uid-1'), ...str(3, 'default'), ...int(4, 2)];
    const dns = [...str(1, '10.0.0.10'), ...str(1, '10.0.0.11'), ...str(2, 'svc.cluster.local'), ...str(3, 'ndots:5')];
    const port1 = [...int(1, 1), ...int(2, 53), ...int(3, 5353), ...str(4, '127.0.0.1')];
    const port2 = [...int(2, 80), ...int(3, 8080)];
    const config = [
      ...bytes(1, metadata),
      ...str(2, 'web-host'),
      ...str(3, '/var/log/pods/x'),
      ...bytes(4, dns),
      ...bytes(5, port1),
      ...bytes(5, port2),
      ...entry(6, 'app', 'web'),
      ...entry(6, 'tier', 'front'),
      ...entry(7, 'note', 'hi'),
    ];
    const request = Buffer.from([...bytes(1, config), ...str(2, 'runc')]);
    const decoded = v1.RuntimeService.service.RunPodSandbox.requestDeserialize(request) as unknown as Record<string, unknown>;
    const c = decoded['config'] as Record<string, unknown>;
    assert.equal(decoded['runtimeHandler'], 'runc');
    assert.deepEqual(c['metadata'], { name: 'web', uid: 'uid-1', namespace: 'default', attempt: 2 });
    assert.equal(c['hostname'], 'web-host');
    assert.equal(c['logDirectory'], '/var/log/pods/x');
    assert.deepEqual(c['dnsConfig'], { servers: ['10.0.0.10', '10.0.0.11'], searches: ['svc.cluster.local'], options: ['ndots:5'] });
    assert.deepEqual(c['portMappings'], [
      { protocol: 'UDP', containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1' },
      { protocol: 'TCP', containerPort: 80, hostPort: 8080, hostIp: '' },
    ]);
    assert.deepEqual(c['labels'], { app: 'web', tier: 'front' });
    assert.deepEqual(c['annotations'], { note: 'hi' });
  });

  it('encodes a ListContainersResponse to the upstream bytes (int64 and enum included)', () => {
    const createdAt = 1795820290973000000n;
    const response = {
      containers: [
        {
          id: 'c1',
          podSandboxId: 'p1',
          metadata: { name: 'app', attempt: 1 },
          image: { image: 'sha256:abc', annotations: {}, userSpecifiedImage: 'busybox' },
          imageRef: 'sha256:abc',
          state: 'CONTAINER_EXITED' as const,
          createdAt: createdAt.toString(),
          labels: { k: 'v' },
          annotations: {},
          imageId: 'sha256:abc',
        },
      ],
    };
    const encoded = v1.RuntimeService.service.ListContainers.responseSerialize(response);
    const expected = Buffer.from(
      bytes(1, [
        ...str(1, 'c1'),
        ...str(2, 'p1'),
        ...bytes(3, [...str(1, 'app'), ...int(2, 1)]),
        ...bytes(4, [...str(1, 'sha256:abc'), ...str(18, 'busybox')]),
        ...str(5, 'sha256:abc'),
        ...int(6, 2),
        ...int(7, createdAt),
        ...entry(8, 'k', 'v'),
        ...str(10, 'sha256:abc'),
      ]),
    );
    assert.equal(encoded.toString('hex'), expected.toString('hex'));
  });

  it('registers every upstream RPC of both services', () => {
    const runtime = Object.keys(v1.RuntimeService.service);
    const image = Object.keys(v1.ImageService.service);
    for (const rpc of [
      'Version',
      'RunPodSandbox',
      'ExecSync',
      'GetContainerEvents',
      'RuntimeConfig',
      'UpdatePodSandboxResources',
      'CheckpointContainer',
      'ListMetricDescriptors',
      'ListPodSandboxMetrics',
    ]) {
      assert.ok(runtime.includes(rpc), rpc);
    }
    assert.deepEqual(image.filter((r) => !r.startsWith('Stream')).sort(), [
      'ImageFsInfo',
      'ImageStatus',
      'ListImages',
      'PullImage',
      'RemoveImage',
    ]);
    assert.equal(v1.RuntimeService.service.GetContainerEvents.responseStream, true);
  });
});
