import type { SyncErrorCode } from '../errors';
import { isSyncErrorLike } from '../errors';

/** The codes of the HTTP API: every `SyncErrorCode` plus the ones only HTTP has. */
export type HttpErrorCode =
  | SyncErrorCode
  /** No principal: `authenticate` returned a falsy value. */
  | 'UNAUTHENTICATED'
  /** The principal may not act on this account (`authorizeAccount` returned false). */
  | 'FORBIDDEN'
  /** No route at this path. */
  | 'ROUTE_NOT_FOUND'
  /** The route exists but not with this method (see the `Allow` header). */
  | 'METHOD_NOT_ALLOWED'
  /** A state-changing request sent by a page of another site or origin (CSRF defence). */
  | 'CROSS_SITE_REQUEST'
  /** A POST body that is not `application/json`. */
  | 'UNSUPPORTED_MEDIA_TYPE'
  /** Too many open event streams for this principal, or in total (see `Retry-After`). */
  | 'TOO_MANY_STREAMS';

/** The body of every error answer: `{ error: { code, message } }`. */
export interface HttpErrorBody {
  error: { code: HttpErrorCode; message: string };
}

/** An error with its HTTP answer. Thrown inside the handler, turned into JSON at its edge. */
export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly headers: Record<string, string>;

  constructor(status: number, code: HttpErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** Seconds a client should wait before retrying when the store is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * The HTTP status of every code, complete by type: a new code does not compile until it has one.
 * Request errors are 4xx; a job state the user must resolve (sign in again, start a full sync) is
 * 409; the provider's failures are 502 (its quota 429); the database or a stopping server 503.
 */
export const STATUS_BY_CODE: Readonly<Record<HttpErrorCode, number>> = {
  INVALID_INPUT: 400,
  UNKNOWN_SOURCE: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CROSS_SITE_REQUEST: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  LEASE_LOST: 409,
  LEASE_EXPIRED: 409,
  CANCELLED: 409,
  REAUTH_REQUIRED: 409,
  ACCOUNT_MISMATCH: 409,
  CURSOR_EXPIRED: 409,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TOO_MANY_STREAMS: 429,
  INTERNAL: 500,
  NETWORK: 502,
  PROVIDER_ERROR: 502,
  STORE_UNAVAILABLE: 503,
  SHUTDOWN: 503,
};

const INTERNAL_MESSAGE = 'An unexpected error occurred. It has been logged on the server.';

/**
 * Maps anything thrown to its HTTP answer. Messages of `SyncError`s are written for people and are
 * passed on; anything else is a bug, answered as `INTERNAL` with no detail (no stack, no driver
 * text). Drivers' errors are not recognised here: each store turns its own connection failures
 * into `SyncError('STORE_UNAVAILABLE')` at its edge, so this layer knows no database.
 */
export function toHttpError(cause: unknown): HttpError {
  if (cause instanceof HttpError) return cause;
  if (!isSyncErrorLike(cause) || cause.code === 'INTERNAL') {
    return new HttpError(500, 'INTERNAL', INTERNAL_MESSAGE);
  }
  if (cause.code === 'STORE_UNAVAILABLE') return storeUnavailable();
  const headers: Record<string, string> = {};
  const { retryAfterMs } = cause as { retryAfterMs?: unknown };
  if (typeof retryAfterMs === 'number' && retryAfterMs > 0) {
    headers['retry-after'] = String(Math.ceil(retryAfterMs / 1000));
  }
  return new HttpError(STATUS_BY_CODE[cause.code], cause.code, cause.message, headers);
}

const storeUnavailable = () =>
  new HttpError(
    STATUS_BY_CODE.STORE_UNAVAILABLE,
    'STORE_UNAVAILABLE',
    `The sync database cannot be reached right now. Retry in ${STORE_RETRY_AFTER_SECONDS} seconds; running jobs resume when it is back.`,
    { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) },
  );

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
};

/** A JSON answer. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** The JSON answer of an error. */
export function errorResponse(error: HttpError): Response {
  const body: HttpErrorBody = { error: { code: error.code, message: error.message } };
  return jsonResponse(error.status, body, error.headers);
}
