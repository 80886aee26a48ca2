import type { StartResult } from '../engine/engineTypes';
import type { AccountKey, Job, RequestedSyncMode } from '../job/job';
import { isActiveStatus } from '../job/job';
import type { JobEntry, JobSnapshot } from './jobEntry';
import { Subscribable } from './subscribable';
import type { ConnectionState } from './syncTransport';
import type { TransportError } from './transportError';
import { toTransportError } from './transportError';

/** What an account entry holds: the account's current job (active, else the latest) and its state. */
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

/** What the account entry needs of its client. */
export interface AccountEntryClient {
  observe(jobId: string): JobEntry;
  getActive(account: AccountKey): Promise<Job | null>;
  listJobs(query: { accountId: string; source?: string; limit?: number }): Promise<Job[]>;
  start(input: AccountKey & { mode?: RequestedSyncMode }): Promise<StartResult>;
  cancel(jobId: string): Promise<Job>;
  retry(jobId: string): Promise<StartResult>;
}

const EMPTY_LOGS: JobSnapshot['logs'] = Object.freeze([]);

/**
 * The client's one entry for an account, shared by every view of it (`client.watchAccount(account)`):
 * on the first listener it reattaches (asks for the active job, then
 * subscribes to it; with none active it shows the latest job), and it follows the jobs its own
 * `start`/`retry` create. This is what survives a page refresh and another device starting a sync.
 * Actions never throw: their failures land in `error` (and the promise resolves to `null`).
 */
export class AccountEntry extends Subscribable<AccountSnapshot> {
  readonly account: AccountKey;
  private readonly client: AccountEntryClient;
  private status: AccountSnapshot['status'] = 'idle';
  private error: TransportError | null = null;
  private entry: JobEntry | null = null;
  private unsubscribeEntry: (() => void) | null = null;
  /** Bumped by every reattach and attach, so a late answer of an older one is ignored. */
  private generation = 0;

  constructor(account: AccountKey, client: AccountEntryClient) {
    const key = { source: account.source, accountId: account.accountId };
    super(buildSnapshot(key, 'idle', null, null));
    this.account = key;
    this.client = client;
  }

  protected override onFirstSubscribe(): void {
    if (this.entry) this.follow(this.entry);
    void this.refresh();
  }

  protected override onLastUnsubscribe(): void {
    this.generation++;
    this.unsubscribeEntry?.();
    this.unsubscribeEntry = null;
  }

  /** Only a new status, job view or error is news. */
  protected override isSameSnapshot(previous: AccountSnapshot, next: AccountSnapshot): boolean {
    return next.status === previous.status && next.view === previous.view && next.error === previous.error;
  }

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
      const jobId = this.entry?.jobId;
      if (!jobId) return null;
      const job = await this.client.cancel(jobId);
      return job;
    });

  /** Retries the watched job (a new job resuming from the checkpoint) and follows the new one. */
  retry = async (): Promise<StartResult | null> =>
    this.act(async () => {
      const jobId = this.entry?.jobId;
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
    const entry = this.client.observe(job.id);
    entry.seed(job);
    this.status = 'ready';
    if (entry !== this.entry || !this.unsubscribeEntry) {
      this.unsubscribeEntry?.();
      this.unsubscribeEntry = null;
      this.entry = entry;
      if (this.hasListeners) this.follow(entry);
    }
    this.publish();
  }

  private follow(entry: JobEntry) {
    this.unsubscribeEntry?.();
    this.unsubscribeEntry = entry.subscribe(() => this.publish());
  }

  private publish() {
    this.setSnapshot(buildSnapshot(this.account, this.status, this.error, this.entry));
  }
}

function buildSnapshot(
  account: AccountKey,
  status: AccountSnapshot['status'],
  error: TransportError | null,
  entry: JobEntry | null,
): AccountSnapshot {
  const view = entry?.getSnapshot() ?? null;
  const job = view?.job ?? null;
  return {
    account,
    status,
    job,
    view,
    logs: view?.logs ?? EMPTY_LOGS,
    connection: view?.connection ?? 'idle',
    isActive: job !== null && isActiveStatus(job.status),
    error: error ?? view?.error ?? null,
  };
}

/** @deprecated Renamed `AccountEntry` (the client's shared entry for an account); this alias goes in the next minor release. */
export const AccountWatcher = AccountEntry;
/** @deprecated Renamed `AccountEntry`. */
export type AccountWatcher = AccountEntry;
/** @deprecated Renamed `AccountEntryClient`. */
export type AccountWatcherClient = AccountEntryClient;
