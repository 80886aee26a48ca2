import { SyncError } from '@syncjob/core';

/** Reasons Google gives for a quota refusal (429, or 403 for the per-user limits). */
const RATE_LIMIT_REASONS = new Set([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'quotaExceeded',
  'dailyLimitExceeded',
  'RATE_LIMIT_EXCEEDED',
  'RESOURCE_EXHAUSTED',
]);

type HeaderSource = Headers | Record<string, string> | undefined;

function headerOf(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  return (headers as Record<string, string>)[name.toLowerCase()];
}

/** `Retry-After` in ms: delta-seconds (fractions accepted) or an HTTP date; `undefined` when absent or invalid. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** Google's error reason (`errors[0].reason`, else `status`) from an error body. */
export function reasonOf(body: unknown): string | undefined {
  const error = (parseBody(body) as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { errors, status } = error as { errors?: Array<{ reason?: unknown }>; status?: unknown };
  const reason = errors?.[0]?.reason;
  if (typeof reason === 'string') return reason;
  return typeof status === 'string' ? status : undefined;
}

/** The HTTP status a `SyncError` made here came from, if any. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as SyncError | undefined)?.details?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Maps one Gmail answer (a whole response or a part of a batch) to a `SyncError`. The message names
 * the call and what to do; it never carries a token, a URL query or message content.
 */
export function errorOfResponse(
  operation: string,
  status: number,
  headers: HeaderSource,
  body: unknown,
): SyncError {
  const reason = reasonOf(body);
  const details = { status, operation, ...(reason ? { reason } : {}) };
  const rateLimited =
    status === 429 || (status === 403 && reason !== undefined && RATE_LIMIT_REASONS.has(reason));
  if (rateLimited) {
    const retryAfterMs = parseRetryAfter(headerOf(headers, 'retry-after'));
    return new SyncError(
      'RATE_LIMITED',
      `Gmail's quota refused ${operation} (${status}${reason ? ` ${reason}` : ''}); waiting before trying again.`,
      { retryable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), details },
    );
  }
  if (status === 401) {
    return new SyncError(
      'REAUTH_REQUIRED',
      'Gmail refused the credentials (401) even after a token refresh. Ask the user to sign in with Google again.',
      { retryable: false, details },
    );
  }
  if (status >= 500) {
    return new SyncError('NETWORK', `Gmail answered ${status} to ${operation}; this is usually temporary.`, {
      retryable: true,
      details,
    });
  }
  if (status === 404) {
    return new SyncError('PROVIDER_ERROR', `Gmail found nothing for ${operation} (404).`, {
      retryable: false,
      details,
    });
  }
  return new SyncError(
    'PROVIDER_ERROR',
    `Gmail refused ${operation} (${status}${reason ? ` ${reason}` : ''}). Check the OAuth scopes and the request.`,
    { retryable: false, details },
  );
}

interface ThrownLike {
  status?: unknown;
  code?: unknown;
  message?: unknown;
  response?: { status?: unknown; headers?: Headers; data?: unknown };
}

/**
 * Maps anything a call threw (a gaxios error from googleapis, a fetch failure, a cut connection) to a
 * `SyncError`. The original error is not kept as `cause`: gaxios errors hold the request, and the
 * request holds the access token.
 */
export function errorOfThrown(operation: string, error: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof SyncError) return error;
  const thrown = (error ?? {}) as ThrownLike;
  const status = typeof thrown.response?.status === 'number' ? thrown.response.status : thrown.status;
  if (typeof status === 'number' && status >= 400) {
    return errorOfResponse(operation, status, thrown.response?.headers, thrown.response?.data);
  }
  const code = typeof thrown.code === 'string' ? thrown.code : undefined;
  return new SyncError(
    'NETWORK',
    `The connection to Gmail failed during ${operation}${code ? ` (${code})` : ''}; it will be retried.`,
    { retryable: true, details: { operation, ...(code ? { errorCode: code } : {}) } },
  );
}
