import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { SyncEngine } from '../engine/engineTypes';
import { isSyncErrorLike, SyncError } from '../errors';
import type { AccountKey, Job } from '../job/job';
import type { SyncLogger } from '../logger';
import { describeError } from '../logger';
import { LIMITS } from '../store/syncStore';
import type { RateLimit, SyncAction } from './actionRateLimiter';
import { errorResponse, HttpError, jsonResponse, toHttpError } from './httpError';
import type { PushRouteOptions } from './pushRoute';
import { createPushRoute, isPushPath } from './pushRoute';
import type { AllowedOrigins } from './requestOrigin';
import { checkSameOrigin, originMatcher } from './requestOrigin';
import {
  parseIntegerParam,
  parseJobId,
  parseKeyParam,
  parseStartBody,
  readJsonBody,
} from './requestValidation';
import { createSseStream, SSE_DEFAULTS, SSE_HEADERS } from './sseStream';
import { createStreamSlots, defaultPrincipalKey, STREAM_LIMIT_DEFAULTS } from './streamSlots';
import { createWorkRoute, isWorkPath } from './workRoute';

/** A Fetch-API handler: Next.js route handlers, Hono, Bun, Deno, or Node through `toNodeHandler`. */
export interface SyncHandler {
  (request: Request): Promise<Response>;
  /** The normalised base path (no trailing slash): the handler answers 404 outside it. */
  readonly basePath: string;
}

export interface SyncHandlerOptions<TPrincipal> {
  /** Path the routes live under, e.g. `/api/sync` (default `''`: the routes start at `/jobs`). */
  basePath?: string;
  /**
   * Who is calling: your session or token check. Return a falsy value (`null`, `undefined`, `false`,
   * `''`, `0`) for an anonymous caller, who gets 401; wrap a numeric user id in an object.
   * Required: there is no anonymous default.
   */
  authenticate: (
    request: Request,
  ) => TPrincipal | null | undefined | false | Promise<TPrincipal | null | undefined | false>;
  /**
   * Whether the principal may see and act on the account's jobs. A job of an account it may not see
   * answers 404, exactly like a job that does not exist. Required.
   */
  authorizeAccount: (principal: TPrincipal, account: AccountKey) => boolean | Promise<boolean>;
  /**
   * Origins besides the handler's own whose pages may send POSTs (start, cancel, retry): a list of
   * origins (`'https://app.example.com'`) or a predicate on the request's `Origin`. Default: none.
   * A browser request from another origin is refused with 403 `CROSS_SITE_REQUEST`, also from the
   * same site (another port on localhost, a sibling subdomain): `SameSite=Lax` cookies alone do not
   * stop those. Requests without `Origin` and `Sec-Fetch-Site` (servers, the CLI, curl) pass. GETs
   * and event streams are read-only and never checked (they still need `authenticate`).
   */
  allowedOrigins?: AllowedOrigins;
  /**
   * Behind a reverse proxy that rewrites the host or terminates TLS: take the request's own origin
   * from `X-Forwarded-Host` / `X-Forwarded-Proto` when comparing it with `Origin`. Only set it when
   * your proxy overwrites those headers. Default false (the request URL's origin).
   */
  trustProxyHeaders?: boolean;
  /**
   * The principal's identity for per-principal limits (open streams, the `rateLimit` built-in). Default:
   * a string or number as it is, an object as its JSON (so pass this when the object holds
   * per-request fields, e.g. `(session) => session.userId`).
   */
  principalKey?: (principal: TPrincipal) => string;
  /** Open event streams one principal may hold (default 8); beyond it 429 `TOO_MANY_STREAMS` with `Retry-After`. */
  maxStreamsPerPrincipal?: number;
  /** Open event streams of this handler in total (default 1,000); beyond it 429 `TOO_MANY_STREAMS`. */
  maxStreams?: number;
  /**
   * Longest life of an event stream, in ms (default 900,000 = 15 min; 0 = none). It ends cleanly and
   * the client resumes with `Last-Event-ID`; the new request runs `authenticate` and
   * `authorizeAccount` again, so a long-lived stream is re-authorized at least this often.
   */
  maxStreamMs?: number;
  /**
   * Bytes an event stream may queue for a client that does not read (default 1 MiB); beyond it the
   * stream is closed (the client reconnects and resumes).
   */
  maxStreamBufferBytes?: number;
  /**
   * Asked before every start, cancel and retry (after authorization): `true` lets it through, `false`
   * or `{ retryAfterSeconds }` answers 429 `RATE_LIMITED` with `Retry-After` (60 s for `false`).
   * `createActionRateLimiter({ perMinute })` is a token bucket per principal. Default: no limit.
   * Without one, a script looping start/cancel with a valid session spends the provider's quota.
   */
  rateLimit?: RateLimit<TPrincipal>;
  /** Interval of SSE keep-alive comments, in ms (default 15,000). */
  keepAliveMs?: number;
  /** Store polling interval of SSE streams when the store has no cross-process notices, in ms (default 1,000). */
  pollIntervalMs?: number;
  /** Injected time for SSE keep-alive and polling (default: the system clock). */
  clock?: Clock;
  /**
   * Where the cause of every 5xx answer is reported (`logger.error`, one string naming the method,
   * path, status, code and the cause chain; the stack too for a 500). The client gets only
   * `{ error: { code, message } }`, never the cause. `console` (the default), pino and winston
   * loggers fit as they are.
   */
  logger?: SyncLogger;
  /**
   * Also told about unexpected errors (answered 500 `INTERNAL` without detail), with the request,
   * after `logger` reported them. Default: none.
   */
  onError?: (error: unknown, request: Request) => void;
  /**
   * Enables `POST {basePath}/work` (serverless hosts: one time slice of `engine.work`, called by a
   * cron or a queue) for callers sending `Authorization: Bearer <workSecret>`; no user session is
   * involved. At least 16 characters; keep it in an environment variable. Without it the route does
   * not exist (404 `ROUTE_NOT_FOUND`).
   */
  workSecret?: string;
  /**
   * Longest slice `POST {basePath}/work` runs, in ms, and its default when the body gives no
   * `maxMs` (default 25,000: under the ~30 s request timeouts common in front of functions, with
   * room for a cold start; set it a few seconds under your host's function time limit).
   */
  maxWorkMs?: number;
  /**
   * Enables `POST {basePath}/push/{source}` (default `/push/gmail`): the endpoint of a Pub/Sub push
   * subscription on the Gmail watch topic. Each push is verified (OIDC token of the configured
   * service account and audience, signed by Google's keys), its address mapped to an account by
   * `accountForEmail`, and an incremental sync started, joined or planned (see `PushRouteOptions`).
   * No user session is involved. Without it the route does not exist (404 `ROUTE_NOT_FOUND`).
   */
  push?: PushRouteOptions;
}

/**
 * The engine, or a function returning it. A function is called on the first request (not when the
 * handler is created), so a module that creates the handler starts nothing when it is imported (a
 * Next.js build, a dev helper process); `defineSyncEngine` returns such a function. It may return a
 * promise (an engine on an async store such as PostgreSQL's); one that rejects is called again on
 * the next request.
 */
export type SyncEngineSource = SyncEngine | (() => SyncEngine | Promise<SyncEngine>);

type Route =
  | { name: 'jobs' }
  | { name: 'active' }
  | { name: 'job'; rawId: string }
  | { name: 'logs' | 'events' | 'cancel' | 'retry'; rawId: string };

const JOB_ACTIONS = new Set(['logs', 'events', 'cancel', 'retry']);
const METHODS_BY_ROUTE: Record<Route['name'], readonly string[]> = {
  jobs: ['GET', 'POST'],
  active: ['GET'],
  job: ['GET'],
  logs: ['GET'],
  events: ['GET'],
  cancel: ['POST'],
  retry: ['POST'],
};

/** `Retry-After` of a `rateLimit` that answered `false`. */
const DEFAULT_RATE_LIMIT_RETRY_SECONDS = 60;

const NOT_FOUND_MESSAGE = 'No job with this id exists.';
const jobNotFound = () => new HttpError(404, 'NOT_FOUND', NOT_FOUND_MESSAGE);

function normaliseBasePath(basePath: string): string {
  const trimmed = basePath.trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function matchRoute(pathname: string, basePath: string): Route | null {
  if (basePath !== '' && pathname !== basePath && !pathname.startsWith(`${basePath}/`)) return null;
  const rest = pathname.slice(basePath.length).replace(/\/$/, '');
  const segments = rest.split('/').slice(1);
  if (segments[0] !== 'jobs') return null;
  if (segments.length === 1) return { name: 'jobs' };
  const rawId = segments[1] ?? '';
  if (segments.length === 2) return rawId === 'active' ? { name: 'active' } : { name: 'job', rawId };
  const action = segments[2] ?? '';
  if (segments.length === 3 && JOB_ACTIONS.has(action)) {
    return { name: action as 'logs' | 'events' | 'cancel' | 'retry', rawId };
  }
  return null;
}

/**
 * syncjob's HTTP API as one Fetch-API handler: start a job, read the active job, the history, one
 * job and its logs, follow its events over SSE, cancel and retry (the routes are listed in the
 * package README). Every answer is JSON (or an SSE stream); every error is
 * `{ error: { code, message } }`; bad input never reaches the engine.
 */
export function createSyncHandler<TPrincipal>(
  engineOrGetter: SyncEngineSource,
  options: SyncHandlerOptions<TPrincipal>,
): SyncHandler {
  const basePath = normaliseBasePath(options.basePath ?? '');
  const logger: SyncLogger = options.logger ?? console;
  const onError = options.onError;
  const isAllowedOrigin = originMatcher(options.allowedOrigins);
  const trustProxyHeaders = options.trustProxyHeaders === true;
  const principalKey = options.principalKey ?? defaultPrincipalKey;
  const streamSlots = createStreamSlots({
    maxStreams: options.maxStreams ?? STREAM_LIMIT_DEFAULTS.maxStreams,
    maxStreamsPerPrincipal: options.maxStreamsPerPrincipal ?? STREAM_LIMIT_DEFAULTS.maxStreamsPerPrincipal,
  });
  const workRoute =
    options.workSecret === undefined
      ? null
      : createWorkRoute({ workSecret: options.workSecret, maxWorkMs: options.maxWorkMs });

  const pushRoute =
    options.push === undefined
      ? null
      : createPushRoute(options.push, { clock: options.clock ?? systemClock, logger });

  let resolved: Promise<SyncEngine> | undefined =
    typeof engineOrGetter === 'function' ? undefined : Promise.resolve(engineOrGetter);
  /** The engine, created by the getter on first use; a getter that fails is tried again next time. */
  const getEngine = (): Promise<SyncEngine> => {
    resolved ??= (async () => (engineOrGetter as () => SyncEngine | Promise<SyncEngine>)())().catch(
      (cause: unknown) => {
        resolved = undefined;
        // A store that cannot reach its database says so itself (`STORE_UNAVAILABLE`: 503 with
        // Retry-After). Anything else is never a 400: the engine is missing, not the input.
        const code = isSyncErrorLike(cause) && cause.code === 'STORE_UNAVAILABLE' ? cause.code : 'INTERNAL';
        throw new SyncError(code, `Creating the sync engine failed: ${describeError(cause)}`, { cause });
      },
    );
    return resolved;
  };

  const authorize = async (principal: TPrincipal, account: AccountKey): Promise<boolean> =>
    (await options.authorizeAccount(principal, account)) === true;

  /** The job, when it exists and the principal may see it; the same 404 otherwise. */
  const loadJob = async (engine: SyncEngine, principal: TPrincipal, rawId: string): Promise<Job> => {
    const id = parseJobId(rawId);
    const job = await engine.getJob(id);
    if (!job || !(await authorize(principal, job))) throw jobNotFound();
    return job;
  };

  const checkRateLimit = async (principal: TPrincipal, action: SyncAction, account: AccountKey) => {
    if (!options.rateLimit) return;
    const verdict = await options.rateLimit(principal, action, {
      source: account.source,
      accountId: account.accountId,
    });
    if (verdict === true) return;
    const seconds =
      typeof verdict === 'object' && verdict !== null && Number.isFinite(verdict.retryAfterSeconds)
        ? Math.max(1, Math.ceil(verdict.retryAfterSeconds))
        : DEFAULT_RATE_LIMIT_RETRY_SECONDS;
    throw new HttpError(
      429,
      'RATE_LIMITED',
      `Too many sync actions in a short time. Wait ${seconds} seconds and try again.`,
      { 'retry-after': String(seconds) },
    );
  };

  const requireAccount = async (engine: SyncEngine, principal: TPrincipal, account: AccountKey) => {
    if (!engine.sourceIds.includes(account.source)) {
      throw new HttpError(
        400,
        'UNKNOWN_SOURCE',
        `Unknown source "${account.source}". Known sources: ${engine.sourceIds.join(', ') || 'none'}.`,
      );
    }
    if (!(await authorize(principal, account))) {
      throw new HttpError(403, 'FORBIDDEN', 'You may not access the sync jobs of this account.');
    }
  };

  const handle = async (
    engine: SyncEngine,
    request: Request,
    route: Route,
    url: URL,
    principal: TPrincipal,
  ): Promise<Response> => {
    const params = url.searchParams;
    switch (route.name) {
      case 'jobs': {
        if (request.method === 'POST') {
          const body = parseStartBody(await readJsonBody(request));
          await requireAccount(engine, principal, body);
          await checkRateLimit(principal, 'start', body);
          const result = await engine.start({
            source: body.source,
            accountId: body.accountId,
            mode: body.mode,
          });
          return jsonResponse(202, result);
        }
        const accountId = parseKeyParam(params, 'accountId', true);
        const source = parseKeyParam(params, 'source', false);
        const limit = parseIntegerParam(params, 'limit', { min: 1, max: LIMITS.listJobsMax });
        if (source !== undefined) await requireAccount(engine, principal, { source, accountId });
        const jobs = await engine.listJobs({ accountId, source, limit: limit ?? LIMITS.listJobsDefault });
        // Without a source the caller may hold only some of the account's sources: show those.
        const visible: Job[] = [];
        for (const job of jobs)
          if (source !== undefined || (await authorize(principal, job))) visible.push(job);
        return jsonResponse(200, { jobs: visible });
      }
      case 'active': {
        const account = {
          source: parseKeyParam(params, 'source', true),
          accountId: parseKeyParam(params, 'accountId', true),
        };
        await requireAccount(engine, principal, account);
        return jsonResponse(200, { job: await engine.getActiveJob(account) });
      }
      case 'job':
        return jsonResponse(200, { job: await loadJob(engine, principal, route.rawId) });
      case 'logs': {
        const job = await loadJob(engine, principal, route.rawId);
        const afterSeq = parseIntegerParam(params, 'afterSeq', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? 0;
        const limit =
          parseIntegerParam(params, 'limit', { min: 1, max: LIMITS.logsMax }) ?? LIMITS.logsDefault;
        const logs = await engine.getLogs(job.id, { afterSeq, limit });
        const lastSeq = logs.at(-1)?.seq ?? afterSeq;
        return jsonResponse(200, {
          logs,
          lastSeq,
          hasMore: logs.length === limit || lastSeq < job.lastLogSeq,
        });
      }
      case 'events': {
        const job = await loadJob(engine, principal, route.rawId);
        const afterSeq = parseResumeSeq(request, params);
        // Taken and released without an await in between: concurrent connects cannot overshoot.
        const release = streamSlots.acquire(principalKey(principal));
        try {
          const body = createSseStream(engine, {
            jobId: job.id,
            afterSeq,
            keepAliveMs: options.keepAliveMs,
            pollIntervalMs: options.pollIntervalMs,
            clock: options.clock,
            signal: request.signal,
            maxStreamMs: options.maxStreamMs ?? SSE_DEFAULTS.maxStreamMs,
            maxBufferedBytes: options.maxStreamBufferBytes ?? SSE_DEFAULTS.maxBufferedBytes,
            onClose: release,
          });
          return new Response(body, { status: 200, headers: SSE_HEADERS });
        } catch (error) {
          release();
          throw error;
        }
      }
      case 'cancel': {
        await readJsonBody(request); // Ignored, but only JSON or nothing: never a form.
        const job = await loadJob(engine, principal, route.rawId);
        await checkRateLimit(principal, 'cancel', job);
        return jsonResponse(202, { job: await engine.cancel(job.id) });
      }
      case 'retry': {
        await readJsonBody(request); // Ignored, but only JSON or nothing: never a form.
        const job = await loadJob(engine, principal, route.rawId);
        await checkRateLimit(principal, 'retry', job);
        return jsonResponse(202, await engine.retry(job.id));
      }
    }
  };

  const handler = async (request: Request): Promise<Response> => {
    try {
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        throw new HttpError(400, 'INVALID_INPUT', 'The request URL is not valid.');
      }
      // Authorised by the shared secret, not by `authenticate`: a cron is not a user.
      if (workRoute && isWorkPath(url.pathname, basePath)) return await workRoute(request, getEngine);
      // Authorised by Pub/Sub's signed token, not by `authenticate`: Google is not a user either.
      if (pushRoute && isPushPath(url.pathname, basePath, pushRoute.source)) {
        return await pushRoute.handle(request, getEngine);
      }
      const route = matchRoute(url.pathname, basePath);
      if (!route) throw new HttpError(404, 'ROUTE_NOT_FOUND', `No route ${url.pathname}.`);
      const allowed = METHODS_BY_ROUTE[route.name];
      if (!allowed.includes(request.method)) {
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `Use ${allowed.join(' or ')} on this route.`, {
          allow: allowed.join(', '),
        });
      }
      // Before authentication: a forged request changes nothing whoever's cookies it carries.
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        checkSameOrigin(request, url, isAllowedOrigin, trustProxyHeaders);
      }
      const engine = await getEngine();
      const principal = await options.authenticate(request);
      if (!principal) {
        throw new HttpError(401, 'UNAUTHENTICATED', 'Sign in to see and start sync jobs.');
      }
      return await handle(engine, request, route, url, principal);
    } catch (cause) {
      const error = toHttpError(cause);
      if (error.status >= 500) {
        report(request, error, cause);
        if (error.code === 'INTERNAL') onError?.(cause, request);
      }
      return errorResponse(error);
    }
  };

  /** The server side of a 5xx: what the client is not told (the cause), said once per answer. */
  const report = (request: Request, error: HttpError, cause: unknown) => {
    let path = request.url;
    try {
      path = new URL(request.url).pathname;
    } catch {
      // An unparsable URL is reported as it came.
    }
    const detail = describeError(cause, { stack: error.code === 'INTERNAL' });
    try {
      logger.error(
        `[syncjob/http] ${request.method} ${path} answered ${error.status} ${error.code}. Cause: ${detail}`,
      );
    } catch {
      // A broken logger must not turn a 503 into a crash of the request.
    }
  };
  return Object.assign(handler, { basePath });
}

/** The seq to resume after: `Last-Event-ID` (a reconnect) wins over `?afterSeq=` (a first connect). */
function parseResumeSeq(request: Request, params: URLSearchParams): number {
  const lastEventId = request.headers.get('last-event-id');
  if (lastEventId !== null && lastEventId.trim() !== '') {
    const header = new URLSearchParams({ 'Last-Event-ID': lastEventId.trim() });
    return parseIntegerParam(header, 'Last-Event-ID', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? 0;
  }
  return parseIntegerParam(params, 'afterSeq', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? 0;
}
