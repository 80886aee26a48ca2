import { sleep } from '../clock';
import { SyncError } from '../errors';
import type { SourceBatch, SourceContext, SyncSource } from '../source/syncSource';
import type { MailMessage } from '../store/sink';

export interface TestSourceOptions {
  /** The source id jobs refer to (default `test`). */
  id?: string;
  /** Messages in every account's mailbox at the start (default 100). */
  messages?: number;
  /** Ids listed per listing page (default 25). */
  pageSize?: number;
  /** Messages fetched and stored per batch (default 10). */
  batchSize?: number;
  /**
   * When the total is known: `upfront` (like Gmail's profile estimate, default) or `afterListing`
   * (unknown, `null`, until every id is listed).
   */
  totalKnown?: 'upfront' | 'afterListing';
  /** New messages an incremental sync finds (default 3). */
  incrementalChanges?: number;
}

/** Steers a test source from a test: failures, throttling, slowness, hangs, and what was fetched. */
export interface TestSourceControl {
  /**
   * Calls made so far. A call is one listing page or one fetch of a batch, counted on every
   * attempt (a retried call counts again), across runs and accounts.
   */
  readonly calls: number;
  /** Runs started so far. */
  readonly runs: number;
  /** Makes call number `n` (1-based, see `calls`) throw `error`. */
  failCall(n: number, error: SyncError): void;
  /** Makes the next `times` calls (default 1) throw `error`. */
  failNext(error: SyncError, times?: number): void;
  /** The next `times` calls (default 1) answer "rate limited" (`RATE_LIMITED`, retryable) with this `Retry-After`. */
  throttle(retryAfterMs: number, times?: number): void;
  /** Every call first waits `ms` on the context's clock (0 = no delay, the default). */
  setDelay(ms: number): void;
  /**
   * Call number `call` (default: the next one) hangs until `release()`. With `ignoreAbort` it also
   * ignores the run's abort signal, like a process that froze; otherwise an abort ends it like a
   * real request.
   */
  hang(options?: { call?: number; ignoreAbort?: boolean }): void;
  /** Lets a hung call go on. */
  release(): void;
  /** Resolves once a call is hanging (right away if one already is). */
  whenHanging(): Promise<void>;
  /**
   * The next incremental sync finds its cursor too old (like Gmail's `history.list` 404): it logs a
   * warning and continues the same job as a full sync.
   */
  expireCursor(): void;
  /** How many times a message id was fetched, counted when a fetch succeeds. */
  fetchCount(id: string): number;
  /** Every fetched id with its count. */
  readonly fetchCounts: ReadonlyMap<string, number>;
  /** The ids in an account's mailbox now, in order. */
  mailbox(accountId: string): string[];
}

export interface TestSource extends SyncSource<TestCheckpoint> {
  readonly control: TestSourceControl;
}

/** The test source's resume state. */
export type TestCheckpoint =
  | { stage: 'listing'; nextPage: number; cursor: string }
  | { stage: 'fetching'; cursor: string }
  | { stage: 'incremental'; cursor: string };

interface Mailbox {
  ids: string[];
  /** Bumped on every change: the source's incremental cursor. */
  version: number;
}

const messageId = (n: number) => `msg-${String(n).padStart(6, '0')}`;

/**
 * A deterministic source that behaves like a real one: a listing phase that stages ids page by
 * page, a fetching phase that reads the staged ids and stores them batch by batch (removing them
 * from the stage in the same commit), incremental syncs that find a few new messages, and a cursor
 * at the end. Every call goes through `ctx.retry`, so the engine's retry policy applies to the
 * failures the control injects.
 */
export function createTestSource(options: TestSourceOptions = {}): TestSource {
  const id = options.id ?? 'test';
  const initialSize = Math.max(0, options.messages ?? 100);
  const pageSize = Math.max(1, options.pageSize ?? 25);
  const batchSize = Math.max(1, options.batchSize ?? 10);
  const totalKnown = options.totalKnown ?? 'upfront';
  const incrementalChanges = Math.max(0, options.incrementalChanges ?? 3);

  const mailboxes = new Map<string, Mailbox>();
  const fetched = new Map<string, number>();
  const failures = new Map<number, SyncError>();
  const failQueue: SyncError[] = [];
  let calls = 0;
  let runs = 0;
  let delayMs = 0;
  let hangNext: { call: number | null; ignoreAbort: boolean } | null = null;
  let hanging: { release: () => void } | null = null;
  let hangWaiters: Array<() => void> = [];
  let cursorExpired = false;

  const mailboxOf = (accountId: string): Mailbox => {
    let mailbox = mailboxes.get(accountId);
    if (!mailbox) {
      mailbox = { ids: Array.from({ length: initialSize }, (_, i) => messageId(i + 1)), version: 1 };
      mailboxes.set(accountId, mailbox);
    }
    return mailbox;
  };

  const messageOf = (accountId: string, messageIdValue: string, version: number): MailMessage => {
    const n = Number(messageIdValue.slice(4));
    return {
      id: messageIdValue,
      threadId: `thread-${String(Math.ceil(n / 3)).padStart(6, '0')}`,
      historyId: String(version),
      internalDate: Date.UTC(2026, 0, 1) + n * 60_000,
      labelIds: n % 5 === 0 ? ['INBOX', 'UNREAD'] : ['INBOX'],
      snippet: `Synthetic message ${n} of ${accountId}`,
      sizeEstimate: 1_000 + (n % 97) * 10,
      headers: { Subject: `Message ${n}`, From: `sender${n % 7}@example.test` },
      category: null,
    };
  };

  /** One provider call: counted, maybe delayed, hung or failed as the control says. */
  const call = async (ctx: SourceContext<TestCheckpoint>): Promise<void> => {
    calls += 1;
    const n = calls;
    if (delayMs > 0) await sleep(delayMs, { clock: ctx.clock, signal: ctx.signal });
    if (hangNext && (hangNext.call === null || hangNext.call === n)) {
      const { ignoreAbort } = hangNext;
      hangNext = null;
      await new Promise<void>((resolve, reject) => {
        hanging = {
          release: () => {
            hanging = null;
            resolve();
          },
        };
        if (!ignoreAbort) {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        }
        for (const waiter of hangWaiters) waiter();
        hangWaiters = [];
      });
    }
    const failure = failures.get(n) ?? failQueue.shift();
    failures.delete(n);
    if (failure) throw failure;
  };

  async function* run(ctx: SourceContext<TestCheckpoint>): AsyncGenerator<SourceBatch<TestCheckpoint>> {
    runs += 1;
    const { accountId } = ctx.account;
    const mailbox = mailboxOf(accountId);

    let switchToFull = false;
    if (ctx.mode === 'incremental' && cursorExpired) {
      cursorExpired = false;
      await ctx.retry(() => call(ctx), { label: 'history.list' });
      ctx.log(
        'warn',
        `Cursor ${ctx.cursor} is too old for an incremental sync: running a full sync instead`,
        {
          code: 'CURSOR_EXPIRED',
        },
      );
      switchToFull = true;
    } else if (ctx.mode === 'incremental' && ctx.cursor !== null) {
      if (ctx.checkpoint?.stage === 'incremental') {
        // The changes were stored before a crash; only the completion is missing.
        yield { checkpoint: ctx.checkpoint, cursor: ctx.checkpoint.cursor, phase: 'finalizing' };
        return;
      }
      const first = mailbox.ids.length + 1;
      const added = Array.from({ length: incrementalChanges }, (_, i) => messageId(first + i));
      await ctx.retry(() => call(ctx), { label: 'history.list' });
      mailbox.ids.push(...added);
      mailbox.version += 1;
      for (const addedId of added) fetched.set(addedId, (fetched.get(addedId) ?? 0) + 1);
      const cursor = String(mailbox.version);
      yield {
        phase: 'fetching',
        total: added.length,
        write: { upsertMessages: added.map((m) => messageOf(accountId, m, mailbox.version)) },
        counts: { fetched: added.length, stored: added.length },
        checkpoint: { stage: 'incremental', cursor },
        cursor,
        logs: [{ level: 'info', message: `${added.length} new messages since cursor ${ctx.cursor}` }],
      };
      return;
    }

    // Full sync. The cursor is captured before listing, so changes made during the sync are not missed.
    let checkpoint: TestCheckpoint = ctx.checkpoint ?? {
      stage: 'listing',
      nextPage: 0,
      cursor: String(mailbox.version),
    };
    const total = mailbox.ids.length;
    const pages = Math.ceil(total / pageSize);

    if (checkpoint.stage === 'listing') {
      let page = checkpoint.nextPage;
      if (page === 0) {
        yield {
          ...(switchToFull ? { mode: 'full' as const } : {}),
          phase: 'listing',
          total: totalKnown === 'upfront' ? total : null,
          stage: { clear: true },
          checkpoint,
          logs: [{ level: 'info', message: `Listing ${total} messages, ${pageSize} a page` }],
        };
      }
      for (; page < pages; page++) {
        await ctx.retry(() => call(ctx), { label: `messages.list page ${page + 1}` });
        const ids = mailbox.ids.slice(page * pageSize, (page + 1) * pageSize);
        checkpoint = { stage: 'listing', nextPage: page + 1, cursor: checkpoint.cursor };
        yield {
          phase: 'listing',
          stage: { add: ids.map((itemId) => ({ id: itemId, group: null })) },
          counts: { listed: ids.length },
          currentItem: `page ${page + 1} of ${pages}`,
          checkpoint,
          logs: [{ level: 'info', message: `Listed page ${page + 1} of ${pages} (${ids.length} ids)` }],
        };
      }
      checkpoint = { stage: 'fetching', cursor: checkpoint.cursor };
      yield {
        phase: 'fetching',
        ...(totalKnown === 'afterListing' ? { total } : {}),
        checkpoint,
        currentItem: null,
      };
    }

    const cursor = checkpoint.cursor;
    let batchNumber = 0;
    while (true) {
      const staged = await ctx.staged.list({ limit: batchSize });
      if (staged.length === 0) break;
      batchNumber += 1;
      const ids = staged.map((item) => item.id);
      await ctx.retry(() => call(ctx), { label: `messages batch ${batchNumber}` });
      for (const fetchedId of ids) fetched.set(fetchedId, (fetched.get(fetchedId) ?? 0) + 1);
      yield {
        phase: 'fetching',
        write: { upsertMessages: ids.map((m) => messageOf(accountId, m, mailbox.version)) },
        stage: { remove: ids },
        counts: { fetched: ids.length, stored: ids.length },
        currentItem: `batch ${batchNumber}`,
        checkpoint: { stage: 'fetching', cursor },
      };
    }
    yield { phase: 'finalizing', checkpoint: { stage: 'fetching', cursor }, cursor, currentItem: null };
  }

  const control: TestSourceControl = {
    get calls() {
      return calls;
    },
    get runs() {
      return runs;
    },
    failCall(n, error) {
      failures.set(n, error);
    },
    failNext(error, times = 1) {
      for (let i = 0; i < times; i++) failQueue.push(error);
    },
    throttle(retryAfterMs, times = 1) {
      const error = new SyncError('RATE_LIMITED', 'Rate limit exceeded (test source).', {
        retryAfterMs,
        details: { status: 429 },
      });
      for (let i = 0; i < times; i++) failQueue.push(error);
    },
    setDelay(ms) {
      delayMs = Math.max(0, ms);
    },
    hang(hangOptions = {}) {
      hangNext = { call: hangOptions.call ?? null, ignoreAbort: hangOptions.ignoreAbort ?? false };
    },
    release() {
      hanging?.release();
    },
    whenHanging() {
      if (hanging) return Promise.resolve();
      return new Promise((resolve) => hangWaiters.push(resolve));
    },
    fetchCount: (itemId) => fetched.get(itemId) ?? 0,
    get fetchCounts() {
      return fetched;
    },
    expireCursor() {
      cursorExpired = true;
    },
    mailbox: (accountId) => [...mailboxOf(accountId).ids],
  };

  return { id, run, control };
}
