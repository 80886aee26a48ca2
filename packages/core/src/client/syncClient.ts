import type { Clock } from '../clock';
import type { StartInput, StartResult } from '../engine/engineTypes';
import type { AccountKey, Job } from '../job/job';
import { AccountEntry } from './accountEntry';
import { JobEntry } from './jobEntry';
import { ProgressView } from './progressView';
import type { ListJobsInput, SyncTransport } from './syncTransport';

export interface SyncClientOptions {
  /** How to reach the server: `sseTransport`, `pollingTransport`, `engineTransport` or your own. Required. */
  transport: SyncTransport;
  /** Log lines each job entry keeps (default 10,000). */
  maxLogs?: number;
  /** Injected time, for the progress view's "is this job stale" rule (default: the system clock). */
  clock?: Clock;
}

/**
 * The framework-agnostic client: one entry per job and one per account, shared by every component
 * that asks, over one transport. Each view binds its own `SyncJobObserver` to them; bindings
 * (React…) only subscribe and render.
 */
export interface SyncClient {
  readonly transport: SyncTransport;
  /** The shared entry of a job (the same instance for the same id). */
  observe(jobId: string): JobEntry;
  /** The shared entry of an account (the same instance for the same account). */
  watchAccount(account: AccountKey): AccountEntry;
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
  const jobs = new Map<string, JobEntry>();
  const accounts = new Map<string, AccountEntry>();
  const views = new Map<string, ProgressView>();
  const keyOf = (account: AccountKey) => JSON.stringify([account.source, account.accountId]);

  const observe = (jobId: string): JobEntry => {
    let entry = jobs.get(jobId);
    if (!entry) {
      entry = new JobEntry(jobId, transport, { maxLogs: options.maxLogs });
      jobs.set(jobId, entry);
    }
    return entry;
  };

  /** Every answer carrying a job updates its entry, so all views agree at once. */
  const seed = <T extends { job: Job }>(result: T): T => {
    jobs.get(result.job.id)?.seed(result.job);
    return result;
  };

  const client: SyncClient = {
    transport,
    observe,
    watchAccount(account) {
      const key = keyOf(account);
      let entry = accounts.get(key);
      if (!entry) {
        entry = new AccountEntry(account, client);
        accounts.set(key, entry);
      }
      return entry;
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
