/** One entry of Google's legacy `errors` array. */
export interface GoogleErrorItem {
  domain: string;
  reason: string;
  message: string;
  location?: string;
  locationType?: string;
}

/** The body Google APIs answer errors with. */
export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    errors: GoogleErrorItem[];
    status: string;
  };
}

export interface GoogleErrorSpec {
  code: number;
  status: string;
  message: string;
  reason: string;
  domain?: string;
  extra?: Partial<GoogleErrorItem>;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json; charset=UTF-8';

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { 'content-type': JSON_TYPE, ...headers },
  });
}

export function googleError(spec: GoogleErrorSpec): Response {
  const body: GoogleErrorBody = {
    error: {
      code: spec.code,
      message: spec.message,
      errors: [
        { message: spec.message, domain: spec.domain ?? 'global', reason: spec.reason, ...spec.extra },
      ],
      status: spec.status,
    },
  };
  return jsonResponse(body, spec.code, spec.headers);
}

/** The answers the emulator gives, worded as Google words them. */

/** Google's 429 for a spent per-minute quota; `limit` names which (the user's or the project's). */
const perMinuteQuotaExceeded = (limit: string, retryAfter: string) =>
  googleError({
    code: 429,
    status: 'RESOURCE_EXHAUSTED',
    reason: 'rateLimitExceeded',
    domain: 'usageLimits',
    message: `Quota exceeded for quota metric 'Queries' and limit '${limit}' of service 'gmail.googleapis.com' for consumer 'project_number:000000000000'.`,
    headers: { 'retry-after': retryAfter },
  });

export const googleErrors = {
  notFound: () =>
    googleError({
      code: 404,
      status: 'NOT_FOUND',
      reason: 'notFound',
      message: 'Requested entity was not found.',
    }),
  invalidArgument: (message: string) =>
    googleError({ code: 400, status: 'INVALID_ARGUMENT', reason: 'invalidArgument', message }),
  badRequest: (message: string) =>
    googleError({ code: 400, status: 'INVALID_ARGUMENT', reason: 'badRequest', message }),
  failedPrecondition: (message: string) =>
    googleError({ code: 400, status: 'FAILED_PRECONDITION', reason: 'failedPrecondition', message }),
  missingCredentials: () =>
    googleError({
      code: 401,
      status: 'UNAUTHENTICATED',
      reason: 'required',
      message:
        'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
      extra: { location: 'Authorization', locationType: 'header' },
      headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' },
    }),
  invalidCredentials: () =>
    googleError({
      code: 401,
      status: 'UNAUTHENTICATED',
      reason: 'authError',
      message:
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
      extra: { location: 'Authorization', locationType: 'header' },
      headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
    }),
  delegationDenied: (userId: string) =>
    googleError({
      code: 403,
      status: 'PERMISSION_DENIED',
      reason: 'forbidden',
      message: `Delegation denied for ${userId}`,
    }),
  rateLimitExceeded: (retryAfter: string) =>
    perMinuteQuotaExceeded('Queries per minute per user', retryAfter),
  /** The project's per-minute budget, shared by all users, is spent (Google: 429 `rateLimitExceeded`). */
  projectRateLimitExceeded: (retryAfter: string) => perMinuteQuotaExceeded('Queries per minute', retryAfter),
  /**
   * The project's daily budget is spent: Google's 403 `dailyLimitExceeded`. Google sends no
   * `Retry-After` here; the emulator sends the time until its day resets, which a client may use or
   * ignore.
   */
  dailyLimitExceeded: (retryAfter: string) =>
    googleError({
      code: 403,
      status: 'PERMISSION_DENIED',
      reason: 'dailyLimitExceeded',
      domain: 'usageLimits',
      message:
        "Daily Limit Exceeded. Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of service 'gmail.googleapis.com' for consumer 'project_number:000000000000'.",
      headers: { 'retry-after': retryAfter },
    }),
  userRateLimitExceeded: (retryAfter: string, retryAt: Date) =>
    googleError({
      code: 403,
      status: 'PERMISSION_DENIED',
      reason: 'userRateLimitExceeded',
      domain: 'usageLimits',
      message: `User-rate limit exceeded.  Retry after ${retryAt.toISOString()}`,
      headers: { 'retry-after': retryAfter },
    }),
  tooManyConcurrent: () =>
    googleError({
      code: 429,
      status: 'RESOURCE_EXHAUSTED',
      reason: 'rateLimitExceeded',
      domain: 'usageLimits',
      message: 'Too many concurrent requests for user.',
    }),
  backendError: (code: 500 | 503) =>
    code === 503
      ? googleError({
          code,
          status: 'UNAVAILABLE',
          reason: 'backendError',
          message: 'The service is currently unavailable.',
        })
      : googleError({ code, status: 'INTERNAL', reason: 'backendError', message: 'Backend Error' }),
  methodNotFound: (method: string, path: string) =>
    googleError({
      code: 404,
      status: 'NOT_FOUND',
      reason: 'notFound',
      message: `Method not found: ${method} ${path}`,
    }),
};
