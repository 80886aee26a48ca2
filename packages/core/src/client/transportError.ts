import { isSyncErrorLike } from '../errors';
import type { HttpErrorCode } from '../http/httpError';

/** What a client call or a subscription failed with. `code` is the server's error code when there is one. */
export class TransportError extends Error {
  override readonly name: string = 'TransportError';
  /** The API's error code (`NOT_FOUND`, `UNAUTHENTICATED`, `STORE_UNAVAILABLE`…), `NETWORK` when nothing answered. */
  readonly code: HttpErrorCode;
  /** The HTTP status, `null` when there was no HTTP answer (network failure, in-process transport). */
  readonly status: number | null;
  /** Whether trying again later may succeed (network failures, 5xx, 429). */
  readonly retryable: boolean;
  /** The server's `Retry-After`, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: HttpErrorCode,
    message: string,
    options: { status?: number | null; retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? null;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Wraps anything thrown by a transport (a `SyncError` of an in-process engine, a `TypeError` of `fetch`). */
export function toTransportError(cause: unknown): TransportError {
  if (cause instanceof TransportError) return cause;
  if (isSyncErrorLike(cause)) {
    return new TransportError(cause.code, cause.message, { retryable: cause.retryable ?? false, cause });
  }
  const message = cause instanceof Error ? cause.message : 'The request failed.';
  return new TransportError('NETWORK', `The sync server could not be reached: ${message}`, {
    retryable: true,
    cause,
  });
}

/** `Retry-After` (seconds or an HTTP date) in ms, `undefined` when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
