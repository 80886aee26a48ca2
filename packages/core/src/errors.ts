/**
 * Every error a user of syncjob can meet has a code from this union. The code is what programs
 * branch on; the message is what people read (it says what happened and what to do).
 */
export type SyncErrorCode =
  /** The caller's input is malformed (bad id, wrong type, unknown source…). */
  | 'INVALID_INPUT'
  /** No such job (or it belongs to someone else: the HTTP layer never reveals which). */
  | 'NOT_FOUND'
  /** The action conflicts with the job's state (retry of a running job, cancel of a finished one). */
  | 'CONFLICT'
  /** The source named in a start request is not registered with the engine. */
  | 'UNKNOWN_SOURCE'
  /** The worker's lease was taken over or expired: it must change nothing and stop. */
  | 'LEASE_LOST'
  /** A running job's lease expired and it could not be resumed (auto-resume off or attempts spent). */
  | 'LEASE_EXPIRED'
  /** The job was cancelled. */
  | 'CANCELLED'
  /** The store (database) cannot be reached. Retry later. */
  | 'STORE_UNAVAILABLE'
  /** The provider refused the credentials even after a refresh: the user must sign in again. */
  | 'REAUTH_REQUIRED'
  /** The mailbox behind the credentials is not the account the job was started for. */
  | 'ACCOUNT_MISMATCH'
  /** The provider's quota was exceeded (retryable after the advertised delay). */
  | 'RATE_LIMITED'
  /** A network failure or a 5xx answer from the provider (retryable). */
  | 'NETWORK'
  /** The provider answered with something we cannot use. */
  | 'PROVIDER_ERROR'
  /** The source's incremental cursor is too old; a full sync is needed. */
  | 'CURSOR_EXPIRED'
  /** The engine was stopped while the job ran (it is released for another worker). */
  | 'SHUTDOWN'
  /** Anything else: a bug or an unexpected failure. */
  | 'INTERNAL';

/** Codes that are worth retrying when nothing else is known. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<SyncErrorCode> = new Set([
  'STORE_UNAVAILABLE',
  'RATE_LIMITED',
  'NETWORK',
]);

export interface SyncErrorOptions {
  /** The underlying error, kept for debugging; never sent over the wire. */
  cause?: unknown;
  /** Whether retrying the same operation may succeed. Defaults by code. */
  retryable?: boolean;
  /** A server-advertised delay before retrying (from `Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /** Small, non-sensitive details for logs (never tokens or message content). */
  details?: Record<string, unknown>;
}

/** The one error class of syncjob. */
export class SyncError extends Error {
  override readonly name: string = 'SyncError';
  readonly code: SyncErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: SyncErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }

  /** The serialisable form stored on a job and sent over the wire. */
  toJSON(): { code: SyncErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }

  /** Wraps anything thrown into a `SyncError`, keeping a `SyncError` as it is. */
  static fromUnknown(cause: unknown, fallbackCode: SyncErrorCode = 'INTERNAL'): SyncError {
    if (cause instanceof SyncError) return cause;
    if (isSyncErrorLike(cause)) {
      return new SyncError(cause.code, cause.message, { cause, retryable: cause.retryable });
    }
    const message =
      cause instanceof Error ? cause.message : typeof cause === 'string' ? cause : 'Unknown error';
    return new SyncError(fallbackCode, message, { cause });
  }
}

/** Thrown inside a running job when it was cancelled; the engine turns it into status `cancelled`. */
export class CancelledError extends SyncError {
  override readonly name: string = 'CancelledError';
  constructor(message = 'The sync was cancelled.') {
    super('CANCELLED', message, { retryable: false });
  }
}

/** Thrown by every fenced store write when the caller's lease is no longer the job's current lease. */
export class LeaseLostError extends SyncError {
  override readonly name: string = 'LeaseLostError';
  constructor(jobId: string) {
    super('LEASE_LOST', `This worker no longer holds the lease of job ${jobId}; another worker owns it.`, {
      retryable: false,
      details: { jobId },
    });
  }
}

/** Wraps `fromUnknown` as a function, for `catch` chains. */
export const toSyncError = (cause: unknown): SyncError => SyncError.fromUnknown(cause);

/** True for any error carrying a syncjob error code (also across realms and after JSON round-trips). */
export function isSyncErrorLike(
  value: unknown,
): value is { code: SyncErrorCode; message: string; retryable?: boolean } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { message?: unknown }).message === 'string' &&
    SYNC_ERROR_CODES.has((value as { code: string }).code)
  );
}

export const SYNC_ERROR_CODES: ReadonlySet<string> = new Set<SyncErrorCode>([
  'INVALID_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'UNKNOWN_SOURCE',
  'LEASE_LOST',
  'LEASE_EXPIRED',
  'CANCELLED',
  'STORE_UNAVAILABLE',
  'REAUTH_REQUIRED',
  'ACCOUNT_MISMATCH',
  'RATE_LIMITED',
  'NETWORK',
  'PROVIDER_ERROR',
  'CURSOR_EXPIRED',
  'SHUTDOWN',
  'INTERNAL',
]);
