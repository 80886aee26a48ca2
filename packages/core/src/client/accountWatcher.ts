import type { StartResult } from '../engine/engineTypes';
import type { AccountKey, Job, RequestedSyncMode } from '../job/job';
import { isActiveStatus } from '../job/job';
import type { JobObserver, JobSnapshot } from './jobObserver';
import type { ConnectionState } from './syncTransport';
import type { TransportError } from './transportError';
import { toTransportError } from './transportError';

/** What an account watcher holds: the account's current job (active, else the latest) and its state. */
export interface AccountSnapshot {
  account: AccountKey;
  /** `loading` during the reattach (asking for the active job), `ready` after it. */
  status: 'idle' | 'loading' | 'ready';
  /** The active job, or the latest one when none is active, or `null` when the account never synced. */
  job: Job | null;
  /** The watched job's snapshot (logs, connection), `null` when there is no job. */
  view: JobSnapshot | null;
  logs: JobSnapshot['logs'];
  connection: ConnectionState;
  /** True while the job is queued or running. */
  isActive: boolean;
  /** The last failure of a reattach or an action (start, cancel, retry), or of the job's subscription. */
  error: TransportError | null;
}

/** What the watcher needs of its client. */
export interface AccountWatcherClient {
  observe(jobId: string): JobObserver;
  getActive(account: AccountKey): Promise<Job | null>;
  listJobs(query: { accountId: string; source?: string; limit?: number }): Promise<Job[]>;
  start(input: AccountKey & { mode?: RequestedSyncMode }): Promise<StartResult>;
  cancel(jobId: string): Promise<Job>;
  retry(jobId: string): Promise<StartResult>;
}

type Listener = (snapshot: AccountSnapshot) => void;

const EMPTY_LOGS: JobSnapshot['logs'] = Object.freeze([]);

/**
 * Watches one account: on the first listener it reattaches (asks for the active job, then
 * subscribes to it; with none active it shows the latest job), and it follows the jobs its own
 * `start`/`retry` create. This is what survives a page refresh and another device starting a sync.
 * Actions never throw: their failures land in `error` (and the promise resolves to `null`).
 */
export class AccountWatcher {
  readonly account: AccountKey;
  private readonly client: AccountWatcherClient;
  private readonly listeners = new Set<Listener>();
  private status: AccountSnapshot['status'] = 'idle';
  private error: TransportError | null = null;
  private observer: JobObserver | null = null;
  private unsubscribeObserver: (() => void) | null = null;
  private snapshot: AccountSnapshot;
  /** Bumped by every reattach and attach, so a late answer of an older one is ignored. */
  private generation = 0;

  constructor(account: AccountKey, client: AccountWatcherClient) {
    this.account = { source: account.source, accountId: account.accountId };
    this.client = client;
    this.snapshot = this.buildSnapshot();
  }

  getSnapshot = (): AccountSnapshot => this.snapshot;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    if (this.listeners.size === 1) {
      if (this.observer) this.follow(this.observer);
      void this.refresh();
    }
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.generation++;
        this.unsubscribeObserver?.();
        this.unsubscribeObserver = null;
      }
    };
  };

  /** Reattach: ask for the active job and follow it; with none, show the latest job. */
  async refresh(): Promise<void> {
    const generation = ++this.generation;
    this.status = 'loading';
    this.publish();
    try {
      let job = await this.client.getActive(this.account);
      if (!job && generation === this.generation) {
        [job = null] = await this.client.listJobs({ ...this.account, limit: 1 });
      }
      if (generation !== this.generation) return;
      this.error = null;
      this.status = 'ready';
      if (job) this.attach(job);
      else this.publish();
    } catch (cause) {
      if (generation !== this.generation) return;
      this.status = 'ready';
      this.error = toTransportError(cause);
      this.publish();
    }
  }

  /** Starts a sync of the account (or joins the one already running) and follows it. */
  start = async (options: { mode?: RequestedSyncMode } = {}): Promise<StartResult | null> =>
    this.act(async () => {
      const result = await this.client.start({ ...this.account, mode: options.mode });
      this.attach(result.job);
      return result;
    });

  /** Cancels the watched job. */
  cancel = async (): Promise<Job | null> =>
    this.act(async () => {
      const jobId = this.observer?.jobId;
      if (!jobId) return null;
      const job = await this.client.cancel(jobId);
      return job;
    });

  /** Retries the watched job (a new job resuming from the checkpoint) and follows the new one. */
  retry = async (): Promise<StartResult | null> =>
    this.act(async () => {
      const jobId = this.observer?.jobId;
      if (!jobId) return null;
      const result = await this.client.retry(jobId);
      this.attach(result.job);
      return result;
    });

  private async act<T>(operation: () => Promise<T | null>): Promise<T | null> {
    try {
      const result = await operation();
      if (this.error) {
        this.error = null;
        this.publish();
      }
      return result;
    } catch (cause) {
      this.error = toTransportError(cause);
      this.publish();
      return null;
    }
  }

  private attach(job: Job) {
    this.generation++;
    const observer = this.client.observe(job.id);
    observer.seed(job);
    this.status = 'ready';
    if (observer !== this.observer || !this.unsubscribeObserver) {
      this.unsubscribeObserver?.();
      this.unsubscribeObserver = null;
      this.observer = observer;
      if (this.listeners.size > 0) this.follow(observer);
    }
    this.publish();
  }

  private follow(observer: JobObserver) {
    this.unsubscribeObserver?.();
    this.unsubscribeObserver = observer.subscribe(() => this.publish());
  }

  private buildSnapshot(): AccountSnapshot {
    const view = this.observer?.getSnapshot() ?? null;
    const job = view?.job ?? null;
    return {
      account: this.account,
      status: this.status,
      job,
      view,
      logs: view?.logs ?? EMPTY_LOGS,
      connection: view?.connection ?? 'idle',
      isActive: job !== null && isActiveStatus(job.status),
      error: this.error ?? view?.error ?? null,
    };
  }

  private publish() {
    const next = this.buildSnapshot();
    const previous = this.snapshot;
    if (next.status === previous.status && next.view === previous.view && next.error === previous.error) {
      return;
    }
    this.snapshot = next;
    for (const listener of [...this.listeners]) listener(next);
  }
}
