import type * as grpc from '@grpc/grpc-js';

/** Calls a unary RPC of a generated client by name; resolves with its response, rejects with the ServiceError. */
export function unaryCall<Res>(client: grpc.Client, method: string, request: object, timeoutMs: number): Promise<Res> {
  const fn = (client as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
  if (typeof fn !== 'function') throw new Error(`no method ${method}`);
  return new Promise((resolve, reject) => {
    fn.call(client, request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Res) =>
      err ? reject(err) : resolve(res),
    );
  });
}
