import type { Job, JobStatus, LogEntry, SyncEvent, SyncTransport } from '@syncjob/core/client';
import { TransportError, toTransportError } from '@syncjob/core/client';

/** What the existing backend's `GET /gmail/sync/progress/{jobId}` answers. */
interface LegacyProgress {
  jobId: string;
  status: 'pending' | 'running' | 'done' | 'error' | 'cancelled';
  total: number | null;
  processed: number;
  startedAt: string;
  updatedAt: string;
  error?: string | null;
}
type LegacyLog = { seq: number; ts: string; level: LogEntry['level']; text: string };

const RENAMED: Record<string, JobStatus> = { pending: 'queued', done: 'completed', error: 'failed' };
const TERMINAL = new Set<JobStatus>(['completed', 'failed', 'cancelled', 'interrupted']);
const FIXED = { source: 'gmail', mode: 'full', trigger: 'manual', categoryCounts: {}, attempt: 1 } as const;
const UNKNOWN = { ratePerSec: null, etaSeconds: null, currentItem: null, waiting: null, heartbeatAt: null };
const ZERO = { classified: 0, skipped: 0, deleted: 0, failed: 0 };

/** The backend's progress mapped onto the job model the client and the React kit render. */
function toJob(p: LegacyProgress, accountId: string, lastLogSeq: number): Job {
  const status = RENAMED[p.status] ?? (p.status as JobStatus);
  const { total, processed: n } = p;
  const percent = status === 'completed' ? 100 : total ? Math.min(99.9, (n / total) * 100) : null;
  const counters = { ...ZERO, total, listed: total ?? 0, fetched: n, stored: n };
  const error = p.error ? { code: 'PROVIDER_ERROR' as const, message: p.error, retryable: true } : null;
  const times = { createdAt: p.startedAt, startedAt: p.startedAt, updatedAt: p.updatedAt };
  const ended = { finishedAt: TERMINAL.has(status) ? p.updatedAt : null, cancelRequested: false, lastLogSeq };
  const phase = status === 'running' ? ('fetching' as const) : null;
  const job = { ...FIXED, ...UNKNOWN, ...times, ...ended, id: p.jobId, accountId, status, phase };
  return { ...job, counters, percent, error, leaseExpiresAt: null };
}

type LegacyOptions = { baseUrl: string; accountId: string; intervalMs?: number };

/** A `SyncTransport` that polls a backend's own routes (`/gmail/sync/...`) and maps them onto the job model. */
export function legacyRoutesTransport(options: LegacyOptions): SyncTransport {
  const call = async <T>(path: string, method = 'GET'): Promise<T> => {
    const response = await fetch(`${options.baseUrl}/gmail/sync${path}`, { method }).catch((cause) => {
      throw toTransportError(cause); // NETWORK, retryable
    });
    if (response.status === 404) throw new TransportError('NOT_FOUND', 'No such sync job.', { status: 404 });
    if (!response.ok) throw new TransportError('INTERNAL', `The sync server answered ${response.status}.`);
    return (await response.json()) as T;
  };
  const getJob = async (id: string, seq = 0) =>
    toJob(await call<LegacyProgress>(`/progress/${id}`), options.accountId, seq);
  const unsupported = async (): Promise<never> => {
    throw new TransportError('METHOD_NOT_ALLOWED', 'This backend cannot cancel or retry a sync.');
  };
  return {
    async start() {
      const { jobId } = await call<{ jobId: string }>('/start', 'POST'); // idempotent on the server's side
      return { job: await getJob(jobId), started: true };
    },
    cancel: unsupported,
    retry: unsupported,
    getJob: (jobId) => getJob(jobId),
    async getActive() {
      const { jobId, status } = await call<{ jobId: string | null; status: string }>('/status');
      return jobId && (status === 'pending' || status === 'running') ? getJob(jobId) : null;
    },
    listJobs: async () => [],
    subscribe(jobId, { afterSeq = 0 }, handlers) {
      let [seq, stopped, first] = [afterSeq, false, true];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const round = async () => {
        try {
          const progress = await call<LegacyProgress>(`/progress/${jobId}`); // first: no line after the end is missed
          const { logs } = await call<{ logs: LegacyLog[] }>(`/logs/${jobId}?after_seq=${seq}`);
          seq = logs.at(-1)?.seq ?? seq;
          const job = toJob(progress, options.accountId, seq);
          if (stopped) return;
          const events: SyncEvent[] = [{ type: first ? 'snapshot' : 'status', jobId, job }];
          for (const { seq, ts: at, level, text: message } of logs) {
            events.push({ type: 'log', jobId, entry: { jobId, seq, at, level, message } });
          }
          if (TERMINAL.has(job.status)) events.push({ type: job.status as 'completed', jobId, job });
          if (first) handlers.onConnectionChange?.('polling');
          first = false;
          if (handlers.onEvents) handlers.onEvents(events);
          else for (const event of events) handlers.onEvent(event);
          if (TERMINAL.has(job.status)) return handlers.onConnectionChange?.('closed'); // all activity stops
        } catch (error) {
          if (toTransportError(error).code === 'NOT_FOUND')
            return handlers.onError?.(toTransportError(error));
        }
        if (!stopped) timer = setTimeout(round, options.intervalMs ?? 1000); // a failed round is retried
      };
      handlers.onConnectionChange?.('connecting');
      void round();
      return () => {
        stopped = true;
        clearTimeout(timer);
      };
    },
  };
}
