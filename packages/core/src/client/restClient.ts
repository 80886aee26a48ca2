import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { StartInput, StartResult } from '../engine/engineTypes';
import type { AccountKey, Job, LogEntry } from '../job/job';
import type { ListJobsInput, SyncTransport } from './syncTransport';
import { parseRetryAfter, TransportError, toTransportError } from './transportError';

/** Options shared by the HTTP transports. */
export interface HttpTransportOptions {
  /** Where the sync handler is mounted, e.g. `/api/sync` or `https://app.example/api/sync`. Required. */
  baseUrl: string;
  /** Headers sent with every request (default none). */
  headers?: Record<string, string>;
  /**
   * Headers computed per request and merged over `headers`: called again before every request and
   * every reconnect, so a refreshed token is picked up (default none).
   */
  getHeaders?: () => Record<string, string> | Promise<Record<string, string>>;
  /** The `fetch` to use (default: the global `fetch`, looked up at call time). */
  fetch?: typeof fetch;
  /** Injected time for timers (default: the system clock). */
  clock?: Clock;
}

export interface LogsPage {
  logs: LogEntry[];
  lastSeq: number;
  hasMore: boolean;
}

/** The REST calls of the sync API, with errors turned into `TransportError`s. */
export interface RestClient {
  start(input: StartInput): Promise<StartResult>;
  cancel(jobId: string): Promise<Job>;
  retry(jobId: string): Promise<StartResult>;
  getJob(jobId: string, signal?: AbortSignal): Promise<Job>;
  getActive(account: AccountKey): Promise<Job | null>;
  listJobs(query: ListJobsInput): Promise<Job[]>;
  getLogs(
    jobId: string,
    query: { afterSeq: number; limit?: number },
    signal?: AbortSignal,
  ): Promise<LogsPage>;
  /** Opens a raw request (used by the SSE stream). */
  open(path: string, init: { headers?: Record<string, string>; signal?: AbortSignal }): Promise<Response>;
  readonly clock: Clock;
}

export function createRestClient(options: HttpTransportOptions): RestClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const clock = options.clock ?? systemClock;
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  const headersFor = async (extra: Record<string, string> = {}) => ({
    ...options.headers,
    ...(options.getHeaders ? await options.getHeaders() : {}),
    ...extra,
  });

  const open: RestClient['open'] = async (path, init) => {
    const headers = await headersFor(init.headers);
    try {
      return await doFetch(`${base}${path}`, { headers, signal: init.signal, cache: 'no-store' });
    } catch (cause) {
      throw toTransportError(cause);
    }
  };

  const call = async <T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> => {
    const headers = await headersFor(body === undefined ? {} : { 'content-type': 'application/json' });
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: 'no-store',
      });
    } catch (cause) {
      throw toTransportError(cause);
    }
    if (!response.ok) throw await errorOf(response, clock);
    try {
      return (await response.json()) as T;
    } catch (cause) {
      throw new TransportError('INTERNAL', 'The sync server sent an unreadable answer.', {
        status: response.status,
        retryable: true,
        cause,
      });
    }
  };

  const jobPath = (jobId: string, action = '') => `/jobs/${encodeURIComponent(jobId)}${action}`;

  return {
    clock,
    open,
    start: (input) => call<StartResult>('POST', '/jobs', input),
    cancel: async (jobId) => (await call<{ job: Job }>('POST', jobPath(jobId, '/cancel'))).job,
    retry: (jobId) => call<StartResult>('POST', jobPath(jobId, '/retry')),
    getJob: async (jobId, signal) => (await call<{ job: Job }>('GET', jobPath(jobId), undefined, signal)).job,
    getActive: async ({ source, accountId }) =>
      (await call<{ job: Job | null }>('GET', `/jobs/active?${new URLSearchParams({ source, accountId })}`))
        .job,
    listJobs: async ({ accountId, source, limit }) => {
      const params = new URLSearchParams({ accountId });
      if (source !== undefined) params.set('source', source);
      if (limit !== undefined) params.set('limit', String(limit));
      return (await call<{ jobs: Job[] }>('GET', `/jobs?${params}`)).jobs;
    },
    getLogs: (jobId, { afterSeq, limit }, signal) => {
      const params = new URLSearchParams({ afterSeq: String(afterSeq) });
      if (limit !== undefined) params.set('limit', String(limit));
      return call<LogsPage>('GET', `${jobPath(jobId, '/logs')}?${params}`, undefined, signal);
    },
  };
}

/** Every `SyncTransport` call but `subscribe`: the part the HTTP transports share. */
export function restTransportCalls(rest: RestClient): Omit<SyncTransport, 'subscribe'> {
  return {
    start: rest.start,
    cancel: rest.cancel,
    retry: rest.retry,
    getJob: (jobId) => rest.getJob(jobId),
    getActive: rest.getActive,
    listJobs: rest.listJobs,
  };
}

/** The `TransportError` of a non-2xx answer, from its `{ error: { code, message } }` body when it has one. */
export async function errorOf(response: Response, clock: Clock): Promise<TransportError> {
  let code: TransportError['code'] = response.status >= 500 ? 'INTERNAL' : 'INVALID_INPUT';
  if (response.status === 404) code = 'NOT_FOUND';
  if (response.status === 401) code = 'UNAUTHENTICATED';
  let message = `The sync server answered ${response.status}.`;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code as TransportError['code'];
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // Not our JSON (a proxy's error page): the status says enough.
  }
  const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
  return new TransportError(code, message, {
    status: response.status,
    retryable,
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), clock.now()),
  });
}
