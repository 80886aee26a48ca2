import type { Clock } from '../clock';
import type { StartInput, StartResult } from '../engine/engineTypes';
import type { AccountKey, Job } from '../job/job';
import { AccountWatcher } from './accountWatcher';
import { JobObserver } from './jobObserver';
import { ProgressView } from './progressView';
import type { ListJobsInput, SyncTransport } from './syncTransport';

export interface SyncClientOptions {
  /** How to reach the server: `sseTransport`, `pollingTransport`, `engineTransport` or your own. Required. */
  transport: SyncTransport;
  /** Log lines each job observer keeps (default 10,000). */
  maxLogs?: number;
  /** Injected time, for the progress view's "is this job stale" rule (default: the system clock). */
  clock?: Clock;
}

/**
 * The framework-agnostic client: one observer per job and one watcher per account, shared by every
 * component that asks, over one transport. Bindings (React…) only subscribe and render.
 */
export interface SyncClient {
  readonly transport: SyncTransport;
  /** The observer of a job (the same instance for the same id). */
  observe(jobId: string): JobObserver;
  /** The watcher of an account (the same instance for the same account). */
  watchAccount(account: AccountKey): AccountWatcher;
  /**
   * Whether the account's progress view is open (the same instance for the same account): shared
   * by `SyncButton` and an uncontrolled `SyncProgressModal`, it opens on reattach to a running job.
   */
  progressView(account: AccountKey): ProgressView;
  start(input: StartInput): Promise<StartResult>;
  cancel(jobId: string): Promise<Job>;
  retry(jobId: string): Promise<StartResult>;
  getJob(jobId: string): Promise<Job>;
  getActive(account: AccountKey): Promise<Job | null>;
  listJobs(query: ListJobsInput): Promise<Job[]>;
}

export function createSyncClient(options: SyncClientOptions): SyncClient {
  const { transport } = options;
  const observers = new Map<string, JobObserver>();
  const watchers = new Map<string, AccountWatcher>();
  const views = new Map<string, ProgressView>();
  const keyOf = (account: AccountKey) => JSON.stringify([account.source, account.accountId]);

  const observe = (jobId: string): JobObserver => {
    let observer = observers.get(jobId);
    if (!observer) {
      observer = new JobObserver(jobId, transport, { maxLogs: options.maxLogs });
      observers.set(jobId, observer);
    }
    return observer;
  };

  /** Every answer carrying a job updates its observer, so all views agree at once. */
  const seed = <T extends { job: Job }>(result: T): T => {
    observers.get(result.job.id)?.seed(result.job);
    return result;
  };

  const client: SyncClient = {
    transport,
    observe,
    watchAccount(account) {
      const key = keyOf(account);
      let watcher = watchers.get(key);
      if (!watcher) {
        watcher = new AccountWatcher(account, client);
        watchers.set(key, watcher);
      }
      return watcher;
    },
    progressView(account) {
      const key = keyOf(account);
      let view = views.get(key);
      if (!view) {
        view = new ProgressView(account, client, { clock: options.clock });
        views.set(key, view);
      }
      return view;
    },
    start: async (input) => seed(await transport.start(input)),
    cancel: async (jobId) => seed({ job: await transport.cancel(jobId) }).job,
    retry: async (jobId) => seed(await transport.retry(jobId)),
    getJob: async (jobId) => seed({ job: await transport.getJob(jobId) }).job,
    getActive: (account) => transport.getActive(account),
    listJobs: (query) => transport.listJobs(query),
  };
  return client;
}
