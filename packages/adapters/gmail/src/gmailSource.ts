import type {
  CounterIncrements,
  LabelChange,
  LogInput,
  MailMessage,
  SourceBatch,
  SourceContext,
  StagedItem,
  SyncSource,
} from '@syncjob/core';
import { newId, processedCount, SyncError } from '@syncjob/core';
import { type Fetched, type FetchedBatch, FetchPipeline, type FetchState, fetchState } from './fetchPipeline';
import { planCost, planFetches, threadThreshold } from './fetchPlanner';
import { GmailApi, type GmailApiOptions, type GmailTransport } from './gmailApi';
import { authKeyOf, type GmailAuthOption, GmailAuthSession, resolveAuth } from './gmailAuth';
import { type GmailPushOptions, type GmailWatch, GmailWatches, type GmailWatchRenewal } from './gmailWatches';
import { ListedWindow } from './listedWindow';
import { QuotaLimiter } from './quotaLimiter';
import { type GmailQuotaProfile, type GmailQuotaSetting, resolveQuotaProfile } from './quotaProfiles';
import { stagedBatches } from './stagedBatches';
import type { GmailMessageFormat } from './toMailMessage';

/** What `classify` decides for a message: a category to store it under, or to skip storing it. */
export type ClassifyResult = { category: string } | { skip: true };

export interface GmailSourceOptions {
  /**
   * The account's credentials, or a function of the job's `accountId` returning them (called on every
   * run, so each user's refresh token can come from the app's database). Required.
   */
  auth: GmailAuthOption;
  /** Root of the Gmail REST API, with a trailing slash (default `https://gmail.googleapis.com/`); point it at the emulator in development. */
  rootUrl?: string;
  /** Cost profile: `legacy` (15,000 units/min), `2026` (6,000 units/min, dearer fetches) or custom costs (default `legacy`). */
  quota?: GmailQuotaSetting;
  /** Time compression of the quota window, to match an emulator running at speed N (default 1: Google's real minute). */
  quotaSpeed?: number;
  /** Share of the per-user budget the limiter plans to spend (default 0.98). */
  quotaHeadroom?: number;
  /**
   * Slices of the quota window the budget is paced over (default 20: at most 3 s worth of units at
   * once against Google). Keeps progress steady instead of a window's budget in one burst followed by
   * a long stall; `1` leaves only the moving window. See `QuotaLimiterOptions.pacingSlices`.
   */
  quotaPacingSlices?: number;
  /** Gmail calls in flight at most, batch parts counting one each (default 50). */
  maxInFlight?: number;
  /** Message format fetched (default `metadata`). `raw` disables whole-thread fetches, which `threads.get` cannot return raw. */
  format?: GmailMessageFormat;
  /** Headers stored with each message (default From, To, Cc, Subject, Date, Message-ID). */
  metadataHeaders?: string[];
  /** Sync spam and trash too, so the store mirrors the whole mailbox and the profile's total (default true). */
  includeSpamTrash?: boolean;
  /** Messages fetched and committed per batch (default 100). A crash re-fetches at most one batch. */
  batchSize?: number;
  /** HTTP requests in flight at once (default 4). */
  concurrency?: number;
  /** Fetch through the batch endpoint (`batch`, default: measured faster) or one request per call (`single`). */
  transport?: GmailTransport;
  /** Inner calls per batch request (default 50, at most 100). */
  partsPerRequest?: number;
  /** Fetch threads whole when that costs fewer units than their listed messages one by one (default true). */
  threads?: boolean;
  /** Ids per `messages.list` page (default 500, Gmail's maximum). */
  pageSize?: number;
  /** Abort a request that has not answered after this many ms (default 60,000). */
  requestTimeoutMs?: number;
  /** Classifies each fetched message: a category is stored with it, `skip` leaves it out (default none). */
  classify?: (message: MailMessage) => ClassifyResult | Promise<ClassifyResult>;
  /**
   * The address the account must have, `null` for no check. Default: the `accountId` when it contains
   * an `@`, else no check. A different profile address fails the job with `ACCOUNT_MISMATCH`.
   */
  expectedEmail?: (accountId: string) => string | null | undefined | Promise<string | null | undefined>;
  /**
   * Push notifications: the Pub/Sub topic (and optional label filter) `users.watch` points Gmail at.
   * Enables `watch`, `renewWatches` and `stopWatch`. Default none.
   */
  push?: GmailPushOptions;
}

/**
 * The Gmail source's resume state. `generation` (full sync) stamps every message the full sync
 * stores; its last batch removes the stored messages without it, i.e. those gone from the mailbox.
 * It is chosen once and kept in the checkpoint, so a resumed full sync keeps stamping the same one.
 * Absent from checkpoints written before it existed: such a sync finishes without the removal.
 */
export type GmailCheckpoint =
  /** Full sync: the profile's historyId is captured; labels come next. */
  | { stage: 'labels'; historyId: string; generation?: string }
  /**
   * Full sync: listing, `pageToken` is the next page (`null` for the first), and fetching what is
   * listed as it goes: the staged ids are listed and not fetched yet, `batch` batches are done.
   */
  | {
      stage: 'listing';
      historyId: string;
      pageToken: string | null;
      page: number;
      /** Absent from checkpoints written before fetching began during the listing. */
      batch?: number;
      generation?: string;
    }
  /** Full sync: the listing ended, fetching the staged ids; `batch` batches are done. */
  | { stage: 'fetching'; historyId: string; batch: number; generation?: string }
  /** Incremental: reading history from `startHistoryId`. */
  | { stage: 'history'; startHistoryId: string; pageToken: string | null; page: number }
  /** Incremental: fetching the added messages; `historyId` becomes the cursor. */
  | { stage: 'applying'; historyId: string; batch: number };

export interface GmailSource extends SyncSource<GmailCheckpoint> {
  /** The cost profile in use. */
  readonly quotaProfile: GmailQuotaProfile;
  /** The account's limiter (one per account, shared by its runs), for metrics and tests. */
  limiterFor(accountId: string): QuotaLimiter;
  /**
   * Sets (or replaces) the account's Gmail watch (`users.watch`, 100 units) with the `push` options,
   * and records it. Call it when an account is connected. The `historyId` Gmail answers is recorded
   * but never becomes the sync cursor: an account without a cursor needs its full sync anyway, and
   * one with a cursor must continue from it, or changes made since its last sync would be skipped.
   */
  watch(accountId: string): Promise<GmailWatch>;
  /**
   * Renews the watches of `accountIds` that expire within `push.renewWithinMs` (default 24 h), are
   * not recorded, or were set with other push options. Call it at least daily with the connected
   * accounts (not every account state in the store: those outlive a disconnection).
   */
  renewWatches(accountIds: Iterable<string>): Promise<GmailWatchRenewal>;
  /** Ends the account's watch (`users.stop`) and forgets it. Call it when the account is disconnected. */
  stopWatch(accountId: string): Promise<{ stopped: boolean }>;
  /** The account's recorded watch, or `null`. */
  watchOf(accountId: string): Promise<GmailWatch | null>;
}

const DEFAULT_HEADERS = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID'];
const GOOGLE_ROOT_URL = 'https://gmail.googleapis.com/';
/**
 * A quota back-off at least this long is reported as the job's wait (`ctx.reportWait`); shorter ones
 * are the ordinary pace of a sync near its quota and only pause the ETA.
 */
const REPORTED_WAIT_MS = 5_000;
/**
 * Ids a full sync lists beyond the batch it fetches: a thread's older messages are listed after its
 * newest, and those listed within this reach join their thread's batch (one `threads.get` for 3+).
 * On the emulator's mailbox, 500 already keeps the units per message of listing everything first.
 */
const LIST_AHEAD = 1_000;
/** Staged ids a resumed listing takes back into its window; a larger stage is fetched first. */
const RESUME_WINDOW_MAX = 10_000;

const fmt = (n: number) => n.toLocaleString('en-US');

/** A Gmail source for the engine: full and incremental syncs near the per-user quota ceiling. */
export function gmailSource(options: GmailSourceOptions): GmailSource {
  if (!options?.auth) throw new SyncError('INVALID_INPUT', 'gmailSource needs an `auth` option.');
  const profile = resolveQuotaProfile(options.quota);
  const speed = options.quotaSpeed ?? 1;
  if (!(speed > 0)) throw new SyncError('INVALID_INPUT', 'quotaSpeed must be a positive number.');
  const rootUrl = withSlash(options.rootUrl ?? GOOGLE_ROOT_URL);
  const format = options.format ?? 'metadata';
  const metadataHeaders = options.metadataHeaders ?? DEFAULT_HEADERS;
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 100));
  const pageSize = Math.min(500, Math.max(1, Math.floor(options.pageSize ?? 500)));
  const planOptions = {
    messageCost: profile.costs['users.messages.get'],
    threadCost: profile.costs['users.threads.get'],
    threads: (options.threads ?? true) && format !== 'raw',
  };
  const expectedEmail =
    options.expectedEmail ?? ((accountId: string) => (accountId.includes('@') ? accountId : null));

  const limiters = new Map<string, QuotaLimiter>();
  const sessions = new Map<string, { key: unknown; session: GmailAuthSession }>();

  const limiterFor = (accountId: string): QuotaLimiter => {
    let limiter = limiters.get(accountId);
    if (!limiter) {
      limiter = new QuotaLimiter({
        unitsPerWindow: profile.unitsPerUserPerMinute,
        windowMs: 60_000 / speed,
        ...(options.quotaHeadroom !== undefined ? { headroom: options.quotaHeadroom } : {}),
        ...(options.maxInFlight !== undefined ? { maxInFlight: options.maxInFlight } : {}),
        ...(options.quotaPacingSlices !== undefined ? { pacingSlices: options.quotaPacingSlices } : {}),
      });
      limiters.set(accountId, limiter);
    }
    return limiter;
  };

  const sessionFor = async (accountId: string): Promise<GmailAuthSession> => {
    const auth = await resolveAuth(options.auth, accountId);
    const key = authKeyOf(auth);
    const known = sessions.get(accountId);
    if (known && known.key === key) return known.session;
    const session = GmailAuthSession.from(auth);
    sessions.set(accountId, { key, session });
    return session;
  };

  /** The account's Gmail calls: its session and limiter, shared by its runs and its watch calls. */
  const apiFor = async (
    accountId: string,
    run: Pick<GmailApiOptions, 'signal' | 'onBackoff' | 'onUnits' | 'projectQuota'>,
  ): Promise<GmailApi> =>
    new GmailApi({
      rootUrl,
      session: await sessionFor(accountId),
      limiter: limiterFor(accountId),
      profile,
      format,
      metadataHeaders,
      includeSpamTrash: options.includeSpamTrash ?? true,
      transport: options.transport ?? 'batch',
      partsPerRequest: options.partsPerRequest ?? 50,
      concurrency: options.concurrency ?? 4,
      requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
      ...run,
    });

  const watches = options.push
    ? new GmailWatches(options.push, (accountId) =>
        apiFor(accountId, { signal: new AbortController().signal }),
      )
    : undefined;
  const watchesOrThrow = (): GmailWatches => {
    if (watches) return watches;
    throw new SyncError(
      'INVALID_INPUT',
      'This Gmail source has no `push` option: give gmailSource({ push: { topicName } }) to manage watches.',
    );
  };

  async function* run(ctx: SourceContext<GmailCheckpoint>): AsyncGenerator<SourceBatch<GmailCheckpoint>> {
    const { accountId } = ctx.account;
    const limiter = limiterFor(accountId);
    const api = await apiFor(accountId, {
      signal: ctx.signal,
      onBackoff: (ms, reason) => {
        ctx.reportBackoff(ms);
        // A wait long enough to notice is told on the job, so the UI says why nothing moves.
        if (ms >= REPORTED_WAIT_MS) {
          const waitFor = reason === 'dailyLimitExceeded' ? 'project-daily-quota' : 'user-quota';
          ctx.reportWait?.({ for: waitFor, until: new Date(ctx.clock.now() + ms) });
        }
      },
      onUnits: (units) => ctx.reportQuotaUnits?.(units),
      projectQuota: ctx.projectQuota,
    });
    const sync = new SyncRun(ctx, api, limiter);
    const checkpoint = ctx.checkpoint;
    const incremental =
      ctx.mode === 'incremental' &&
      (checkpoint ? checkpoint.stage === 'history' || checkpoint.stage === 'applying' : ctx.cursor !== null);
    if (!incremental) {
      yield* sync.full(isFullCheckpoint(checkpoint) ? checkpoint : null);
      return;
    }
    try {
      yield* sync.incremental(checkpoint);
    } catch (error) {
      if (SyncError.fromUnknown(error).code !== 'CURSOR_EXPIRED') throw error;
      yield {
        mode: 'full',
        phase: 'labels',
        total: null,
        stage: { clear: true },
        // '0' means "not captured yet": the full sync takes the profile's historyId, also on a resume.
        checkpoint: { stage: 'labels', historyId: '0' },
        logs: [
          {
            level: 'warn',
            message:
              'Gmail no longer keeps the history since the last sync (404): running a full sync instead, so no change is missed.',
            data: { cursor: ctx.cursor },
          },
        ],
      };
      yield* sync.full(null);
    }
  }

  /** The steps of one run. */
  class SyncRun {
    readonly #ctx: SourceContext<GmailCheckpoint>;
    readonly #api: GmailApi;
    readonly #limiter: QuotaLimiter;
    /** Work this run made durable, for the incremental total. */
    #processed = 0;

    constructor(ctx: SourceContext<GmailCheckpoint>, api: GmailApi, limiter: QuotaLimiter) {
      this.#ctx = ctx;
      this.#api = api;
      this.#limiter = limiter;
    }

    async #profile() {
      const ctx = this.#ctx;
      const found = await ctx.retry(() => this.#api.getProfile(), { label: 'users.getProfile' });
      const expected = await expectedEmail(ctx.account.accountId);
      if (expected && expected.trim().toLowerCase() !== found.emailAddress.trim().toLowerCase()) {
        throw new SyncError(
          'ACCOUNT_MISMATCH',
          `The Gmail credentials belong to ${found.emailAddress}, not to ${expected}. Ask the user to sign in with the right Google account.`,
          { retryable: false, details: { expected, actual: found.emailAddress } },
        );
      }
      return found;
    }

    async #labelsWrite() {
      const labels = await this.#ctx.retry(() => this.#api.listLabels(), { label: 'users.labels.list' });
      return { labels, write: { upsertLabels: labels, keepOnlyLabels: labels.map((label) => label.id) } };
    }

    async *full(resume: GmailCheckpoint | null): AsyncGenerator<SourceBatch<GmailCheckpoint>> {
      const ctx = this.#ctx;
      // The address is checked on every run: credentials can change between a crash and its resume.
      const profile = await this.#profile();
      let checkpoint: GmailCheckpoint | null = resume;
      // Nothing is stamped before fetching, so until then a checkpoint without a generation (written
      // by an older version, which fetched only once the listing ended) can still get one; once
      // fetching, it would prune what it already stored.
      const generation =
        isFullCheckpoint(resume) && (resume.generation !== undefined || resume.stage === 'fetching')
          ? resume.generation
          : newId();
      const stamp = generation === undefined ? {} : { generation };
      if (!checkpoint || checkpoint.stage === 'labels') {
        const historyId =
          checkpoint && checkpoint.historyId !== '0' ? checkpoint.historyId : profile.historyId;
        checkpoint = { stage: 'labels', historyId, ...stamp };
        yield {
          phase: 'labels',
          total: profile.messagesTotal,
          stage: { clear: true },
          checkpoint,
          logs: [
            {
              level: 'info',
              message: `Full sync of ${profile.emailAddress}: about ${fmt(profile.messagesTotal ?? 0)} messages (history id ${historyId} captured before listing; quota ${profileText(this.#limiter)})`,
              data: { total: profile.messagesTotal, historyId },
            },
          ],
        };
        const { labels, write } = await this.#labelsWrite();
        checkpoint = { stage: 'listing', historyId, pageToken: null, page: 0, ...stamp };
        yield {
          phase: 'listing',
          write,
          checkpoint,
          logs: [
            {
              level: 'info',
              message: `Stored ${labels.length} labels; listing message ids, ${pageSize} a page`,
            },
          ],
        };
      }
      if (!isFullCheckpoint(checkpoint)) throw new Error(`Unexpected full-sync stage ${checkpoint.stage}`);
      const historyId = checkpoint.historyId;
      let batch: number;
      if (checkpoint.stage === 'listing') {
        batch = yield* this.#listAndFetch(checkpoint, resume?.stage === 'listing', generation);
      } else {
        // Resumed after the listing ended: what is staged is all that is left to fetch.
        const staged = await ctx.staged.count();
        yield {
          phase: 'fetching',
          checkpoint,
          currentItem: null,
          logs: [{ level: 'info', message: fetchPlanText(staged) }],
        };
        batch = yield* this.#fetchStaged(
          checkpoint.batch,
          (done) => ({ stage: 'fetching', historyId, batch: done, ...stamp }),
          generation,
        );
      }
      yield {
        phase: 'finalizing',
        checkpoint: { stage: 'fetching', historyId, batch, ...stamp },
        cursor: historyId,
        currentItem: null,
        // Every message this sync stored carries its generation: any other stored message was not
        // listed, so it left the mailbox (e.g. deleted while the history was unavailable).
        ...(generation === undefined ? {} : { write: { pruneMessages: { keepGeneration: generation } } }),
        logs: [
          generation === undefined
            ? {
                level: 'warn',
                message:
                  'This full sync resumed from a checkpoint of an older version: stored messages deleted from the mailbox meanwhile stay until the next full sync.',
              }
            : {
                level: 'info',
                message: 'Removing the stored messages this full sync did not find in the mailbox',
                data: { generation },
              },
        ],
      };
    }

    async *incremental(resume: GmailCheckpoint | null): AsyncGenerator<SourceBatch<GmailCheckpoint>> {
      const ctx = this.#ctx;
      let checkpoint: GmailCheckpoint;
      let resumedProcessed = 0;
      if (resume && (resume.stage === 'history' || resume.stage === 'applying')) {
        checkpoint = resume;
        resumedProcessed = processedCount(ctx.job.counters);
        await this.#profile();
      } else {
        await this.#profile();
        const start = ctx.cursor!;
        checkpoint = { stage: 'history', startHistoryId: start, pageToken: null, page: 0 };
        const { labels, write } = await this.#labelsWrite();
        yield {
          phase: 'listing',
          total: null,
          stage: { clear: true },
          write,
          checkpoint,
          logs: [
            {
              level: 'info',
              message: `Incremental sync from history id ${start} (${labels.length} labels refreshed)`,
              data: { startHistoryId: start },
            },
          ],
        };
      }
      if (checkpoint.stage === 'history') {
        const { startHistoryId } = checkpoint;
        let { pageToken, page } = checkpoint;
        let cursor = startHistoryId;
        do {
          const label = `history.list page ${page + 1}`;
          const result = await ctx.retry(
            () => this.#api.listHistory(startHistoryId, pageToken ?? undefined, pageSize),
            { label },
          );
          page += 1;
          pageToken = result.nextPageToken ?? null;
          if (result.historyId) cursor = result.historyId;
          const changes = historyChanges(result.history);
          checkpoint = pageToken
            ? { stage: 'history', startHistoryId, pageToken, page }
            : { stage: 'applying', historyId: cursor, batch: 0 };
          const counts: CounterIncrements = { listed: changes.added.length, deleted: changes.deleted.length };
          this.#processed += changes.deleted.length;
          yield {
            phase: 'listing',
            write: { deleteMessages: changes.deleted, changeLabels: changes.labels },
            stage: { add: changes.added, remove: changes.deleted },
            counts,
            currentItem: `history page ${page}`,
            checkpoint,
            logs: [
              {
                level: 'info',
                message: `History page ${page}: ${changes.added.length} added, ${changes.deleted.length} deleted, ${changes.labels.length} label changes`,
                data: {
                  page,
                  added: changes.added.length,
                  deleted: changes.deleted.length,
                  labelChanges: changes.labels.length,
                },
              },
            ],
          };
        } while (pageToken);
      }
      if (checkpoint.stage !== 'applying')
        throw new Error(`Unexpected incremental stage ${checkpoint.stage}`);
      const { historyId } = checkpoint;
      const pending = await ctx.staged.count();
      yield {
        phase: 'fetching',
        total: resumedProcessed + this.#processed + pending,
        checkpoint,
        currentItem: null,
        logs: [{ level: 'info', message: fetchPlanText(pending) }],
      };
      const firstBatch = checkpoint.batch;
      yield* this.#fetchStaged(firstBatch, (batch) => ({ stage: 'applying', historyId, batch }));
      yield {
        phase: 'finalizing',
        checkpoint: { stage: 'applying', historyId, batch: firstBatch },
        cursor: historyId,
        currentItem: null,
      };
    }

    /**
     * Lists and fetches together, so the newest mail is stored within seconds on a mailbox of any
     * size: each listed page is staged as it comes, and batches are fetched from the front of the
     * list (newest first) once `LIST_AHEAD` more ids are listed behind them, for their threads' older
     * messages to join them. The next page is listed while a batch is fetched. Each commit's checkpoint
     * names the next page to list, and the staged list holds what is listed and not fetched (with
     * the ids of calls waiting for a retry, `FetchPipeline`), so a crash loses at most the batch in
     * flight. A resume takes what the crashed run had staged back into the window, then lists on.
     * Once the listing ends and the window is empty, the calls still waiting are drained before the
     * sync finalizes. Returns the number of batches done.
     */
    async *#listAndFetch(
      start: Extract<GmailCheckpoint, { stage: 'listing' }>,
      resumed: boolean,
      generation: string | undefined,
    ): AsyncGenerator<SourceBatch<GmailCheckpoint>, number> {
      const ctx = this.#ctx;
      const { historyId } = start;
      const stamp = generation === undefined ? {} : { generation };
      let { pageToken, page } = start;
      let batch = start.batch ?? 0;
      let listed = false;
      const at = (done: number): GmailCheckpoint =>
        listed
          ? { stage: 'fetching', historyId, batch: done, ...stamp }
          : { stage: 'listing', historyId, pageToken, page, batch: done, ...stamp };
      const window = new ListedWindow();
      const pipeline = this.#pipeline(generation);
      try {
        if (resumed) {
          // What the crashed run listed and did not fetch leads the window (calls that were waiting
          // for a retry left their ids staged, so they are among them), so the threads it holds
          // are still fetched whole with their messages listed from here on. A checkpoint of an older
          // version may have staged far more (its whole listing so far): that is fetched first.
          if ((await ctx.staged.count()) > RESUME_WINDOW_MAX) {
            batch = yield* this.#fetchStaged(batch, at, generation);
          } else {
            let after: StagedItem | undefined;
            while (true) {
              const items = await ctx.staged.list(after ? { after, limit: 2_000 } : { limit: 2_000 });
              window.add(items);
              if (items.length < 2_000) break;
              after = items[items.length - 1];
            }
          }
        }
        // Their listing order is lost: none is taken before `LIST_AHEAD` more are listed behind them all.
        const unordered = window.size;
        let listedHere = 0;
        const ahead = () => LIST_AHEAD + batchSize + (listedHere < LIST_AHEAD ? unordered : 0);
        let call: { result: Promise<ListedPage>; settled: boolean } | null = null;
        // A resumed run that had fetched already stays in its fetching phase.
        let fetching = batch > 0;
        while (true) {
          ctx.signal.throwIfAborted();
          // Ask for the next page a page before its ids are needed, so it arrives during a fetch.
          if (!call && !listed && window.size < ahead() + pageSize) {
            call = this.#listPage(pageToken, page + 1);
          }
          if (call && (call.settled || window.size < ahead())) {
            const result = await call.result;
            call = null;
            page += 1;
            pageToken = result.nextPageToken ?? null;
            listed = pageToken === null;
            const items = result.messages.map((m) => ({ id: m.id, group: m.threadId }));
            window.add(items);
            listedHere += items.length;
            yield {
              // Until the first batch is fetched the job is listing; after, the pages come in its shadow.
              ...(fetching ? {} : { phase: 'listing' as const, currentItem: `page ${page}` }),
              stage: { add: items },
              counts: { listed: items.length },
              checkpoint: at(batch),
              logs: [
                {
                  level: 'info',
                  message: `Listed page ${page}: ${fmt(items.length)} ids${listed ? ' (last page)' : ''}`,
                  data: { page, ids: items.length },
                },
              ],
            };
            continue;
          }
          // Nothing left to take: the listing ended (a page still coming was awaited above). Calls
          // still waiting for a retry are committed before the sync finalizes (and prunes).
          if (window.size === 0) return yield* pipeline.drain(batch, at);
          if (!fetching) {
            fetching = true;
            yield {
              phase: 'fetching',
              checkpoint: at(batch),
              currentItem: null,
              logs: [{ level: 'info', message: fetchPlanText(null) }],
            };
          }
          const items = window.take(batchSize);
          batch += 1;
          yield await pipeline.fetch(items, batch, at(batch));
        }
      } finally {
        pipeline.abandon();
      }
    }

    /** Lists one page of ids with the engine's retries; `settled` tells whether it has answered. */
    #listPage(pageToken: string | null, page: number): { result: Promise<ListedPage>; settled: boolean } {
      const call = {
        result: this.#ctx.retry(() => this.#api.listMessages(pageToken ?? undefined, pageSize), {
          label: `messages.list page ${page}`,
        }),
        settled: false,
      };
      // Also marks a failure as handled until the loop awaits it (or is stopped before it does).
      call.result.then(
        () => {
          call.settled = true;
        },
        () => {
          call.settled = true;
        },
      );
      return call;
    }

    /**
     * Fetches the staged ids batch by batch; each batch stores its messages and unstages their ids
     * together, and calls that failed are sent again while later batches go on (`FetchPipeline`).
     * A full sync passes its `generation` to stamp the stored messages with.
     * Returns the number of batches done.
     */
    async *#fetchStaged(
      done: number,
      checkpointOf: (batch: number) => GmailCheckpoint,
      generation?: string,
    ): AsyncGenerator<SourceBatch<GmailCheckpoint>, number> {
      const ctx = this.#ctx;
      const pipeline = this.#pipeline(generation);
      let batchNumber = done;
      try {
        for await (const items of stagedBatches(ctx.staged, batchSize)) {
          ctx.signal.throwIfAborted();
          batchNumber += 1;
          yield await pipeline.fetch(items, batchNumber, checkpointOf(batchNumber));
        }
        return yield* pipeline.drain(batchNumber, checkpointOf);
      } finally {
        pipeline.abandon();
      }
    }

    /** The fetch pipeline of one path of this run: at most `batchSize` failed calls wait at once. */
    #pipeline(generation: string | undefined): FetchPipeline<GmailCheckpoint> {
      return new FetchPipeline(
        this.#ctx,
        {
          fetch: (items, batchNumber) => this.#fetchItems(items, batchNumber),
          send: (state) => this.#sendRounds(state),
          commit: (fetched, batchNumber, checkpoint) =>
            this.#commitOf(fetched, batchNumber, checkpoint, generation),
        },
        batchSize,
      );
    }

    /** One batch for the engine: the messages fetched (classified), and the ids they settle unstaged. */
    async #commitOf(
      fetched: FetchedBatch,
      batchNumber: number,
      checkpoint: GmailCheckpoint,
      generation: string | undefined,
    ): Promise<SourceBatch<GmailCheckpoint>> {
      const { messages, gone, retriedCalls, callsToRetry } = fetched;
      const upserts: MailMessage[] = [];
      const categoryCounts: Record<string, number> = {};
      let classified = 0;
      let skipped = 0;
      for (const message of messages) {
        if (options.classify) {
          const verdict = await options.classify(message);
          if ('skip' in verdict && verdict.skip) {
            skipped += 1;
            continue;
          }
          if ('category' in verdict) {
            message.category = verdict.category;
            classified += 1;
            categoryCounts[verdict.category] = (categoryCounts[verdict.category] ?? 0) + 1;
          }
        }
        upserts.push(message);
      }
      const counts: CounterIncrements = {
        fetched: messages.length,
        stored: upserts.length,
        deleted: gone.length,
        ...(options.classify ? { classified, skipped } : {}),
      };
      this.#processed += upserts.length + skipped + gone.length;
      const { requests, calls, units } = fetched;
      const logs: LogInput[] = [
        {
          level: 'info',
          message: `Batch ${batchNumber}: ${fmt(messages.length)} messages in ${fetched.plannedCalls} calls (${fetched.threads} whole threads, ${units} units)${retriedCalls ? `, ${retriedCalls} retried calls of earlier batches included` : ''}${callsToRetry ? `, ${callsToRetry} calls to retry later` : ''}${gone.length ? `, ${gone.length} deleted since listing` : ''}`,
          data: {
            batch: batchNumber,
            messages: messages.length,
            calls,
            requests,
            units,
            threads: fetched.threads,
            deleted: gone.length,
            ...(retriedCalls ? { retriedCalls } : {}),
            ...(callsToRetry ? { callsToRetry } : {}),
          },
        },
      ];
      if (gone.length > 0) {
        logs.push({
          level: 'info',
          message: `Batch ${batchNumber}: ${gone.length} listed messages were deleted before they could be fetched`,
          data: { batch: batchNumber, deleted: gone.length },
        });
      }
      return {
        phase: 'fetching',
        write: { upsertMessages: upserts, ...(generation === undefined ? {} : { generation }) },
        stage: { remove: fetched.ids },
        counts,
        ...(Object.keys(categoryCounts).length ? { categoryCounts } : {}),
        currentItem: `batch ${batchNumber}`,
        checkpoint,
        logs,
      };
    }

    /**
     * Fetches one batch with the planner's calls: one round sends them all (a 401 gets one token
     * refresh and its calls sent again at once). Calls that failed for a retryable reason are left
     * in `state.pending`, with the error that tells their back-off; an error of the whole round
     * (e.g. the token endpoint down) is retried by `ctx.retry` in place.
     */
    async #fetchItems(items: StagedItem[], batchNumber: number): Promise<Fetched> {
      const plan = planFetches(items, planOptions);
      const state = fetchState(plan);
      const label = `fetch batch ${batchNumber} (${plan.length} calls, ${planCost(plan, planOptions)} units)`;
      const failure = await this.#ctx.retry(() => this.#sendRounds(state), { label });
      return {
        state,
        failure,
        plannedCalls: plan.length,
        threads: plan.filter((unit) => unit.kind === 'thread').length,
      };
    }

    /**
     * Sends the calls `state` still has pending until none is left but calls to send again after a
     * back-off, and returns why those failed (`undefined` when all were answered).
     */
    async #sendRounds(state: FetchState): Promise<SyncError | undefined> {
      let refreshed = false;
      while (state.pending.length > 0) {
        const round = await this.#api.fetchRound(state.pending);
        state.messages.push(...round.messages);
        state.gone.push(...round.gone);
        state.requests += round.requests;
        state.calls += round.calls;
        state.units += round.units;
        const sent = state.pending.length;
        state.pending = round.retry;
        if (round.unauthorized !== undefined) {
          if (refreshed) throw reauthRequired();
          await this.#api.refreshAfter(round.unauthorized);
          refreshed = true;
          continue;
        }
        if (round.retry.length > 0 && round.error)
          return partialFailure(round.error, round.retry.length, sent);
      }
      return undefined;
    }
  }

  /** The fetch plan for the log: `staged` messages, or `null` while the listing goes on. */
  function fetchPlanText(staged: number | null): string {
    const threshold = threadThreshold(planOptions);
    const threadsText = Number.isFinite(threshold)
      ? `threads with ${threshold}+ listed messages fetched whole`
      : 'message by message';
    const what = staged === null ? 'newest first while the listing goes on,' : `${fmt(staged)} messages`;
    return `Fetching ${what} in batches of ${batchSize} (${options.transport ?? 'batch'} requests, ${threadsText})`;
  }

  return {
    id: 'gmail',
    run,
    quotaProfile: profile,
    limiterFor,
    watch: async (accountId) => watchesOrThrow().watch(accountId),
    renewWatches: async (accountIds) => watchesOrThrow().renew(accountIds),
    stopWatch: async (accountId) => watchesOrThrow().stop(accountId),
    watchOf: async (accountId) => watchesOrThrow().watchOf(accountId),
  };
}

type ListedPage = Awaited<ReturnType<GmailApi['listMessages']>>;

type FullCheckpoint = Extract<GmailCheckpoint, { stage: 'labels' | 'listing' | 'fetching' }>;

const isFullCheckpoint = (checkpoint: GmailCheckpoint | null): checkpoint is FullCheckpoint =>
  checkpoint !== null &&
  (checkpoint.stage === 'labels' || checkpoint.stage === 'listing' || checkpoint.stage === 'fetching');

const withSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

function profileText(limiter: QuotaLimiter): string {
  const perSecond = (limiter.unitsPerWindow / limiter.windowMs) * 1000;
  return `${fmt(Math.round(perSecond))} units/s`;
}

function reauthRequired(): SyncError {
  return new SyncError(
    'REAUTH_REQUIRED',
    'Gmail refused the credentials (401) even after a token refresh. Ask the user to sign in with Google again.',
    { retryable: false, details: { status: 401 } },
  );
}

/** The error a partly failed round throws, so `ctx.retry` logs why and waits as the worst answer asks. */
function partialFailure(error: SyncError, failed: number, sent: number): SyncError {
  return new SyncError(
    error.code,
    `${failed} of ${sent} calls failed (${error.message}); re-sending only those`,
    {
      retryable: true,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
      ...(error.details ? { details: error.details } : {}),
    },
  );
}

interface HistoryRecordLike {
  messagesAdded?: Array<{ message?: { id?: string | null; threadId?: string | null } }> | null;
  messagesDeleted?: Array<{ message?: { id?: string | null } }> | null;
  labelsAdded?: Array<{ message?: { id?: string | null }; labelIds?: string[] | null }> | null;
  labelsRemoved?: Array<{ message?: { id?: string | null }; labelIds?: string[] | null }> | null;
}

/**
 * Folds a page of history into work: ids to fetch (their latest state is fetched, so label changes on
 * them are moot), ids to delete, and label changes on stored messages, in history order.
 */
export function historyChanges(records: readonly HistoryRecordLike[]): {
  added: StagedItem[];
  deleted: string[];
  labels: LabelChange[];
} {
  const added = new Map<string, string | null>();
  const deleted = new Set<string>();
  const labels: LabelChange[] = [];
  for (const record of records) {
    for (const entry of record.messagesAdded ?? []) {
      const id = entry.message?.id;
      if (id && !deleted.has(id)) added.set(id, entry.message?.threadId ?? null);
    }
    for (const entry of record.messagesDeleted ?? []) {
      const id = entry.message?.id;
      if (!id) continue;
      added.delete(id);
      deleted.add(id);
    }
    for (const entry of record.labelsAdded ?? []) {
      const id = entry.message?.id;
      if (id && !added.has(id) && !deleted.has(id))
        labels.push({ id, add: [...(entry.labelIds ?? [])], remove: [] });
    }
    for (const entry of record.labelsRemoved ?? []) {
      const id = entry.message?.id;
      if (id && !added.has(id) && !deleted.has(id))
        labels.push({ id, add: [], remove: [...(entry.labelIds ?? [])] });
    }
  }
  return {
    added: [...added].map(([id, group]) => ({ id, group })),
    deleted: [...deleted],
    labels,
  };
}
