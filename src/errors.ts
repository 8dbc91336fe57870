// Domain errors. Services below the gRPC layer throw these; server/status-codes.ts
// maps each kind to a gRPC status in one place.

export type ErrorKind =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'DeadlineExceeded'
  | 'Cancelled'
  | 'ResourceExhausted'
  | 'Unavailable'
  | 'Unimplemented'
  | 'Internal';

export class SkiffError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = `SkiffError(${kind})`;
  }
}

type Cause = { cause?: unknown };
export const invalidArgument = (m: string, o?: Cause): SkiffError => new SkiffError('InvalidArgument', m, o);
export const notFound = (m: string, o?: Cause): SkiffError => new SkiffError('NotFound', m, o);
export const alreadyExists = (m: string, o?: Cause): SkiffError => new SkiffError('AlreadyExists', m, o);
export const failedPrecondition = (m: string, o?: Cause): SkiffError => new SkiffError('FailedPrecondition', m, o);
export const unimplemented = (m: string, o?: Cause): SkiffError => new SkiffError('Unimplemented', m, o);
export const internal = (m: string, o?: Cause): SkiffError => new SkiffError('Internal', m, o);

/** Node system errors carry a string `code` (ENOENT, EEXIST…). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
