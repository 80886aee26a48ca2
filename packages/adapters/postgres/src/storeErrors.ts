import { SyncError } from '@syncjob/core';

/** Node socket errors that mean "the server cannot be reached". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * SQLSTATEs that mean the connection, not the statement, failed: class 08 (connection exception),
 * the server shutting down or terminating the backend (57P01–57P03) and too many connections.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** `pg` reports lost or unusable connections with these messages and no code. */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'not queryable',
  'timeout exceeded when trying to connect',
  'Client was closed',
  'Cannot use a pool after calling end',
];

/**
 * True when the error says the database could not be reached (as opposed to a bad statement),
 * also when the failure is wrapped: in a `cause` chain, or in the `AggregateError` of a connect that
 * tried several addresses.
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 4) return false;
  if (error instanceof SyncError) return error.code === 'STORE_UNAVAILABLE';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  if (UNAVAILABLE_MESSAGES.some((text) => error.message.includes(text))) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isConnectionError(inner, depth + 1))) {
    return true;
  }
  return isConnectionError(error.cause, depth + 1);
}

/**
 * What a connection failure is called in the `SyncError`'s message: its error code or one of the
 * fixed `pg` texts above, never the driver's message, which names hosts, addresses and ports
 * (`connect ECONNREFUSED 10.0.3.7:5432`) and reaches job errors, logs, HTTP answers and webhooks.
 */
function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,20}$/.test(code)) return code;
  const message = error instanceof Error ? error.message : '';
  return UNAVAILABLE_MESSAGES.find((text) => message.includes(text)) ?? 'connection failed';
}

/**
 * Turns a connection failure into `SyncError('STORE_UNAVAILABLE')` with a message that says what to
 * check; any other error (a bug, an app sink's own error, a `SyncError`) is returned unchanged. The
 * driver's own text stays on `cause`, for the server log.
 */
export function toStoreError(error: unknown): unknown {
  if (error instanceof SyncError || !isConnectionError(error)) return error;
  return new SyncError(
    'STORE_UNAVAILABLE',
    `PostgreSQL is unreachable (${reasonOf(error)}). Check that the server is running and the connection string is right; the operation can be retried.`,
    { cause: error },
  );
}
