import type * as grpc from '@grpc/grpc-js';

import { SkiffError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallContext } from './call-context.js';
import { toServiceError } from './status-codes.js';

let requestSeq = 0;
/**
 * Every log line of one call carries the same `req` (the request's logger is
 * passed down into the services), so a call's lines can be picked out of many.
 */
const nextRequestId = (): number => ++requestSeq;

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** An AbortSignal that fires on client cancel or when the call's deadline passes. */
function callSignal(call: AnyCall): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onCancel = (): void => controller.abort(new SkiffError('Cancelled', 'the client cancelled the call'));
  call.on('cancelled', onCancel);
  let timer: NodeJS.Timeout | undefined;
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(ms)) {
    const left = ms - Date.now();
    const fire = (): void => controller.abort(new SkiffError('DeadlineExceeded', 'the call deadline passed'));
    if (left <= 0) fire();
    else {
      timer = setTimeout(fire, left);
      timer.unref();
    }
  }
  return {
    signal: controller.signal,
    dispose: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}

/**
 * Wraps a unary domain handler: context with cancellation, one log line per
 * call, and error → status mapping. Every RPC goes through here.
 */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  handler: (request: Req, ctx: CallContext) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  const debug = log.isLevelEnabled('debug');
  return (call, callback) => {
    const started = process.hrtime.bigint();
    // Built on first use: list and status handlers answer from memory and never
    // look at either, and kubelet calls them every second.
    let callLog: Logger | undefined;
    let sig: ReturnType<typeof callSignal> | undefined;
    const ctx: CallContext = {
      get signal() {
        sig ??= callSignal(call);
        return sig.signal;
      },
      get log() {
        callLog ??= log.child({ rpc: method, req: nextRequestId() });
        return callLog;
      },
    };
    const done = (): void => sig?.dispose();
    let result: Promise<Res> | Res;
    try {
      result = handler(call.request, ctx);
    } catch (err) {
      result = Promise.reject(err);
    }
    Promise.resolve(result)
      .then(
        (response) => {
          if (debug) ctx.log.debug({ ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'ok');
          callback(null, response);
        },
        (err: unknown) => {
          const aborted = sig?.signal.aborted ?? false;
          const status = toServiceError(aborted && !(err instanceof SkiffError) ? sig!.signal.reason : err);
          ctx.log.info({ ms: Number(process.hrtime.bigint() - started) / 1e6, code: status.code, err: status.details }, 'failed');
          callback(status);
        },
      )
      .finally(done);
  };
}

/** Server-streaming counterpart of `unary`: the handler writes, the wrapper ends or fails the stream. */
export function serverStream<Req, Res>(
  log: Logger,
  method: string,
  handler: (request: Req, write: (message: Res) => void, ctx: CallContext) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const { signal, dispose } = callSignal(call);
    const ctx: CallContext = { signal, log: log.child({ rpc: method, req: nextRequestId() }) };
    handler(call.request, (m) => call.write(m), ctx)
      .then(
        () => call.end(),
        (err: unknown) => {
          const status = toServiceError(err);
          ctx.log.info({ code: status.code, err: status.details }, 'stream failed');
          call.emit('error', status);
        },
      )
      .finally(dispose);
  };
}

/** Items per message of the Stream* list RPCs: well under the message size limit. */
const STREAM_BATCH = 100;

/**
 * The Stream* counterpart of a List RPC: the same answer, written in batches
 * under `field` (kubelet reads them until the stream ends).
 */
export function listStream<Req, Item, Res>(
  log: Logger,
  method: string,
  field: string,
  list: (request: Req) => Promise<Item[]> | Item[],
): grpc.handleServerStreamingCall<Req, Res> {
  return serverStream<Req, Res>(log, method, async (request, write) => {
    const items = await list(request);
    for (let i = 0; i < items.length || i === 0; i += STREAM_BATCH) {
      write({ [field]: items.slice(i, i + STREAM_BATCH) } as Res);
      if (items.length === 0) break;
    }
  });
}
