import { type ErrorKind, SkiffError } from '../../errors.js';

/** Well-known error codes of the CNI spec (0-99 reserved; 100+ plugin specific). */
export const CNI_ERROR_CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  /** The Go plugin library's generic code; we also use it when a plugin gave no structured error. */
  internal: 999,
} as const;

// Codes that say "the configuration or the request is wrong": retrying the same
// call cannot help, so they surface as FailedPrecondition; everything else is Internal.
const PRECONDITION_CODES = new Set<number>([
  CNI_ERROR_CODES.incompatibleVersion,
  CNI_ERROR_CODES.unsupportedField,
  CNI_ERROR_CODES.invalidEnvironment,
  CNI_ERROR_CODES.decodeFailure,
  CNI_ERROR_CODES.invalidNetworkConfig,
]);

/** A CNI plugin reported failure (error JSON on stdout, or a bare non-zero exit). */
export class CniPluginError extends SkiffError {
  readonly plugin: string;
  readonly code: number;
  readonly msg: string;
  readonly details: string;

  constructor(plugin: string, code: number, msg: string, details = '', options?: { cause?: unknown }) {
    const kind: ErrorKind = PRECONDITION_CODES.has(code) ? 'FailedPrecondition' : 'Internal';
    super(kind, `CNI plugin ${plugin} failed (code ${code}): ${msg}${details ? `: ${details}` : ''}`, options);
    this.name = 'CniPluginError';
    this.plugin = plugin;
    this.code = code;
    this.msg = msg;
    this.details = details;
  }
}
