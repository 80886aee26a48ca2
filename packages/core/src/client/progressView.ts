import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { StartResult } from '../engine/engineTypes';
import type { AccountKey, RequestedSyncMode } from '../job/job';
import { isActiveStatus } from '../job/job';
import type { AccountEntry, AccountSnapshot } from './accountEntry';
import { isJobStale, syncButtonIntent } from './jobPresentation';
import { Subscribable } from './subscribable';

/** Whether an account's progress view (the modal) is shown. The same object until it changes. */
export interface ProgressViewSnapshot {
  open: boolean;
}

/** What a sync button's press did: showed the running job, or started a sync (and showed it). */
export type StartOrShowResult = { action: 'show' } | { action: 'start'; result: StartResult | null };

/** What the progress view needs of its client. */
export interface ProgressViewClient {
  watchAccount(account: AccountKey): AccountEntry;
}

const OPEN: ProgressViewSnapshot = Object.freeze({ open: true });
const CLOSED: ProgressViewSnapshot = Object.freeze({ open: false });

/**
 * The "progress view is open" state of one account, shared by every button and modal of a client,
 * so a drop-in page needs no state of its own. The rule:
 *
 * - An active job (queued or running, not stale) that this view has not shown yet opens it: the
 *   reattach after a page load or reload, a second tab, and a job another component of the page
 *   starts or retries. Each job opens it at most once.
 * - Closing keeps it closed while that job runs; progress never reopens it. Only `show()` (the
 *   button) or a new job does.
 * - The sync button's press (`startOrShow`) shows it, and starts a sync only when none runs, so a
 *   click during a sync leads to its progress instead of being swallowed.
 *
 * Jobs are seen while the view has listeners (a mounted modal), through the account's entry.
 */
export class ProgressView extends Subscribable<ProgressViewSnapshot> {
  readonly account: AccountKey;
  private readonly client: ProgressViewClient;
  private readonly clock: Clock;
  /** Ids of the jobs this view has shown (or was open for): they never open it again. */
  private readonly shown = new Set<string>();
  private unsubscribeEntry: (() => void) | null = null;

  constructor(account: AccountKey, client: ProgressViewClient, options: { clock?: Clock } = {}) {
    super(CLOSED);
    this.account = { source: account.source, accountId: account.accountId };
    this.client = client;
    this.clock = options.clock ?? systemClock;
  }

  /** What a server render shows: closed. */
  getServerSnapshot = (): ProgressViewSnapshot => CLOSED;

  /** The first listener follows the account (and reattaches it when nothing else watches). */
  protected override onFirstSubscribe(): void {
    const entry = this.entry();
    this.unsubscribeEntry = entry.subscribe(this.onAccount);
    this.onAccount(entry.getSnapshot());
  }

  protected override onLastUnsubscribe(): void {
    this.unsubscribeEntry?.();
    this.unsubscribeEntry = null;
  }

  /** Opens the view on the account's current job. */
  show = (): void => {
    const job = this.entry().getSnapshot().job;
    if (job && isActiveStatus(job.status)) this.shown.add(job.id);
    this.setOpen(true);
  };

  /** Closes the view (the sync continues); it stays closed until `show()` or a new job. */
  hide = (): void => {
    this.setOpen(false);
  };

  /**
   * The sync button's press: shows the view, and starts a sync unless one is running (a stale job
   * does not count: the server resumes or replaces it). Never throws: a failed start lands in the
   * account's `error` and resolves `{ action: 'start', result: null }`.
   */
  startOrShow = async (options: { mode?: RequestedSyncMode } = {}): Promise<StartOrShowResult> => {
    const entry = this.entry();
    const job = entry.getSnapshot().job;
    const intent = syncButtonIntent(job, isJobStale(job, this.clock.now()));
    this.show();
    if (intent === 'show') return { action: 'show' };
    return { action: 'start', result: await entry.start(options) };
  };

  private entry(): AccountEntry {
    return this.client.watchAccount(this.account);
  }

  private onAccount = (account: AccountSnapshot) => {
    const job = account.job;
    if (!job || !isActiveStatus(job.status) || this.shown.has(job.id)) return;
    if (this.getSnapshot().open) {
      this.shown.add(job.id);
      return;
    }
    // A stale job may never move again: it opens the view only once a worker picks it up.
    if (isJobStale(job, this.clock.now())) return;
    this.shown.add(job.id);
    this.setOpen(true);
  };

  private setOpen(open: boolean) {
    this.setSnapshot(open ? OPEN : CLOSED);
  }
}
