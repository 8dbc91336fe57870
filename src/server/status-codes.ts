import { Metadata, type ServiceError, status as Status } from '@grpc/grpc-js';

import { type ErrorKind, SkiffError } from '../errors.js';

const CODES: Record<ErrorKind, Status> = {
  InvalidArgument: Status.INVALID_ARGUMENT,
  NotFound: Status.NOT_FOUND,
  AlreadyExists: Status.ALREADY_EXISTS,
  FailedPrecondition: Status.FAILED_PRECONDITION,
  DeadlineExceeded: Status.DEADLINE_EXCEEDED,
  Cancelled: Status.CANCELLED,
  ResourceExhausted: Status.RESOURCE_EXHAUSTED,
  Unavailable: Status.UNAVAILABLE,
  Unimplemented: Status.UNIMPLEMENTED,
  Internal: Status.INTERNAL,
};

/** The one place where any thrown value becomes a gRPC status. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof SkiffError) {
    return { code: CODES[err.kind], details: err.message, metadata: new Metadata() };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: Status.INTERNAL, details: message, metadata: new Metadata() };
}
