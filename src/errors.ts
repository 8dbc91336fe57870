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

export const invalidArgument = (m: string): SkiffError => new SkiffError('InvalidArgument', m);
export const notFound = (m: string): SkiffError => new SkiffError('NotFound', m);
export const alreadyExists = (m: string): SkiffError => new SkiffError('AlreadyExists', m);
export const failedPrecondition = (m: string): SkiffError => new SkiffError('FailedPrecondition', m);
export const unimplemented = (m: string): SkiffError => new SkiffError('Unimplemented', m);

/** Node system errors carry a string `code` (ENOENT, EEXIST…). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
