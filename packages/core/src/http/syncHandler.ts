import type { Clock } from '../clock';
import type { SyncEngine } from '../engine/engineTypes';
import type { AccountKey, Job } from '../job/job';
import { isActiveStatus, isTerminalStatus } from '../job/job';
import { LIMITS } from '../store/syncStore';
import { errorResponse, HttpError, jsonResponse, toHttpError } from './httpError';
import {
  parseIntegerParam,
  parseJobId,
  parseKeyParam,
  parseStartBody,
  readJsonBody,
} from './requestValidation';
import { createSseStream, SSE_HEADERS } from './sseStream';

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
   * Who is calling: your session or token check. Return `null`/`undefined` for an anonymous caller,
   * who gets 401. Required: there is no anonymous default.
   */
  authenticate: (request: Request) => TPrincipal | null | undefined | Promise<TPrincipal | null | undefined>;
  /**
   * Whether the principal may see and act on the account's jobs. A job of an account it may not see
   * answers 404, exactly like a job that does not exist. Required.
   */
  authorizeAccount: (principal: TPrincipal, account: AccountKey) => boolean | Promise<boolean>;
  /** Interval of SSE keep-alive comments, in ms (default 15,000). */
  keepAliveMs?: number;
  /** Store polling interval of SSE streams when the store has no cross-process notices, in ms (default 1,000). */
  pollIntervalMs?: number;
  /** Injected time for SSE keep-alive and polling (default: the system clock). */
  clock?: Clock;
  /**
   * Told about unexpected errors (answered 500 `INTERNAL` without detail) so they can be logged
   * (default: `console.error`).
   */
  onError?: (error: unknown, request: Request) => void;
}

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
  engine: SyncEngine,
  options: SyncHandlerOptions<TPrincipal>,
): SyncHandler {
  const basePath = normaliseBasePath(options.basePath ?? '');
  const onError = options.onError ?? ((error: unknown) => console.error('[syncjob/http]', error));

  const authorize = async (principal: TPrincipal, account: AccountKey): Promise<boolean> =>
    (await options.authorizeAccount(principal, account)) === true;

  /** The job, when it exists and the principal may see it; the same 404 otherwise. */
  const loadJob = async (principal: TPrincipal, rawId: string): Promise<Job> => {
    const id = parseJobId(rawId);
    const job = await engine.getJob(id);
    if (!job || !(await authorize(principal, job))) throw jobNotFound();
    return job;
  };

  const requireAccount = async (principal: TPrincipal, account: AccountKey) => {
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
          await requireAccount(principal, body);
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
        if (source !== undefined) await requireAccount(principal, { source, accountId });
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
        await requireAccount(principal, account);
        return jsonResponse(200, { job: await engine.getActiveJob(account) });
      }
      case 'job':
        return jsonResponse(200, { job: await loadJob(principal, route.rawId) });
      case 'logs': {
        const job = await loadJob(principal, route.rawId);
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
        const job = await loadJob(principal, route.rawId);
        const afterSeq = parseResumeSeq(request, params);
        const body = createSseStream(engine, {
          jobId: job.id,
          afterSeq,
          keepAliveMs: options.keepAliveMs,
          pollIntervalMs: options.pollIntervalMs,
          clock: options.clock,
          signal: request.signal,
        });
        return new Response(body, { status: 200, headers: SSE_HEADERS });
      }
      case 'cancel': {
        const job = await loadJob(principal, route.rawId);
        if (isTerminalStatus(job.status)) {
          throw new HttpError(
            409,
            'CONFLICT',
            `The job already ended (${job.status}); there is nothing to cancel.`,
          );
        }
        return jsonResponse(202, { job: await engine.cancel(job.id) });
      }
      case 'retry': {
        const job = await loadJob(principal, route.rawId);
        if (isActiveStatus(job.status)) {
          throw new HttpError(
            409,
            'CONFLICT',
            `The job is still ${job.status}; cancel it or wait for it to end.`,
          );
        }
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
      const route = matchRoute(url.pathname, basePath);
      if (!route) throw new HttpError(404, 'ROUTE_NOT_FOUND', `No route ${url.pathname}.`);
      const allowed = METHODS_BY_ROUTE[route.name];
      if (!allowed.includes(request.method)) {
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `Use ${allowed.join(' or ')} on this route.`, {
          allow: allowed.join(', '),
        });
      }
      const principal = await options.authenticate(request);
      if (principal === null || principal === undefined) {
        throw new HttpError(401, 'UNAUTHENTICATED', 'Sign in to see and start sync jobs.');
      }
      return await handle(request, route, url, principal);
    } catch (cause) {
      const error = toHttpError(cause);
      if (error.status >= 500 && error.code === 'INTERNAL') onError(cause, request);
      return errorResponse(error);
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
