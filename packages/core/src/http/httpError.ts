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

const STATUS_BY_CODE: Partial<Record<SyncErrorCode, number>> = {
  INVALID_INPUT: 400,
  UNKNOWN_SOURCE: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  STORE_UNAVAILABLE: 503,
};

/** Error codes of drivers and sockets that mean "the database cannot be reached right now". */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  // PostgreSQL: connection exceptions (08xxx) and admin/crash shutdown (57P0x).
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  'SQLITE_BUSY',
  'SQLITE_CANTOPEN',
]);

const CONNECTION_ERROR_MESSAGE =
  /connection (terminated|refused|timeout)|database is locked|cannot open database|connect ECONNREFUSED/i;

/** True when `cause` (or one of its causes) is a connection failure of a database driver. */
export function isConnectionError(cause: unknown, depth = 0): boolean {
  if (depth > 4 || typeof cause !== 'object' || cause === null) return false;
  const { code, message } = cause as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  if (typeof message === 'string' && CONNECTION_ERROR_MESSAGE.test(message)) return true;
  if (cause instanceof AggregateError && cause.errors.some((inner) => isConnectionError(inner, depth + 1))) {
    return true;
  }
  return isConnectionError((cause as { cause?: unknown }).cause, depth + 1);
}

/**
 * Maps anything thrown to its HTTP answer. Messages of `SyncError`s are written for people and are
 * passed on; anything else is a bug, answered as `INTERNAL` with no detail (no stack, no driver text).
 */
export function toHttpError(cause: unknown): HttpError {
  if (cause instanceof HttpError) return cause;
  if (isSyncErrorLike(cause)) {
    if (cause.code === 'STORE_UNAVAILABLE') return storeUnavailable();
    const status = STATUS_BY_CODE[cause.code];
    if (status !== undefined) return new HttpError(status, cause.code, cause.message);
  }
  if (isConnectionError(cause)) return storeUnavailable();
  return new HttpError(500, 'INTERNAL', 'An unexpected error occurred. It has been logged on the server.');
}

const storeUnavailable = () =>
  new HttpError(
    503,
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
