import * as grpc from '@grpc/grpc-js';

/**
 * Fills every RPC of a service that has no handler yet with one answering
 * UNIMPLEMENTED and naming the RPC, so the whole API is registered.
 */
export function withUnimplemented<H extends grpc.UntypedServiceImplementation>(
  service: grpc.ServiceDefinition,
  serviceName: string,
  handlers: Partial<H>,
): H {
  const all: grpc.UntypedServiceImplementation = { ...(handlers as grpc.UntypedServiceImplementation) };
  for (const [method, def] of Object.entries(service)) {
    if (all[method]) continue;
    const error = { code: grpc.status.UNIMPLEMENTED, details: `${serviceName}/${method} is not implemented by skiff yet` };
    all[method] = def.responseStream
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => call.emit('error', error)
      : (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(error);
  }
  return all as H;
}
