// The ListContainers measure, run in a process of its own as kubelet is: a
// fresh client that only lists, not the harness that started the runtimes and
// drove hundreds of pod creations through its own event loop and heap first.
// Usage: node list-client.js <warm-up calls> <measured calls> <name>=<socket>...
// Prints {"<name>": [ms, ...], "<name>@64k": [ms, ...], ...} on stdout.
//
// Each runtime is measured over two connections. One has the receive window
// kubelet's gRPC (Go) client grows to by itself (its BDP estimator, up to
// 16 MiB); the other keeps grpc-js' fixed 64 KiB, where an answer of a few
// tens of KB waits for the client's WINDOW_UPDATE on some calls and not on
// others depending on the bytes the connection carried before — an artifact
// of this client that kubelet does not have, reported beside for reference.
import * as grpc from '@grpc/grpc-js';

import { loadCriProto } from '../../src/server/proto.js';
import { unaryCall } from '../../test/support/unary-call.js';
import { timed } from './stats.js';

type List = () => Promise<unknown>;

const KUBELET_LIKE_WINDOW = 16 << 20;

function lister(socket: string, window?: number): { list: List; close: () => void } {
  const options = window ? { 'grpc-node.flow_control_window': window } : {};
  const client = new (loadCriProto().runtime.v1.RuntimeService)(`unix://${socket}`, grpc.credentials.createInsecure(), options);
  return { list: () => unaryCall(client, 'ListContainers', {}, 60000), close: () => client.close() };
}

/**
 * Calls each connection in turn, the order flipping every round so none
 * always follows another; returns the measured calls' durations by name.
 */
export async function measureLists(sockets: Record<string, string>, warmup: number, calls: number): Promise<Record<string, number[]>> {
  const names = Object.keys(sockets);
  const clients = names.flatMap((n) => [
    { name: n, ...lister(sockets[n]!, KUBELET_LIKE_WINDOW) },
    { name: `${n}@64k`, ...lister(sockets[n]!) },
  ]);
  const out: Record<string, number[]> = Object.fromEntries(clients.map((c) => [c.name, []]));
  try {
    for (let i = 0; i < warmup + calls; i++) {
      for (const c of i % 2 ? clients : [...clients].reverse()) {
        const ms = await timed(c.list);
        if (i >= warmup) out[c.name]!.push(ms);
      }
    }
  } finally {
    for (const c of clients) c.close();
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [warmup, calls, ...pairs] = process.argv.slice(2);
  const sockets = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const out = await measureLists(sockets, Number(warmup), Number(calls));
  process.stdout.write(JSON.stringify(out) + '\n');
}
