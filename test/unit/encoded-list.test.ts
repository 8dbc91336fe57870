// ListEncoder: item-by-item encoded list responses decode to what grpc-js would
// have sent, and an item is re-encoded when its version changes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { acceptEncoded, ListEncoder } from '../../src/server/encoded.js';
import { loadCriProto } from '../../src/server/proto.js';

interface Rec {
  id: string;
  state: 'running' | 'exited';
  labels: Record<string, string>;
}

const method = loadCriProto().runtime.v1.RuntimeService.service.ListContainers;
const toItem = (r: Rec): object => ({
  id: r.id,
  podSandboxId: 'pod',
  metadata: { name: r.id, attempt: 1 },
  state: r.state === 'running' ? 'CONTAINER_RUNNING' : 'CONTAINER_EXITED',
  createdAt: '1700000000000000000',
  labels: r.labels,
  annotations: {},
});

describe('ListEncoder', () => {
  it('encodes a list that decodes like the whole response encoded at once', () => {
    let built = 0;
    const enc = new ListEncoder<Rec>(
      method.responseSerialize,
      'containers',
      (r) => r.id,
      (r) => r.state,
      (r) => (built++, toItem(r)),
    );
    const recs: Rec[] = [
      { id: 'a', state: 'running', labels: { app: 'x' } },
      { id: 'b', state: 'running', labels: {} },
    ];
    const service = acceptEncoded(loadCriProto().runtime.v1.RuntimeService.service);
    const bytes = service.ListContainers.responseSerialize(enc.encode(recs) as never);
    assert.deepEqual(bytes, method.responseSerialize({ containers: recs.map(toItem) }));
    const decoded = method.responseDeserialize(bytes) as { containers: { id: string; state: string; labels: Record<string, string> }[] };
    assert.deepEqual(
      decoded.containers.map((c) => [c.id, c.state, c.labels]),
      [
        ['a', 'CONTAINER_RUNNING', { app: 'x' }],
        ['b', 'CONTAINER_RUNNING', {}],
      ],
    );
    assert.equal(built, 2);

    const second = service.ListContainers.responseSerialize(enc.encode(recs) as never);
    assert.equal(built, 2, 'unchanged items come from the cache');
    assert.equal(second, bytes, 'an unchanged list is the same answer, not a new concatenation');
    assert.equal(
      service.ListContainers.responseSerialize(enc.encode([recs[0]!]) as never).length < bytes.length,
      true,
      'a filtered list is its own answer',
    );
    recs[1]!.state = 'exited';
    const third = service.ListContainers.responseSerialize(enc.encode(recs) as never);
    assert.notEqual(third, bytes);
    const again = method.responseDeserialize(third) as { containers: { state: string }[] };
    assert.deepEqual(
      again.containers.map((c) => c.state),
      ['CONTAINER_RUNNING', 'CONTAINER_EXITED'],
    );
    assert.equal(built, 3, 'only the changed item is encoded again');
  });

  it('leaves ordinary responses to the normal serializer', () => {
    const service = acceptEncoded(loadCriProto().runtime.v1.RuntimeService.service);
    const plain = { containers: [toItem({ id: 'c', state: 'running', labels: {} })] };
    assert.deepEqual(service.ListContainers.responseSerialize(plain), method.responseSerialize(plain));
  });
});
