import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../clock';
import { createSyncEngine } from '../engine/syncEngine';
import { isSyncErrorLike } from '../errors';
import type { AccountKey, Job, JobCounters, LogEntry, LogInput, SyncCheckpoint } from '../job/job';
import { emptyCounters, isUuid, newId, percentOf } from '../job/job';
import type { DecideTransition, ExpiryPolicy } from '../job/jobLifecycle';
import {
  applyJobChange,
  cancelTransition,
  claimTransition,
  expireTransition,
  expireWith,
  releaseTransition,
} from '../job/jobLifecycle';
import { createProjectQuotaGovernor } from '../quota/projectQuota';
import type { MailLabel, MailMessage, SinkWrite, SyncSink } from '../store/sink';
import type { CreateJobInput, Lease, ProgressPatch, StoreNotice, SyncStore } from '../store/syncStore';
import { runPendingJobs } from './runPendingJobs';
import { SteppedClock } from './steppedClock';
import { syntheticBatch, syntheticMessage } from './syntheticBatch';
import { createTestSource } from './testSource';

/** The id of every test of the suite, to skip one with a reason. */
export const CONFORMANCE_TEST_IDS = [
  'getters-unknown',
  'bad-input',
  'create-job',
  'one-active-job',
  'concurrent-starts',
  'claim-order',
  'concurrent-claims',
  'claim-transition',
  'renew-lease',
  'progress',
  'waiting',
  'commit-batch',
  'batch-app-sink',
  'batch-atomic',
  'lease-expiry-resume',
  'lease-expiry-attempts-spent',
  'lease-expiry-no-auto-resume',
  'lease-expiry-cancel-requested',
  'concurrent-sweeps',
  'lease-lost-taken-over',
  'lease-lost-expired',
  'lease-lost-after-end',
  'concurrent-log-appends',
  'logs-paging',
  'append-logs-unknown-job',
  'cancel-queued',
  'cancel-running',
  'release',
  'finish-keeps-checkpoint',
  'account-state',
  'history',
  'staged',
  'default-sink',
  'prune-messages',
  'subscribe',
  'accounts-isolated',
  'returns-copies',
  'default-limits',
  'writes-return-logs',
  'null-lease-expired',
  'lifecycle-through-engine',
  'quota-take',
  'quota-take-concurrent',
  'quota-demand',
  'quota-governor-fair',
  'quota-governor-manual-first',
] as const;

export type ConformanceTestId = (typeof CONFORMANCE_TEST_IDS)[number];

export interface StoreConformanceOptions {
  /** Shown in the suite's title (`memory`, `sqlite`, `postgres`). */
  name: string;
  /**
   * A fresh, empty store for one test, using the real clock (lease tests wait real time). `sink`,
   * when given, is the app's own sink the store must pass every batch's data to.
   */
  createStore(options: { sink?: SyncSink<unknown> }): Promise<SyncStore>;
  /**
   * A second instance over the same storage as `store` (another connection or handle). When given,
   * the concurrency tests spread their calls over both instances.
   */
  createPeer?(store: SyncStore): Promise<SyncStore>;
  /** Tests this store cannot support, each with the reason shown in the test's title. */
  skip?: Partial<Record<ConformanceTestId, string>>;
  /** Runs after each test, once the suite closed the peer and the store (e.g. to delete a file). */
  cleanup?(store: SyncStore): Promise<void> | void;
  /**
   * The short lease of the expiry tests, in ms (default 250). The tests wait about twice this, so a
   * store on a slow or remote database may need a longer one.
   */
  leaseMs?: number;
  /**
   * Sets a running job's lease expiry to NULL directly in storage, as a hand-edited or damaged row
   * would have it (for `null-lease-expired`). A store that cannot hold such a row skips that test.
   */
  clearLeaseExpiry?(store: SyncStore, jobId: string): Promise<void>;
}

interface Opened {
  store: SyncStore;
  /** `[store]`, or `[store, peer]` when the adapter gives a peer: concurrent calls alternate over them. */
  stores: SyncStore[];
  /** The peer when given, the store otherwise: where a "second worker" makes its calls. */
  other: SyncStore;
}

const ACCOUNT: AccountKey = { source: 'gmail', accountId: 'acct-a' };
const OTHER_ACCOUNT: AccountKey = { source: 'gmail', accountId: 'acct-b' };

const counters = (patch: Partial<JobCounters>): JobCounters => ({ ...emptyCounters(), ...patch });

const checkpointOf = (jobId: string, data: unknown, patch: Partial<SyncCheckpoint> = {}): SyncCheckpoint => ({
  jobId,
  mode: 'full',
  data,
  counters: counters({ total: 100, listed: 100, fetched: 10, stored: 10 }),
  categoryCounts: { primary: 7, promotions: 3 },
  phase: 'fetching',
  ...patch,
});

const line = (message: string, data?: Record<string, unknown>): LogInput =>
  data === undefined ? { level: 'info', message } : { level: 'info', message, data };

const message = (id: string, overrides: Partial<MailMessage> = {}): MailMessage => ({
  ...syntheticMessage(0),
  id,
  ...overrides,
});

/** Optional payload fields may come back absent or `null`; compare them the same way. */
const normalizeMessage = (value: MailMessage): MailMessage => {
  const { raw, payload, ...rest } = value;
  const result: MailMessage = { ...rest, labelIds: [...rest.labelIds].sort() };
  if (raw != null) result.raw = raw;
  if (payload != null) result.payload = payload;
  return result;
};

const ms = (iso: string | null): number => (iso === null ? Number.NaN : Date.parse(iso));

/** `decide`, with `lines` written instead of its own (the store must write exactly what it is given). */
const withLines =
  (decide: DecideTransition, lines: LogInput[]): DecideTransition =>
  (job, now) => {
    const transition = decide(job, now);
    return transition && { change: transition.change, logs: lines };
  };

/** Cancels through the primitive with core's rule; the job after it (`null`: no such job). */
const cancel = async (store: SyncStore, jobId: string, lines?: LogInput[]) =>
  (await store.updateJob(jobId, lines ? withLines(cancelTransition, lines) : cancelTransition))?.job ?? null;

/** Sweeps through the primitive with core's rule; the jobs it changed. */
const sweep = async (store: SyncStore, policy: ExpiryPolicy) =>
  (await store.sweepExpired(expireWith(policy))).map((written) => written.job);

/** Asserts that `promise` rejects with a syncjob error of `code`. */
/** The shared-budget scenarios: a minute of 1,000 ms in 10 slices of 100 units each. */
const QUOTA_SLICE_MS = 100;
const QUOTA_SLICE_LIMIT = 100;
const QUOTA_OPTIONS = { unitsPerMinute: 1100, speed: 60, slices: 10, scope: 'project' };
/** Slices run, and the first ones left out of the totals (the governors learn the demand). */
const QUOTA_SLICES = 30;
const QUOTA_WARMUP = 5;

interface QuotaTaker {
  account: string;
  /** Which store instance (worker) it runs on. */
  worker: number;
  trigger: 'manual' | 'schedule';
  /** Units per call. */
  units: number;
  /** Asks once per slice (a sync held back by its own per-user limit) instead of without pause. */
  perSlice?: boolean;
}

/**
 * Runs takers on one governor per store instance (two workers sharing the storage) over a clock
 * the test steps, and records the units granted per slice and per account after the warm-up.
 */
async function runQuotaScenario(stores: SyncStore[], takers: QuotaTaker[]) {
  const start = Date.UTC(2030, 0, 1);
  const clock = new SteppedClock(start);
  const governors = stores.map((store) => createProjectQuotaGovernor(store, clock, QUOTA_OPTIONS));
  const sliceOf = () => Math.floor((clock.now() - start) / QUOTA_SLICE_MS);
  const perSlice = new Map<number, number>();
  const perAccount = new Map<string, number>();
  const manualDelays: number[] = [];
  const controller = new AbortController();
  let failure: unknown;
  const runs = takers.map(async (taker) => {
    const governor = governors[taker.worker % governors.length]!;
    const quota = governor.forJob(
      { source: 'gmail', accountId: taker.account, trigger: taker.trigger },
      { signal: controller.signal, reportBackoff: () => {} },
    );
    try {
      while (!controller.signal.aborted) {
        const asked = sliceOf();
        await quota.take(taker.units);
        const slice = sliceOf();
        perSlice.set(slice, (perSlice.get(slice) ?? 0) + taker.units);
        if (slice >= QUOTA_WARMUP && slice < QUOTA_SLICES) {
          perAccount.set(taker.account, (perAccount.get(taker.account) ?? 0) + taker.units);
        }
        if (taker.perSlice) {
          manualDelays.push(slice - asked);
          await sleep((slice + 1) * QUOTA_SLICE_MS + start - clock.now(), {
            clock,
            signal: controller.signal,
          });
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      failure ??= error;
      controller.abort();
    } finally {
      quota.close();
    }
  });
  try {
    while (sliceOf() < QUOTA_SLICES && !failure) await clock.step(takers.length);
  } catch (error) {
    failure ??= error;
  }
  if (failure) throw failure;
  controller.abort();
  await Promise.all(runs);
  return { perSlice, perAccount, manualDelays, measuredSlices: QUOTA_SLICES - QUOTA_WARMUP };
}

/** Jain's fairness index: 1 when all are equal, 1/n when one has everything. */
function jainIndex(values: readonly number[]): number {
  const sum = values.reduce((total, value) => total + value, 0);
  const squares = values.reduce((total, value) => total + value * value, 0);
  return squares === 0 ? 0 : (sum * sum) / (values.length * squares);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a rejection with code ${code}`).toBeDefined();
  expect(isSyncErrorLike(caught) ? caught.code : caught).toBe(code);
}

/** Polls `predicate` until it holds or `timeoutMs` passes (for notices delivered asynchronously). */
async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('Timed out waiting for a condition.');
    await sleep(10);
  }
}

/** Everything a fenced write could change, to prove that a lost lease changed nothing. */
async function snapshot(store: SyncStore, key: AccountKey, jobId: string) {
  return {
    job: await store.getJob(jobId),
    active: await store.getActiveJob(key),
    account: await store.getAccountState(key),
    logs: await store.getLogs(jobId, { limit: 5000 }),
    staged: await store.listStaged(key, { limit: 10_000 }),
    messages: (await store.data.listMessages(key, { limit: 10_000 })).map(normalizeMessage),
    labels: await store.data.listLabels(key),
  };
}

/** A sink that records what it receives and throws when told to. */
function recordingSink() {
  const calls: Array<{ account: AccountKey; write: SinkWrite }> = [];
  const control = { fail: 'no' as 'no' | 'sync' | 'async' };
  const sink: SyncSink<unknown> = {
    write(_tx, account, write) {
      if (control.fail === 'sync') throw new Error('The app sink failed (synchronously).');
      if (control.fail === 'async') {
        return sleep(20).then(() => {
          throw new Error('The app sink failed (asynchronously).');
        });
      }
      calls.push({ account: { source: account.source, accountId: account.accountId }, write });
    },
  };
  return { sink, calls, control };
}

/**
 * Registers the store conformance suite (vitest `describe`/`it`) for one store implementation.
 * Every store of syncjob runs it from a short runner file; see `StoreConformanceOptions`.
 */
export function runStoreConformance(options: StoreConformanceOptions): void {
  const leaseMs = options.leaseMs ?? 250;
  /** Long enough for a lease of `leaseMs` to be expired by any clock involved. */
  const pastLease = () => sleep(leaseMs * 2 + 50);
  const opened: Array<{ store: SyncStore; peer: SyncStore | undefined }> = [];

  const open = async (sink?: SyncSink<unknown>): Promise<Opened> => {
    const store = await options.createStore(sink === undefined ? {} : { sink });
    const peer = options.createPeer ? await options.createPeer(store) : undefined;
    opened.push({ store, peer });
    return { store, stores: peer ? [store, peer] : [store], other: peer ?? store };
  };

  const start = async (store: SyncStore, key: AccountKey = ACCOUNT, mode: Job['mode'] = 'full') =>
    (await store.createJob({ ...key, mode, trigger: 'manual' })).job;

  const claim = async (store: SyncStore, workerId = 'worker-1', ms = 60_000) => {
    const claimed = await store.claimJob({ workerId, leaseMs: ms });
    if (!claimed) throw new Error('Expected a queued job to claim.');
    return claimed;
  };

  /** Creates and claims a job of `key`, returning the lease. */
  const running = async (
    store: SyncStore,
    key: AccountKey = ACCOUNT,
    ms = 60_000,
    mode: Job['mode'] = 'full',
  ) => {
    const job = await start(store, key, mode);
    const claimed = await claim(store, 'worker-1', ms);
    expect(claimed.job.id).toBe(job.id);
    return claimed;
  };

  /** Every fenced operation with `lease`: each must throw `LEASE_LOST`. */
  const expectAllFencedWritesLost = async (store: SyncStore, lease: Lease) => {
    const batch = syntheticBatch({ jobId: lease.jobId, count: 2, start: 500 });
    await expectCode(store.renewLease(lease, 60_000), 'LEASE_LOST');
    await expectCode(
      store.updateProgress(lease, { phase: 'storing', counters: counters({ stored: 99 }) }),
      'LEASE_LOST',
    );
    await expectCode(
      store.commitBatch(lease, {
        ...batch,
        write: { ...batch.write, upsertLabels: [{ id: 'L-lost', name: 'Lost', type: 'user' }] },
        stage: { clear: true, add: [{ id: 'lost-1', group: null }] },
      }),
      'LEASE_LOST',
    );
    await expectCode(store.appendLogs(lease.jobId, [line('from a lost lease')], lease), 'LEASE_LOST');
    await expectCode(store.finishJob(lease, { status: 'completed', cursor: 'lost-cursor' }), 'LEASE_LOST');
    await expectCode(store.finishJob(lease, { status: 'failed', error: null }), 'LEASE_LOST');
    await expectCode(
      store.releaseJob(lease, withLines(releaseTransition, [line('release from a lost lease')])),
      'LEASE_LOST',
    );
  };

  const title = `store conformance: ${options.name}`;
  describe(title, () => {
    afterEach(async () => {
      const toClose = opened.splice(0);
      for (const { store, peer } of toClose) {
        await peer?.close();
        await store.close();
        await options.cleanup?.(store);
      }
    });

    const test = (id: ConformanceTestId, name: string, body: () => Promise<void>, timeoutMs?: number) => {
      const reason = options.skip?.[id];
      if (reason !== undefined) {
        console.info(`[${title}] ${id} skipped: ${reason}`);
        it.skip(`${id}: ${name} (skipped: ${reason})`, body);
        return;
      }
      it(`${id}: ${name}`, body, timeoutMs);
    };

    test('getters-unknown', 'getters return null or [] for unknown ids and accounts', async () => {
      const { store } = await open();
      const unknownId = newId();
      expect(await store.getJob(unknownId)).toBeNull();
      expect(await store.getActiveJob(ACCOUNT)).toBeNull();
      expect(await store.listJobs()).toEqual([]);
      expect(await store.listJobs({ accountId: 'nobody' })).toEqual([]);
      expect(await store.getLogs(unknownId)).toEqual([]);
      expect(await store.getAccountState(ACCOUNT)).toBeNull();
      expect(await store.listAccountStates()).toEqual([]);
      expect(await store.listStaged(ACCOUNT, { limit: 10 })).toEqual([]);
      expect(await store.countStaged(ACCOUNT)).toBe(0);
      expect(await store.data.listMessages(ACCOUNT)).toEqual([]);
      expect(await store.data.latestMessages(ACCOUNT)).toEqual([]);
      expect(await store.data.countMessages(ACCOUNT)).toBe(0);
      expect(await store.data.listLabels(ACCOUNT)).toEqual([]);
      expect(await cancel(store, unknownId)).toBeNull();
      expect(await sweep(store, { autoResume: true, maxAttempts: 3 })).toEqual([]);
      expect(await store.claimJob({ workerId: 'worker-1', leaseMs: 60_000 })).toBeNull();
    });

    test(
      'bad-input',
      'a malformed job or lease length is refused with INVALID_INPUT and writes nothing',
      async () => {
        const { store } = await open();
        const good = { ...ACCOUNT, mode: 'full', trigger: 'manual' } as const;
        const malformed: unknown[] = [
          { ...good, source: '' },
          { ...good, accountId: 42 },
          { ...good, mode: 'auto' },
          { ...good, trigger: 'cron' },
          null,
        ];
        for (const input of malformed) {
          await expectCode(store.createJob(input as CreateJobInput), 'INVALID_INPUT');
        }
        expect(await store.listJobs()).toEqual([]);
        expect(await store.listAccountStates()).toEqual([]);
        const { job } = await store.createJob(good);
        for (const leaseMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60000']) {
          await expectCode(
            store.claimJob({ workerId: 'worker-1', leaseMs: leaseMs as number }),
            'INVALID_INPUT',
          );
        }
        expect((await store.getJob(job.id))?.status).toBe('queued');
        const { lease } = await claim(store);
        const before = await store.getJob(job.id);
        await expectCode(store.renewLease(lease, 0), 'INVALID_INPUT');
        expect(await store.getJob(job.id)).toEqual(before);
      },
    );

    test('create-job', 'createJob makes a queued job, its logs and the account state', async () => {
      const { store } = await open();
      const before = Date.now();
      const result = await store.createJob({
        ...ACCOUNT,
        mode: 'incremental',
        trigger: 'schedule',
        logs: [line('Sync requested.', { by: 'test' }), { level: 'warn', message: 'Second line.' }],
      });
      expect(result.created).toBe(true);
      const { job } = result;
      expect(isUuid(job.id)).toBe(true);
      expect(job).toMatchObject({
        source: ACCOUNT.source,
        accountId: ACCOUNT.accountId,
        status: 'queued',
        phase: null,
        mode: 'incremental',
        trigger: 'schedule',
        counters: emptyCounters(),
        categoryCounts: {},
        percent: null,
        ratePerSec: null,
        etaSeconds: null,
        currentItem: null,
        startedAt: null,
        heartbeatAt: null,
        leaseExpiresAt: null,
        finishedAt: null,
        attempt: 0,
        cancelRequested: false,
        error: null,
        lastLogSeq: 2,
      });
      // The store's clock may be the database's: allow for a little skew.
      expect(Math.abs(ms(job.createdAt) - before)).toBeLessThan(60_000);
      expect(Number.isNaN(ms(job.updatedAt))).toBe(false);
      expect(await store.getJob(job.id)).toEqual(job);
      expect(await store.getActiveJob(ACCOUNT)).toEqual(job);
      expect(await store.listJobs()).toEqual([job]);

      const logs = await store.getLogs(job.id);
      expect(
        logs.map(({ jobId, seq, level, message, data }) => ({ jobId, seq, level, message, data })),
      ).toEqual([
        { jobId: job.id, seq: 1, level: 'info', message: 'Sync requested.', data: { by: 'test' } },
        { jobId: job.id, seq: 2, level: 'warn', message: 'Second line.', data: undefined },
      ]);
      expect(Number.isNaN(ms(logs[0]?.at ?? null))).toBe(false);

      expect(await store.getAccountState(ACCOUNT)).toMatchObject({
        ...ACCOUNT,
        cursor: null,
        checkpoint: null,
        lastSyncedAt: null,
        lastFullSyncAt: null,
        lastJobId: job.id,
      });
    });

    test(
      'one-active-job',
      'createJob returns the queued or running job unchanged, without its logs',
      async () => {
        const { store } = await open();
        const first = await start(store);
        const again = await store.createJob({
          ...ACCOUNT,
          mode: 'incremental',
          trigger: 'manual',
          logs: [line('x')],
        });
        expect(again.created).toBe(false);
        expect(again.job).toEqual(first);
        expect(await store.getLogs(first.id)).toEqual([]);

        const { job: runningJob, lease } = await claim(store);
        const whileRunning = await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' });
        expect(whileRunning.created).toBe(false);
        expect(whileRunning.job).toEqual(runningJob);
        expect(await store.listJobs()).toHaveLength(1);

        await store.finishJob(lease, { status: 'completed' });
        const next = await store.createJob({ ...ACCOUNT, mode: 'incremental', trigger: 'manual' });
        expect(next.created).toBe(true);
        expect(next.job.id).not.toBe(first.id);
        expect((await store.getAccountState(ACCOUNT))?.lastJobId).toBe(next.job.id);
      },
    );

    test(
      'concurrent-starts',
      '50 concurrent starts create exactly one active job',
      async () => {
        const { stores } = await open();
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, index) =>
            stores[index % stores.length]!.createJob({
              ...(index % 10 === 9 ? OTHER_ACCOUNT : ACCOUNT),
              mode: 'full',
              trigger: 'manual',
              logs: [line(`start ${index}`)],
            }),
          ),
        );
        for (const key of [ACCOUNT, OTHER_ACCOUNT]) {
          const mine = results.filter((result) => result.job.accountId === key.accountId);
          expect(mine.filter((result) => result.created)).toHaveLength(1);
          expect(new Set(mine.map((result) => result.job.id)).size).toBe(1);
          const jobs = await stores[0]!.listJobs({ ...key });
          expect(jobs).toHaveLength(1);
          expect(await stores[0]!.getLogs(jobs[0]!.id)).toHaveLength(1);
        }
      },
      20_000,
    );

    test('claim-order', 'claimJob takes the oldest queued job of the allowed sources', async () => {
      const { store } = await open();
      const keys = ['acct-a', 'acct-b', 'acct-c'].map((accountId) => ({ source: 'gmail', accountId }));
      const created: Job[] = [];
      for (const key of keys) {
        created.push(await start(store, key));
        await sleep(5);
      }
      const foreign = await start(store, { source: 'other', accountId: 'acct-a' });

      const claimedIds: string[] = [];
      const tokens = new Set<string>();
      for (let index = 0; index < 3; index++) {
        const before = Date.now();
        const claimed = await store.claimJob({
          workerId: `worker-${index}`,
          leaseMs: 30_000,
          sources: ['gmail'],
        });
        expect(claimed).not.toBeNull();
        const { job, lease } = claimed!;
        claimedIds.push(job.id);
        tokens.add(lease.token);
        expect(lease).toMatchObject({ jobId: job.id, workerId: `worker-${index}` });
        expect(typeof lease.token).toBe('string');
        expect(job).toMatchObject({ status: 'running', attempt: 1, cancelRequested: false });
        expect(Math.abs(ms(job.startedAt) - before)).toBeLessThan(60_000);
        expect(ms(job.heartbeatAt)).toBeGreaterThanOrEqual(ms(job.startedAt));
        expect(ms(job.leaseExpiresAt) - ms(job.heartbeatAt)).toBeGreaterThanOrEqual(30_000 - 5);
        expect(ms(job.leaseExpiresAt) - ms(job.heartbeatAt)).toBeLessThanOrEqual(30_000 + 5);
        expect(await store.getJob(job.id)).toEqual(job);
      }
      expect(claimedIds).toEqual(created.map((job) => job.id));
      expect(tokens.size).toBe(3);
      expect(await store.claimJob({ workerId: 'worker-9', leaseMs: 30_000, sources: ['gmail'] })).toBeNull();
      const last = await store.claimJob({ workerId: 'worker-9', leaseMs: 30_000 });
      expect(last?.job.id).toBe(foreign.id);
      expect(await store.claimJob({ workerId: 'worker-9', leaseMs: 30_000 })).toBeNull();
    });

    test(
      'concurrent-claims',
      '20 concurrent claims of one job: exactly one wins; of five jobs: five distinct winners',
      async () => {
        const { stores } = await open();
        const only = await start(stores[0]!);
        const claims = await Promise.all(
          Array.from({ length: 20 }, (_, index) =>
            stores[index % stores.length]!.claimJob({ workerId: `worker-${index}`, leaseMs: 60_000 }),
          ),
        );
        const winners = claims.filter((claimed) => claimed !== null);
        expect(winners).toHaveLength(1);
        expect(winners[0]?.job.id).toBe(only.id);
        expect((await stores[0]!.getJob(only.id))?.attempt).toBe(1);

        const more: string[] = [];
        for (let index = 0; index < 5; index++) {
          more.push((await start(stores[0]!, { source: 'gmail', accountId: `acct-${index + 1}` })).id);
        }
        const second = await Promise.all(
          Array.from({ length: 20 }, (_, index) =>
            stores[index % stores.length]!.claimJob({ workerId: `worker-${index}`, leaseMs: 60_000 }),
          ),
        );
        const wonIds = second.flatMap((claimed) => (claimed ? [claimed.job.id] : []));
        expect(wonIds).toHaveLength(5);
        expect(new Set(wonIds)).toEqual(new Set(more));
      },
      20_000,
    );

    test(
      'claim-transition',
      "claimJob writes exactly what core's claimTransition gives at the store's now, and no line",
      async () => {
        const { store, other } = await open();
        /** Claims `queued` (the oldest queued job) and holds the result to the rule applied to it. */
        const claimAndCompare = async (queued: Job, leaseMs: number) => {
          const lines = await store.getLogs(queued.id);
          const before = Date.now();
          const claimed = await claim(other, 'worker-rule', leaseMs);
          // The store's "now" is the `updatedAt` it wrote (PostgreSQL's clock, not this process's).
          const now = claimed.job.updatedAt;
          expect(Math.abs(ms(now) - before)).toBeLessThan(60_000);
          const expected: Job = { ...queued, updatedAt: now };
          applyJobChange(expected, claimTransition(queued, now, leaseMs).change);
          expected.percent = percentOf(expected.counters, expected.status);
          expect(claimed.job).toEqual(expected);
          expect(claimed.lease).toMatchObject({ jobId: queued.id, workerId: 'worker-rule' });
          expect(await store.getJob(queued.id)).toEqual(expected);
          expect(await store.getLogs(queued.id)).toEqual(lines);
          return claimed;
        };

        // A queued job carrying an error (a decision may leave one): the claim clears it.
        const created = await start(store);
        const flagged = await store.updateJob(created.id, () => ({
          change: { error: { code: 'INTERNAL', message: 'Left over.', retryable: true } },
          logs: [],
        }));
        const first = await claimAndCompare(flagged!.job, 45_000);
        // Given back after a batch: a second attempt that keeps `startedAt`, the progress and the lines.
        await store.commitBatch(first.lease, syntheticBatch({ jobId: created.id, count: 3 }));
        const { job: requeued } = await store.releaseJob(first.lease, releaseTransition);
        await sleep(5);
        const second = await claimAndCompare(requeued, 30_000);
        expect(second.job).toMatchObject({ attempt: 2, startedAt: first.job.startedAt });
      },
    );

    test(
      'renew-lease',
      'renewLease extends the lease, records the heartbeat and reports a cancel request',
      async () => {
        const { store } = await open();
        const { job, lease } = await running(store, ACCOUNT, leaseMs);
        await sleep(20);
        const renewed = await store.renewLease(lease, 60_000);
        expect(renewed.status).toBe('running');
        expect(ms(renewed.heartbeatAt)).toBeGreaterThan(ms(job.heartbeatAt));
        expect(ms(renewed.leaseExpiresAt) - ms(renewed.heartbeatAt)).toBeGreaterThanOrEqual(60_000 - 5);
        expect(renewed.cancelRequested).toBe(false);
        await pastLease();
        // Still ours: the renewal outlived the first lease.
        await store.updateProgress(lease, { currentItem: 'page 2' });
        await cancel(store, job.id);
        expect((await store.renewLease(lease, 60_000)).cancelRequested).toBe(true);
      },
    );

    test('progress', 'updateProgress writes the fields, derives percent and moves updatedAt', async () => {
      const { store } = await open();
      const { job, lease } = await running(store);
      await sleep(5);
      const patch: ProgressPatch = {
        phase: 'fetching',
        counters: counters({
          total: 200,
          listed: 200,
          fetched: 60,
          stored: 40,
          skipped: 5,
          deleted: 3,
          failed: 2,
        }),
        categoryCounts: { primary: 30, social: 10 },
        ratePerSec: 12.5,
        etaSeconds: 12,
        currentItem: 'page 3',
      };
      const updated = await store.updateProgress(lease, patch);
      expect(updated).toMatchObject({ ...patch, percent: 25, status: 'running' });
      expect(ms(updated.updatedAt)).toBeGreaterThan(ms(job.updatedAt));
      expect(await store.getJob(job.id)).toEqual(updated);

      const partial = await store.updateProgress(lease, { currentItem: null });
      expect(partial).toMatchObject({ phase: 'fetching', ratePerSec: 12.5, percent: 25, currentItem: null });
      const switched = await store.updateProgress(lease, {
        mode: 'incremental',
        counters: emptyCounters(),
        ratePerSec: null,
        etaSeconds: null,
      });
      expect(switched).toMatchObject({
        mode: 'incremental',
        percent: null,
        ratePerSec: null,
        etaSeconds: null,
      });
    });

    test(
      'waiting',
      'a quota wait is stored and read back, cleared by a batch, and gone once the job is given back or ends',
      async () => {
        const { store } = await open();
        const { job, lease } = await running(store);
        expect(job.waiting).toBeNull();
        const waiting = { for: 'project-daily-quota', until: '2026-03-02T00:00:00.000Z' } as const;
        const held = await store.updateProgress(lease, { waiting, etaSeconds: 3600 });
        expect(held).toMatchObject({ waiting, etaSeconds: 3600 });
        expect((await store.getJob(job.id))?.waiting).toEqual(waiting);
        // Another progress write that does not mention it keeps it.
        expect((await store.updateProgress(lease, { currentItem: 'page 2' })).waiting).toEqual(waiting);
        const resumed = await store.commitBatch(lease, {
          checkpoint: checkpointOf(job.id, { page: 1 }),
          progress: { waiting: null },
        });
        expect(resumed.job.waiting).toBeNull();

        await store.updateProgress(lease, { waiting: { for: 'user-quota', until: waiting.until } });
        const released = await store.releaseJob(lease, releaseTransition);
        expect(released.job).toMatchObject({ status: 'queued', waiting: null });

        const again = await claim(store, 'worker-2');
        await store.updateProgress(again.lease, { waiting: { for: 'project-quota', until: waiting.until } });
        const finished = await store.finishJob(again.lease, { status: 'completed' });
        expect(finished.job).toMatchObject({ status: 'completed', waiting: null });
        expect((await store.getJob(job.id))?.waiting).toBeNull();
      },
    );

    test(
      'commit-batch',
      'commitBatch writes data, staged items, checkpoint, progress and logs together',
      async () => {
        const { store } = await open();
        const { job, lease } = await running(store);
        const batch = syntheticBatch({ jobId: job.id, count: 3 });
        const { job: committed, logs: committedLogs } = await store.commitBatch(lease, {
          ...batch,
          write: {
            ...batch.write,
            upsertLabels: [
              { id: 'INBOX', name: 'INBOX', type: 'system', messagesTotal: 3, messagesUnread: 1 },
              { id: 'Label_1', name: 'Work', type: 'user' },
            ],
          },
          stage: { add: [{ id: 'm000010', group: 't000003' }] },
          logs: [line('batch 1'), line('batch 1, second line')],
        });
        expect(committed).toMatchObject({
          status: 'running',
          phase: 'fetching',
          counters: batch.progress?.counters,
        });
        expect(committed.lastLogSeq).toBe(2);
        expect(committedLogs.map(({ jobId, seq, message }) => ({ jobId, seq, message }))).toEqual([
          { jobId: job.id, seq: 1, message: 'batch 1' },
          { jobId: job.id, seq: 2, message: 'batch 1, second line' },
        ]);
        expect(await store.getJob(job.id)).toEqual(committed);
        expect(await store.data.countMessages(ACCOUNT)).toBe(3);
        expect((await store.data.listMessages(ACCOUNT)).map(normalizeMessage)).toEqual(
          (batch.write?.upsertMessages ?? []).map(normalizeMessage),
        );
        expect((await store.data.listLabels(ACCOUNT)).map((label) => label.id)).toEqual(['INBOX', 'Label_1']);
        expect(await store.listStaged(ACCOUNT, { limit: 10 })).toEqual([{ id: 'm000010', group: 't000003' }]);
        expect((await store.getAccountState(ACCOUNT))?.checkpoint).toEqual(batch.checkpoint);
        expect((await store.getLogs(job.id)).map((entry) => [entry.seq, entry.message])).toEqual([
          [1, 'batch 1'],
          [2, 'batch 1, second line'],
        ]);

        // `checkpoint: undefined` keeps it; `null` clears it.
        await store.commitBatch(lease, { progress: { currentItem: 'x' } });
        expect((await store.getAccountState(ACCOUNT))?.checkpoint).toEqual(batch.checkpoint);
        await store.commitBatch(lease, { checkpoint: null });
        expect((await store.getAccountState(ACCOUNT))?.checkpoint).toBeNull();
        const { job: emptyCommit, logs: noLogs } = await store.commitBatch(lease, {});
        expect(noLogs).toEqual([]);
        expect(emptyCommit.status).toBe('running');
      },
    );

    test('batch-app-sink', "an app's sink receives each batch's write with its account", async () => {
      const { sink, calls } = recordingSink();
      const { store } = await open(sink);
      const { job, lease } = await running(store);
      const batch = syntheticBatch({ jobId: job.id, count: 2 });
      await store.commitBatch(lease, batch);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.account).toEqual(ACCOUNT);
      expect(calls[0]?.write.upsertMessages?.map(normalizeMessage)).toEqual(
        batch.write?.upsertMessages?.map(normalizeMessage),
      );
      expect((await store.getAccountState(ACCOUNT))?.checkpoint).toEqual(batch.checkpoint);
      // The data went to the app's sink, not to the default tables.
      expect(await store.data.countMessages(ACCOUNT)).toBe(0);
    });

    test('batch-atomic', 'a batch whose app sink throws (sync or async) changes nothing', async () => {
      const { sink, calls, control } = recordingSink();
      const { store } = await open(sink);
      const { job, lease } = await running(store);
      const first = syntheticBatch({ jobId: job.id, count: 2 });
      await store.commitBatch(lease, { ...first, stage: { add: [{ id: 'a1', group: 'g1' }] } });
      const before = await snapshot(store, ACCOUNT, job.id);
      expect(before.logs).toHaveLength(1);

      for (const mode of ['sync', 'async'] as const) {
        control.fail = mode;
        await sleep(5);
        const failing = syntheticBatch({
          jobId: job.id,
          count: 2,
          start: 2,
          counters: first.progress?.counters,
        });
        await expect(
          store.commitBatch(lease, {
            ...failing,
            stage: { clear: true, add: [{ id: 'b1', group: 'g2' }] },
            logs: [line('must not be stored')],
          }),
        ).rejects.toBeDefined();
        expect(await snapshot(store, ACCOUNT, job.id)).toEqual(before);
      }

      // The lease survived the failed batches and the log stays gap-free.
      control.fail = 'no';
      const next = syntheticBatch({ jobId: job.id, count: 1, start: 4 });
      const { job: after } = await store.commitBatch(lease, next);
      expect(after.lastLogSeq).toBe(2);
      expect((await store.getLogs(job.id)).map((entry) => entry.seq)).toEqual([1, 2]);
      expect((await store.getAccountState(ACCOUNT))?.checkpoint).toEqual(next.checkpoint);
      expect(calls.map((call) => call.account)).toEqual([ACCOUNT, ACCOUNT]);
    });

    test(
      'lease-expiry-resume',
      'an expired lease is swept back to queued and resumed by another worker',
      async () => {
        const { store, other } = await open();
        const { job, lease } = await running(store, ACCOUNT, leaseMs);
        const batch = syntheticBatch({ jobId: job.id, count: 3 });
        await store.commitBatch(lease, { ...batch, stage: { add: [{ id: 'm000003', group: null }] } });
        expect(await sweep(store, { autoResume: true, maxAttempts: 3 })).toEqual([]);
        await pastLease();

        const swept = await sweep(other, { autoResume: true, maxAttempts: 3 });
        expect(swept).toHaveLength(1);
        expect(swept[0]).toMatchObject({ id: job.id, status: 'queued', attempt: 1, leaseExpiresAt: null });
        expect(swept[0]?.lastLogSeq).toBeGreaterThan(1);
        expect(await store.getJob(job.id)).toEqual(swept[0]);
        expect((await store.getActiveJob(ACCOUNT))?.id).toBe(job.id);
        expect(await store.getLogs(job.id, { afterSeq: 1 })).not.toEqual([]);

        const resumed = await claim(other, 'worker-2');
        expect(resumed.job).toMatchObject({
          id: job.id,
          status: 'running',
          attempt: 2,
          counters: batch.progress?.counters,
        });
        expect(resumed.lease.token).not.toBe(lease.token);
        expect(resumed.job.startedAt).toBe(job.startedAt);
        const account = await store.getAccountState(ACCOUNT);
        expect(account?.checkpoint).toEqual(batch.checkpoint);
        expect(await store.countStaged(ACCOUNT)).toBe(1);
        expect(await store.data.countMessages(ACCOUNT)).toBe(3);
      },
    );

    test(
      'lease-expiry-attempts-spent',
      'a job whose attempts are spent becomes interrupted (LEASE_EXPIRED)',
      async () => {
        const { store } = await open();
        const { job, lease } = await running(store, ACCOUNT, leaseMs);
        const batch = syntheticBatch({ jobId: job.id, count: 2 });
        await store.commitBatch(lease, batch);
        await pastLease();
        const firstSweep = await sweep(store, { autoResume: true, maxAttempts: 2 });
        expect(firstSweep.map((swept) => swept.status)).toEqual(['queued']);

        const second = await claim(store, 'worker-2', leaseMs);
        expect(second.job.attempt).toBe(2);
        await pastLease();
        const secondSweep = await sweep(store, { autoResume: true, maxAttempts: 2 });
        expect(secondSweep).toHaveLength(1);
        const interrupted = secondSweep[0]!;
        expect(interrupted).toMatchObject({
          id: job.id,
          status: 'interrupted',
          attempt: 2,
          leaseExpiresAt: null,
        });
        expect(interrupted.error?.code).toBe('LEASE_EXPIRED');
        expect(typeof interrupted.error?.message).toBe('string');
        expect(interrupted.finishedAt).not.toBeNull();
        expect(await store.getActiveJob(ACCOUNT)).toBeNull();
        expect(await store.claimJob({ workerId: 'worker-3', leaseMs: 60_000 })).toBeNull();
        // The checkpoint stays so the next start resumes from it.
        expect((await store.getAccountState(ACCOUNT))?.checkpoint).toEqual(batch.checkpoint);
        expect((await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'resume' })).created).toBe(true);
      },
    );

    test(
      'lease-expiry-no-auto-resume',
      'without auto-resume an expired job becomes interrupted at once',
      async () => {
        const { store } = await open();
        const { job } = await running(store, ACCOUNT, leaseMs);
        await pastLease();
        const swept = await sweep(store, { autoResume: false, maxAttempts: 10 });
        expect(swept).toHaveLength(1);
        expect(swept[0]).toMatchObject({ id: job.id, status: 'interrupted' });
        expect(swept[0]?.error?.code).toBe('LEASE_EXPIRED');
        expect(await store.getJob(job.id)).toEqual(swept[0]);
        expect(await sweep(store, { autoResume: false, maxAttempts: 10 })).toEqual([]);
      },
    );

    test(
      'lease-expiry-cancel-requested',
      'an expired job with a cancel request is swept to cancelled',
      async () => {
        const { store } = await open();
        const { job } = await running(store, ACCOUNT, leaseMs);
        await cancel(store, job.id);
        await pastLease();
        const swept = await sweep(store, { autoResume: true, maxAttempts: 3 });
        expect(swept).toHaveLength(1);
        expect(swept[0]).toMatchObject({ id: job.id, status: 'cancelled', cancelRequested: true });
        expect(swept[0]?.finishedAt).not.toBeNull();
        expect(await store.getActiveJob(ACCOUNT)).toBeNull();
      },
    );

    test(
      'concurrent-sweeps',
      'each expired job is changed by exactly one of several concurrent sweepers',
      async () => {
        const { stores } = await open();
        const ids: string[] = [];
        for (let index = 0; index < 5; index++) {
          ids.push(
            (await running(stores[0]!, { source: 'gmail', accountId: `acct-${index}` }, leaseMs)).job.id,
          );
        }
        await pastLease();
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, index) =>
            sweep(stores[index % stores.length]!, { autoResume: true, maxAttempts: 3 }),
          ),
        );
        const swept = results.flat().map((job) => job.id);
        expect(swept.sort()).toEqual([...ids].sort());
        for (const id of ids) {
          const logs = await stores[0]!.getLogs(id);
          expect(logs).toHaveLength(1);
          expect((await stores[0]!.getJob(id))?.status).toBe('queued');
        }
      },
      20_000,
    );

    test('lease-lost-taken-over', 'a worker whose job was taken over changes nothing', async () => {
      const { store, other } = await open();
      const { job, lease } = await running(store, ACCOUNT, leaseMs);
      await store.commitBatch(lease, {
        ...syntheticBatch({ jobId: job.id, count: 2 }),
        stage: { add: [{ id: 'keep-1', group: 'g' }] },
      });
      await pastLease();
      await sweep(other, { autoResume: true, maxAttempts: 3 });
      const taken = await claim(other, 'worker-2', 60_000);
      expect(taken.job.id).toBe(job.id);
      const before = await snapshot(store, ACCOUNT, job.id);

      await expectAllFencedWritesLost(store, lease);
      await expectAllFencedWritesLost(store, { ...taken.lease, token: newId() });
      expect(await snapshot(store, ACCOUNT, job.id)).toEqual(before);
      // The new owner is unaffected.
      expect((await other.renewLease(taken.lease, 60_000)).status).toBe('running');
    });

    test('lease-lost-expired', 'a worker whose lease merely expired changes nothing', async () => {
      const { store } = await open();
      const { job, lease } = await running(store, ACCOUNT, leaseMs);
      await store.commitBatch(lease, syntheticBatch({ jobId: job.id, count: 2 }));
      await pastLease();
      const before = await snapshot(store, ACCOUNT, job.id);
      expect(before.job?.status).toBe('running');

      await expectAllFencedWritesLost(store, lease);
      expect(await snapshot(store, ACCOUNT, job.id)).toEqual(before);
      expect((await sweep(store, { autoResume: true, maxAttempts: 3 })).map((swept) => swept.id)).toEqual([
        job.id,
      ]);
    });

    test(
      'lease-lost-after-end',
      'a lease is dead once its job was finished, released or cancelled',
      async () => {
        const { store } = await open();
        const finished = await running(store);
        await store.finishJob(finished.lease, { status: 'completed', cursor: 'h1' });
        let before = await snapshot(store, ACCOUNT, finished.job.id);
        await expectAllFencedWritesLost(store, finished.lease);
        expect(await snapshot(store, ACCOUNT, finished.job.id)).toEqual(before);

        const released = await running(store);
        await store.releaseJob(released.lease, releaseTransition);
        before = await snapshot(store, ACCOUNT, released.job.id);
        await expectAllFencedWritesLost(store, released.lease);
        expect(await snapshot(store, ACCOUNT, released.job.id)).toEqual(before);

        const reclaimed = await claim(store, 'worker-2');
        await cancel(store, reclaimed.job.id);
        await store.finishJob(reclaimed.lease, { status: 'cancelled' });
        before = await snapshot(store, ACCOUNT, reclaimed.job.id);
        await expectAllFencedWritesLost(store, reclaimed.lease);
        expect(await snapshot(store, ACCOUNT, reclaimed.job.id)).toEqual(before);
      },
    );

    test(
      'concurrent-log-appends',
      '1,000 concurrent log appends get seq 1..1000 exactly',
      async () => {
        const { stores } = await open();
        const { job, lease } = await running(stores[0]!);
        const results = await Promise.all(
          Array.from({ length: 1000 }, (_, index) =>
            stores[index % stores.length]!.appendLogs(
              job.id,
              [line(`line ${index}`, { index })],
              index % 2 === 0 ? lease : undefined,
            ),
          ),
        );
        const returnedSeqs = results.flat().map((entry) => entry.seq);
        expect(new Set(returnedSeqs).size).toBe(1000);
        const logs = await stores[0]!.getLogs(job.id, { limit: 5000 });
        expect(logs.map((entry) => entry.seq)).toEqual(Array.from({ length: 1000 }, (_, index) => index + 1));
        expect(new Set(logs.map((entry) => entry.message)).size).toBe(1000);
        expect((await stores[0]!.getJob(job.id))?.lastLogSeq).toBe(1000);

        const more = await stores[0]!.appendLogs(job.id, [line('a'), line('b'), line('c')]);
        expect(more.map((entry) => [entry.seq, entry.message, entry.jobId])).toEqual([
          [1001, 'a', job.id],
          [1002, 'b', job.id],
          [1003, 'c', job.id],
        ]);
      },
      30_000,
    );

    test('logs-paging', 'getLogs pages after a seq with a limit', async () => {
      const { store } = await open();
      const job = await start(store);
      await store.appendLogs(
        job.id,
        Array.from({ length: 25 }, (_, index) => line(`line ${index + 1}`, { index: index + 1 })),
      );
      const all = await store.getLogs(job.id);
      expect(all.map((entry) => entry.seq)).toEqual(Array.from({ length: 25 }, (_, index) => index + 1));
      expect(all[4]).toMatchObject({
        jobId: job.id,
        seq: 5,
        level: 'info',
        message: 'line 5',
        data: { index: 5 },
      });
      const page = await store.getLogs(job.id, { afterSeq: 10, limit: 5 });
      expect(page.map((entry) => entry.seq)).toEqual([11, 12, 13, 14, 15]);
      expect((await store.getLogs(job.id, { afterSeq: 23 })).map((entry) => entry.seq)).toEqual([24, 25]);
      expect(await store.getLogs(job.id, { afterSeq: 25 })).toEqual([]);
      expect(await store.getLogs(job.id, { afterSeq: 0, limit: 1 })).toEqual([all[0]]);
    });

    test(
      'append-logs-unknown-job',
      'appendLogs to an unknown job throws NOT_FOUND; any job takes control-plane lines',
      async () => {
        const { store } = await open();
        await expectCode(store.appendLogs(newId(), [line('nobody')]), 'NOT_FOUND');
        const { job, lease } = await running(store);
        await store.finishJob(lease, {
          status: 'failed',
          error: { code: 'NETWORK', message: 'down', retryable: true },
        });
        const appended = await store.appendLogs(job.id, [line('noted after the end')]);
        expect(appended.map((entry) => entry.seq)).toEqual([1]);
      },
    );

    test('cancel-queued', 'cancelling a queued job cancels it at once', async () => {
      const { store } = await open();
      const job = await start(store);
      const cancelled = await cancel(store, job.id, [line('Cancelled by the user.')]);
      expect(cancelled).toMatchObject({ id: job.id, status: 'cancelled', lastLogSeq: 1 });
      expect(cancelled?.finishedAt).not.toBeNull();
      expect(await store.getJob(job.id)).toEqual(cancelled);
      expect(await store.getActiveJob(ACCOUNT)).toBeNull();
      expect(await store.claimJob({ workerId: 'worker-1', leaseMs: 60_000 })).toBeNull();
      expect((await store.getLogs(job.id)).map((entry) => entry.message)).toEqual(['Cancelled by the user.']);
      expect((await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' })).created).toBe(true);
    });

    test(
      'cancel-running',
      'cancelling a running job flags it; the worker then finishes it as cancelled',
      async () => {
        const { store } = await open();
        const { job, lease } = await running(store);
        const batch = syntheticBatch({ jobId: job.id, count: 2 });
        await store.commitBatch(lease, { ...batch, stage: { add: [{ id: 's1', group: null }] } });
        const flagged = await cancel(store, job.id, [line('Cancel requested.')]);
        expect(flagged).toMatchObject({ status: 'running', cancelRequested: true, finishedAt: null });
        expect((await store.getActiveJob(ACCOUNT))?.id).toBe(job.id);

        const { job: cancelled, logs: finishLogs } = await store.finishJob(lease, {
          status: 'cancelled',
          logs: [line('Stopped.')],
        });
        expect(finishLogs.map((entry) => [entry.seq, entry.message])).toEqual([
          [cancelled.lastLogSeq, 'Stopped.'],
        ]);
        expect(cancelled).toMatchObject({ status: 'cancelled', leaseExpiresAt: null, phase: null });
        expect(cancelled.finishedAt).not.toBeNull();
        // What was stored stays stored, and the checkpoint stays for a later run.
        expect(await store.data.countMessages(ACCOUNT)).toBe(2);
        expect((await store.getAccountState(ACCOUNT))?.checkpoint).toEqual(batch.checkpoint);
        expect(await store.countStaged(ACCOUNT)).toBe(1);

        await sleep(5);
        const unchanged = await cancel(store, job.id, [line('Too late.')]);
        expect(unchanged).toEqual(cancelled);
        expect(await store.getJob(job.id)).toEqual(cancelled);
      },
    );

    test('release', 'releaseJob puts the job back in the queue, claimable at once', async () => {
      const { store, other } = await open();
      const { job, lease } = await running(store);
      const batch = syntheticBatch({ jobId: job.id, count: 2 });
      await store.commitBatch(lease, batch);
      const { job: released, logs: releaseLogs } = await store.releaseJob(
        lease,
        withLines(releaseTransition, [line('Released for shutdown.')]),
      );
      expect(releaseLogs.map((entry) => entry.message)).toEqual(['Released for shutdown.']);
      expect(released).toMatchObject({ id: job.id, status: 'queued', leaseExpiresAt: null, phase: null });
      expect(released.finishedAt).toBeNull();

      const reclaimed = await claim(other, 'worker-2');
      expect(reclaimed.job).toMatchObject({ id: job.id, attempt: 2, counters: batch.progress?.counters });
      expect((await store.getAccountState(ACCOUNT))?.checkpoint).toEqual(batch.checkpoint);

      await cancel(store, job.id);
      const { job: cancelled } = await other.releaseJob(reclaimed.lease, releaseTransition);
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.finishedAt).not.toBeNull();
      expect(await store.claimJob({ workerId: 'worker-3', leaseMs: 60_000 })).toBeNull();
    });

    test(
      'finish-keeps-checkpoint',
      'a job that ends other than completed keeps the checkpoint, staged items and cursor',
      async () => {
        const { store } = await open();
        for (const status of ['failed', 'cancelled', 'interrupted'] as const) {
          const { job, lease } = await running(store);
          const batch = syntheticBatch({ jobId: job.id, count: 1 });
          await store.commitBatch(lease, {
            ...batch,
            stage: { clear: true, add: [{ id: `${status}-1`, group: null }] },
          });
          const error =
            status === 'failed'
              ? { code: 'REAUTH_REQUIRED' as const, message: 'Sign in again.', retryable: false }
              : null;
          const { job: ended } = await store.finishJob(lease, { status, error, cursor: `cursor-${status}` });
          expect(ended).toMatchObject({ status, error, leaseExpiresAt: null });
          expect(ended.finishedAt).not.toBeNull();
          const account = await store.getAccountState(ACCOUNT);
          expect(account).toMatchObject({
            cursor: null,
            lastSyncedAt: null,
            lastFullSyncAt: null,
            lastJobId: job.id,
          });
          expect(account?.checkpoint).toEqual(batch.checkpoint);
          expect(await store.listStaged(ACCOUNT, { limit: 10 })).toEqual([
            { id: `${status}-1`, group: null },
          ]);
        }
      },
    );

    test(
      'account-state',
      'account state round-trips: cursor, checkpoint, lastSyncedAt, lastFullSyncAt, lastJobId',
      async () => {
        const { store } = await open();
        const full = await running(store, ACCOUNT, 60_000, 'full');
        const checkpoint = checkpointOf(full.job.id, {
          pageToken: 'p2',
          listed: [1, 2],
          nested: { a: null, b: 'x' },
        });
        await store.commitBatch(full.lease, { checkpoint, stage: { add: [{ id: 'x', group: 'y' }] } });
        expect((await store.getAccountState(ACCOUNT))?.checkpoint).toEqual(checkpoint);

        const { job: done } = await store.finishJob(full.lease, {
          status: 'completed',
          cursor: 'h100',
          progress: { counters: counters({ total: 10, stored: 10, fetched: 10 }) },
          logs: [line('Done.')],
        });
        expect(done).toMatchObject({
          status: 'completed',
          percent: 100,
          error: null,
          leaseExpiresAt: null,
          phase: null,
        });
        const afterFull = await store.getAccountState(ACCOUNT);
        expect(afterFull).toMatchObject({
          ...ACCOUNT,
          cursor: 'h100',
          checkpoint: null,
          lastJobId: full.job.id,
        });
        expect(afterFull?.lastSyncedAt).not.toBeNull();
        expect(afterFull?.lastFullSyncAt).not.toBeNull();
        expect(await store.countStaged(ACCOUNT)).toBe(0);

        await sleep(5);
        const incremental = await running(store, ACCOUNT, 60_000, 'incremental');
        await store.finishJob(incremental.lease, { status: 'completed', cursor: 'h200' });
        const afterIncremental = await store.getAccountState(ACCOUNT);
        expect(afterIncremental).toMatchObject({ cursor: 'h200', lastJobId: incremental.job.id });
        expect(afterIncremental?.lastFullSyncAt).toBe(afterFull?.lastFullSyncAt);
        expect(ms(afterIncremental?.lastSyncedAt ?? null)).toBeGreaterThan(
          ms(afterFull?.lastSyncedAt ?? null),
        );

        const noCursor = await running(store, ACCOUNT, 60_000, 'incremental');
        await store.finishJob(noCursor.lease, { status: 'completed' });
        expect((await store.getAccountState(ACCOUNT))?.cursor).toBe('h200');

        await start(store, { source: 'alpha', accountId: 'acct-b' });
        await start(store, { source: 'gmail', accountId: 'acct-0' });
        const all = await store.listAccountStates();
        expect(all.map((state) => `${state.source}/${state.accountId}`)).toEqual([
          'alpha/acct-b',
          'gmail/acct-0',
          'gmail/acct-a',
        ]);
        const gmail = await store.listAccountStates({ source: 'gmail' });
        expect(gmail.map((state) => state.accountId)).toEqual(['acct-0', 'acct-a']);
      },
    );

    test('history', 'listJobs is newest first, with a limit and filters', async () => {
      const { store } = await open();
      const a1 = await start(store, ACCOUNT);
      await cancel(store, a1.id);
      await sleep(5);
      const b1 = await start(store, OTHER_ACCOUNT);
      const claimedB = await claim(store);
      expect(claimedB.job.id).toBe(b1.id);
      await store.finishJob(claimedB.lease, { status: 'completed' });
      await sleep(5);
      const c1 = await start(store, { source: 'gmail', accountId: 'acct-c' });
      await sleep(5);
      const a2 = await start(store, ACCOUNT);
      await sleep(5);
      const foreign = await start(store, { source: 'other', accountId: ACCOUNT.accountId });

      const ids = (jobs: Job[]) => jobs.map((job) => job.id);
      expect(ids(await store.listJobs())).toEqual([foreign.id, a2.id, c1.id, b1.id, a1.id]);
      expect(ids(await store.listJobs({ limit: 2 }))).toEqual([foreign.id, a2.id]);
      expect(ids(await store.listJobs({ accountId: ACCOUNT.accountId }))).toEqual([foreign.id, a2.id, a1.id]);
      expect(ids(await store.listJobs({ ...ACCOUNT }))).toEqual([a2.id, a1.id]);
      expect(ids(await store.listJobs({ source: 'gmail', limit: 3 }))).toEqual([a2.id, c1.id, b1.id]);
      expect(ids(await store.listJobs({ statuses: ['queued'] }))).toEqual([foreign.id, a2.id, c1.id]);
      expect(ids(await store.listJobs({ statuses: ['completed', 'cancelled'] }))).toEqual([b1.id, a1.id]);
      expect((await store.listJobs({ statuses: ['completed'] }))[0]?.status).toBe('completed');
    });

    test('staged', 'staged items: add, remove, clear, (group, id) order, after, count', async () => {
      const { store } = await open();
      const { lease } = await running(store);
      await running(store, OTHER_ACCOUNT).then(({ lease: otherLease }) =>
        store.commitBatch(otherLease, { stage: { add: [{ id: 'other-1', group: null }] } }),
      );
      await store.commitBatch(lease, {
        stage: {
          add: [
            { id: 'm3', group: 't2' },
            { id: 'm2', group: 't1' },
            { id: 'm9', group: null },
            { id: 'm1', group: 't1' },
            { id: 'm0', group: null },
          ],
        },
      });
      const order = (items: Array<{ id: string }>) => items.map((item) => item.id);
      const all = await store.listStaged(ACCOUNT, { limit: 100 });
      expect(all).toEqual([
        { id: 'm0', group: null },
        { id: 'm9', group: null },
        { id: 'm1', group: 't1' },
        { id: 'm2', group: 't1' },
        { id: 'm3', group: 't2' },
      ]);
      expect(await store.countStaged(ACCOUNT)).toBe(5);
      expect(order(await store.listStaged(ACCOUNT, { limit: 2 }))).toEqual(['m0', 'm9']);
      expect(order(await store.listStaged(ACCOUNT, { limit: 2, after: { id: 'm9', group: null } }))).toEqual([
        'm1',
        'm2',
      ]);
      expect(order(await store.listStaged(ACCOUNT, { limit: 10, after: { id: 'm2', group: 't1' } }))).toEqual(
        ['m3'],
      );
      expect(
        order(await store.listStaged(ACCOUNT, { limit: 10, after: { id: 'm15', group: 't1' } })),
      ).toEqual(['m2', 'm3']);
      expect(await store.listStaged(ACCOUNT, { limit: 10, after: { id: 'm3', group: 't2' } })).toEqual([]);

      // An id already staged is left as it is; unknown ids are ignored on removal.
      await store.commitBatch(lease, {
        stage: { add: [{ id: 'm1', group: 't9' }], remove: ['m2', 'unknown'] },
      });
      expect(await store.listStaged(ACCOUNT, { limit: 100 })).toEqual([
        { id: 'm0', group: null },
        { id: 'm9', group: null },
        { id: 'm1', group: 't1' },
        { id: 'm3', group: 't2' },
      ]);
      await store.commitBatch(lease, { stage: { clear: true, add: [{ id: 'n1', group: 'u1' }] } });
      expect(await store.listStaged(ACCOUNT, { limit: 100 })).toEqual([{ id: 'n1', group: 'u1' }]);
      expect(await store.countStaged(ACCOUNT)).toBe(1);
      expect(await store.listStaged(OTHER_ACCOUNT, { limit: 100 })).toEqual([{ id: 'other-1', group: null }]);
    });

    test(
      'default-sink',
      'the default sink upserts idempotently, deletes, changes labels and keeps only labels',
      async () => {
        const { store } = await open();
        const { lease } = await running(store);
        const m1 = message('m1', {
          internalDate: 300,
          labelIds: ['INBOX', 'UNREAD'],
          raw: 'UmF3IG1lc3NhZ2U',
          payload: { mimeType: 'text/plain', parts: [{ partId: '0' }] },
          category: 'primary',
        });
        const m2 = message('m2', {
          internalDate: 100,
          threadId: null,
          historyId: null,
          snippet: null,
          sizeEstimate: null,
        });
        const m3 = message('m3', { internalDate: 200, headers: {} });
        const labels: MailLabel[] = [
          { id: 'INBOX', name: 'INBOX', type: 'system', messagesTotal: 3, messagesUnread: 1 },
          { id: 'Label_1', name: 'Work', type: 'user', messagesTotal: null, messagesUnread: null },
          { id: 'UNREAD', name: 'UNREAD', type: 'system' },
        ];
        const write: SinkWrite = { upsertMessages: [m1, m2, m3], upsertLabels: labels };
        await store.commitBatch(lease, { write });
        await store.commitBatch(lease, { write });
        expect(await store.data.countMessages(ACCOUNT)).toBe(3);
        expect((await store.data.listMessages(ACCOUNT)).map(normalizeMessage)).toEqual(
          [m1, m2, m3].map(normalizeMessage),
        );
        const storedLabels = await store.data.listLabels(ACCOUNT);
        expect(storedLabels.map((label) => label.id)).toEqual(['INBOX', 'Label_1', 'UNREAD']);
        expect(storedLabels[0]).toMatchObject(labels[0]!);

        const m2b = { ...m2, snippet: 'updated', labelIds: ['Label_1'] };
        await store.commitBatch(lease, { write: { upsertMessages: [m2b] } });
        expect(await store.data.countMessages(ACCOUNT)).toBe(3);
        expect(
          (await store.data.listMessages(ACCOUNT, { afterId: 'm1', limit: 1 })).map(normalizeMessage),
        ).toEqual([normalizeMessage(m2b)]);

        await store.commitBatch(lease, {
          write: {
            deleteMessages: ['m3', 'nope'],
            changeLabels: [
              { id: 'm1', add: ['Label_1'], remove: ['UNREAD'] },
              { id: 'ghost', add: ['INBOX'], remove: [] },
            ],
          },
        });
        const remaining = (await store.data.listMessages(ACCOUNT)).map(normalizeMessage);
        expect(remaining.map((stored) => stored.id)).toEqual(['m1', 'm2']);
        expect(remaining[0]?.labelIds).toEqual(['INBOX', 'Label_1']);
        expect(await store.data.countMessages(ACCOUNT)).toBe(2);

        const latest = await store.data.latestMessages(ACCOUNT);
        expect(latest.map((stored) => stored.id)).toEqual(['m1', 'm2']);
        expect((await store.data.latestMessages(ACCOUNT, 1)).map((stored) => stored.id)).toEqual(['m1']);
        await store.commitBatch(lease, { write: { upsertMessages: [message('m4', { internalDate: 250 })] } });
        expect((await store.data.latestMessages(ACCOUNT, 2)).map((stored) => stored.id)).toEqual([
          'm1',
          'm4',
        ]);
        expect((await store.data.listMessages(ACCOUNT, { limit: 2 })).map((stored) => stored.id)).toEqual([
          'm1',
          'm2',
        ]);

        await store.commitBatch(lease, {
          write: {
            upsertLabels: [{ id: 'Label_2', name: 'New', type: 'user' }],
            keepOnlyLabels: ['INBOX', 'Label_2'],
          },
        });
        expect((await store.data.listLabels(ACCOUNT)).map((label) => label.id)).toEqual(['INBOX', 'Label_2']);
        expect(await store.data.countMessages(OTHER_ACCOUNT)).toBe(0);
      },
    );

    test(
      'prune-messages',
      'pruneMessages removes the messages of other generations, after the batch, in this account only',
      async () => {
        const { store } = await open();
        const ids = async (key: AccountKey = ACCOUNT) =>
          (await store.data.listMessages(key, { limit: 100 })).map((stored) => stored.id);
        // Another account's messages (with no generation) must survive this account's prune.
        const other = await running(store, OTHER_ACCOUNT);
        await store.commitBatch(other.lease, { write: { upsertMessages: [message('o1')] } });
        const { lease } = await running(store);

        // Before the full sync: rows with no generation and rows of an older one.
        await store.commitBatch(lease, {
          write: { upsertMessages: [message('m1'), message('m2'), message('m3')] },
        });
        await store.commitBatch(lease, { write: { upsertMessages: [message('m4')], generation: 'g-old' } });

        // The full sync `g1` stamps what it stores; a later upsert without a generation clears the
        // stamp, and a label change does not stamp.
        await store.commitBatch(lease, {
          write: { upsertMessages: [message('m1'), message('m2'), message('m5')], generation: 'g1' },
        });
        await store.commitBatch(lease, {
          write: {
            upsertMessages: [message('m2', { snippet: 'upserted again' })],
            changeLabels: [{ id: 'm3', add: ['STARRED'], remove: [] }],
          },
        });
        expect(await ids()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);

        // The prune runs after the same write's upserts, so they are kept.
        await store.commitBatch(lease, {
          write: {
            upsertMessages: [message('m6')],
            generation: 'g1',
            pruneMessages: { keepGeneration: 'g1' },
          },
        });
        expect(await ids()).toEqual(['m1', 'm5', 'm6']);
        expect(await store.data.countMessages(ACCOUNT)).toBe(3);
        expect((await store.data.listMessages(ACCOUNT)).map(normalizeMessage)).toEqual(
          [message('m1'), message('m5'), message('m6')].map(normalizeMessage),
        );
        expect(await ids(OTHER_ACCOUNT)).toEqual(['o1']);

        // A write holding only the prune is not an empty write; pruning again is idempotent.
        await store.commitBatch(lease, { write: { upsertMessages: [message('m7')] } });
        await store.commitBatch(lease, { write: { pruneMessages: { keepGeneration: 'g1' } } });
        await store.commitBatch(lease, { write: { pruneMessages: { keepGeneration: 'g1' } } });
        expect(await ids()).toEqual(['m1', 'm5', 'm6']);

        // A new generation supersedes the old one.
        await store.commitBatch(lease, {
          write: {
            upsertMessages: [message('m5')],
            generation: 'g2',
            pruneMessages: { keepGeneration: 'g2' },
          },
        });
        expect(await ids()).toEqual(['m5']);
        expect(await ids(OTHER_ACCOUNT)).toEqual(['o1']);

        // An app's sink receives both fields as they were sent.
        const { sink, calls } = recordingSink();
        const app = await open(sink);
        const appRun = await running(app.store);
        await app.store.commitBatch(appRun.lease, { write: { pruneMessages: { keepGeneration: 'g9' } } });
        await app.store.commitBatch(appRun.lease, {
          write: { upsertMessages: [message('a1')], generation: 'g9' },
        });
        expect(calls.map((call) => [call.write.generation, call.write.pruneMessages])).toEqual([
          [undefined, { keepGeneration: 'g9' }],
          ['g9', undefined],
        ]);
      },
    );

    test('subscribe', 'subscribers hear of every job change until they unsubscribe', async () => {
      const { store } = await open();
      const notices: StoreNotice[] = [];
      const unsubscribe = store.subscribe((notice) => notices.push(notice));
      const job = await start(store);
      await waitFor(() => notices.some((notice) => notice.jobId === job.id && notice.status === 'queued'));
      const { lease } = await claim(store);
      await waitFor(() => notices.some((notice) => notice.jobId === job.id && notice.status === 'running'));
      await store.appendLogs(job.id, [line('one'), line('two')], lease);
      await waitFor(() => notices.some((notice) => notice.jobId === job.id && notice.lastLogSeq === 2));
      await store.finishJob(lease, { status: 'completed', logs: [line('done')] });
      await waitFor(() =>
        notices.some(
          (notice) => notice.jobId === job.id && notice.status === 'completed' && notice.lastLogSeq === 3,
        ),
      );

      unsubscribe();
      await sleep(100);
      const count = notices.length;
      await start(store);
      await sleep(200);
      expect(notices).toHaveLength(count);
    });

    test('accounts-isolated', 'accounts do not share jobs, state, staged items or data', async () => {
      const { store } = await open();
      const sameIdOtherSource: AccountKey = { source: 'other', accountId: ACCOUNT.accountId };
      const a = await running(store, ACCOUNT);
      const b = await start(store, OTHER_ACCOUNT);
      const c = await start(store, sameIdOtherSource);
      expect(new Set([a.job.id, b.id, c.id]).size).toBe(3);

      const batch = syntheticBatch({ jobId: a.job.id, count: 2 });
      await store.commitBatch(a.lease, {
        ...batch,
        write: { ...batch.write, upsertLabels: [{ id: 'INBOX', name: 'INBOX', type: 'system' }] },
        stage: { add: [{ id: 'x', group: null }] },
      });
      await store.finishJob(a.lease, { status: 'completed', cursor: 'h1' });
      for (const key of [OTHER_ACCOUNT, sameIdOtherSource]) {
        expect(await store.data.countMessages(key)).toBe(0);
        expect(await store.data.listLabels(key)).toEqual([]);
        expect(await store.countStaged(key)).toBe(0);
        expect(await store.getAccountState(key)).toMatchObject({
          cursor: null,
          checkpoint: null,
          lastSyncedAt: null,
        });
        expect((await store.getActiveJob(key))?.status).toBe('queued');
      }
      expect(await store.data.countMessages(ACCOUNT)).toBe(2);
      await cancel(store, b.id);
      expect((await store.getJob(c.id))?.status).toBe('queued');
    });

    test('default-limits', 'listJobs, getLogs and listMessages apply their default limits', async () => {
      const { store } = await open();
      const { job, lease } = await running(store, ACCOUNT);
      for (let index = 0; index < 55; index++) {
        await start(store, { source: 'gmail', accountId: `acct-${String(index).padStart(2, '0')}` });
      }
      expect(await store.listJobs()).toHaveLength(50);
      expect(await store.listJobs({ limit: 60 })).toHaveLength(56);

      await store.appendLogs(
        job.id,
        Array.from({ length: 600 }, (_, index) => line(`line ${index + 1}`)),
      );
      expect(await store.getLogs(job.id)).toHaveLength(500);
      expect((await store.getLogs(job.id, { afterSeq: 500 })).map((entry) => entry.seq)[0]).toBe(501);
      expect(await store.getLogs(job.id, { afterSeq: 500 })).toHaveLength(100);

      await store.commitBatch(lease, syntheticBatch({ jobId: job.id, count: 60 }));
      expect(await store.data.listMessages(ACCOUNT)).toHaveLength(50);
      expect(await store.data.latestMessages(ACCOUNT)).toHaveLength(50);
      expect(await store.data.listMessages(ACCOUNT, { limit: 100 })).toHaveLength(60);
    });

    test(
      'writes-return-logs',
      'every write returns exactly the lines it appended, with their seq, as getLogs reads them',
      async () => {
        const { store } = await open();
        const bare = (entries: LogEntry[]) =>
          entries.map(({ seq, level, message, data }) => ({ seq, level, message, data }));
        const created = await store.createJob({
          ...ACCOUNT,
          mode: 'full',
          trigger: 'manual',
          logs: [line('one')],
        });
        expect(bare(created.logs)).toEqual([{ seq: 1, level: 'info', message: 'one', data: undefined }]);
        const again = await store.createJob({
          ...ACCOUNT,
          mode: 'full',
          trigger: 'manual',
          logs: [line('x')],
        });
        expect(again.logs).toEqual([]);

        // A decision is applied verbatim: the store adds no rule of its own.
        const custom = await store.updateJob(created.job.id, (job, now) => ({
          change: { cancelRequested: true, error: { code: 'INTERNAL', message: 'noted', retryable: false } },
          logs: [{ level: 'warn', message: `seen ${job.status} at ${now.length > 0}`, data: { k: 1 } }],
        }));
        expect(custom?.job).toMatchObject({ status: 'queued', cancelRequested: true, lastLogSeq: 2 });
        expect(custom?.job.error?.message).toBe('noted');
        expect(bare(custom?.logs ?? [])).toEqual([
          { seq: 2, level: 'warn', message: 'seen queued at true', data: { k: 1 } },
        ]);
        const unchanged = await store.updateJob(created.job.id, () => null);
        expect(unchanged).toEqual({ job: custom?.job, logs: [] });

        const { job, lease } = await claim(store);
        expect(job.error).toBeNull();
        const committed = await store.commitBatch(lease, { logs: [line('batch'), line('batch 2')] });
        expect(committed.logs.map((entry) => entry.seq)).toEqual([3, 4]);
        const released = await store.releaseJob(lease, (_job, now) => ({
          change: { status: 'queued', phase: null, leaseExpiresAt: null, finishedAt: null, heartbeatAt: now },
          logs: [line('released')],
        }));
        expect(released.job).toMatchObject({ status: 'queued', leaseExpiresAt: null, lastLogSeq: 5 });
        expect(bare(released.logs)).toEqual([
          { seq: 5, level: 'info', message: 'released', data: undefined },
        ]);

        const second = await claim(store, 'worker-2', leaseMs);
        await pastLease();
        const swept = await store.sweepExpired(() => ({
          change: { status: 'interrupted', phase: null, leaseExpiresAt: null },
          logs: [line('swept a'), line('swept b')],
        }));
        expect(swept.map((written) => written.job.id)).toEqual([second.job.id]);
        expect(bare(swept[0]?.logs ?? []).map((entry) => [entry.seq, entry.message])).toEqual([
          [6, 'swept a'],
          [7, 'swept b'],
        ]);
        const stored = await store.getLogs(job.id);
        expect(stored.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(stored.slice(5)).toEqual(swept[0]?.logs);
        expect(stored.slice(4, 5)).toEqual(released.logs);
        expect(stored.slice(2, 4)).toEqual(committed.logs);
        await expectCode(store.renewLease(second.lease, 60_000), 'LEASE_LOST');
      },
    );

    test(
      'null-lease-expired',
      'a running job without a lease expiry counts as expired: swept, and its lease is dead',
      async () => {
        const { store } = await open();
        const { job, lease } = await running(store);
        await options.clearLeaseExpiry?.(store, job.id);
        expect((await store.getJob(job.id))?.leaseExpiresAt).toBeNull();
        await expectCode(store.renewLease(lease, 60_000), 'LEASE_LOST');
        const swept = await sweep(store, { autoResume: true, maxAttempts: 3 });
        expect(swept.map((changed) => [changed.id, changed.status])).toEqual([[job.id, 'queued']]);
      },
    );

    test(
      'lifecycle-through-engine',
      "the engine's lifecycle lines and errors reach the store and listeners as core computes them",
      async () => {
        const { store } = await open();
        const source = createTestSource({ id: ACCOUNT.source, messages: 5 });
        const policy = { autoResume: true, maxAttempts: 1 };
        const engine = createSyncEngine({ store, sources: [source], worker: false, ...policy });
        const emitted: LogEntry[] = [];
        engine.on('log', (event) => emitted.push(event.entry));
        try {
          // Cancel of a queued job: cancelled at once, with core's line.
          const { job: queued } = await engine.start(ACCOUNT);
          const cancelled = await engine.cancel(queued.id);
          const expectedCancel = cancelTransition(queued, cancelled.updatedAt);
          expect(cancelled).toMatchObject({ ...expectedCancel?.change, finishedAt: cancelled.finishedAt });
          const cancelLogs = await store.getLogs(queued.id);
          expect(cancelLogs.at(-1)).toMatchObject(expectedCancel?.logs[0] ?? {});
          expect(emitted).toEqual(cancelLogs);

          // A worker that stopped heart-beating with its attempts spent: interrupted by the sweep.
          emitted.length = 0;
          await engine.start(ACCOUNT);
          const dead = await claim(store, 'dead-worker', leaseMs);
          await pastLease();
          const asRead = (await store.getJob(dead.job.id))!;
          expect(await runPendingJobs(engine)).toBe(0);
          const interrupted = (await store.getJob(dead.job.id))!;
          const expected = expireTransition(asRead, interrupted.finishedAt ?? '', policy);
          expect(interrupted).toMatchObject({ ...expected?.change, status: 'interrupted' });
          const lines = await store.getLogs(dead.job.id);
          expect(lines.at(-1)).toMatchObject(expected?.logs[0] ?? {});
          expect(emitted.at(-1)).toEqual(lines.at(-1));
        } finally {
          await engine.stop();
        }
      },
      20_000,
    );

    test(
      'quota-take',
      'takeQuota adds units to every window or to none, and reads with 0 units',
      async () => {
        const { store, other } = await open();
        const far = Date.now() + 3_600_000;
        const minute = { key: 'slice:1', limit: 100, expiresAt: far };
        const day = { key: 'day:1', limit: 150, expiresAt: far };
        expect(await store.takeQuota({ scope: 'p', units: 60, windows: [minute, day] })).toEqual({
          granted: true,
          used: [60, 60],
        });
        // Does not fit the minute: nothing changes, the day included.
        expect(await other.takeQuota({ scope: 'p', units: 50, windows: [minute, day] })).toEqual({
          granted: false,
          used: [60, 60],
        });
        expect(await other.takeQuota({ scope: 'p', units: 40, windows: [minute, day] })).toEqual({
          granted: true,
          used: [100, 100],
        });
        // A fresh minute, but the day cannot hold 60 more: refused in both.
        const next = { ...minute, key: 'slice:2' };
        expect(await store.takeQuota({ scope: 'p', units: 60, windows: [next, day] })).toEqual({
          granted: false,
          used: [0, 100],
        });
        expect(await store.takeQuota({ scope: 'p', units: 0, windows: [next, day] })).toEqual({
          granted: true,
          used: [0, 100],
        });
        // Larger than a whole window: goes alone into an empty one, then nothing more fits.
        const big = { key: 'slice:3', limit: 100, expiresAt: far };
        expect(await store.takeQuota({ scope: 'p', units: 250, windows: [big] })).toEqual({
          granted: true,
          used: [250],
        });
        expect((await store.takeQuota({ scope: 'p', units: 1, windows: [big] })).granted).toBe(false);
        // Scopes are separate budgets.
        expect(await store.takeQuota({ scope: 'q', units: 100, windows: [minute] })).toEqual({
          granted: true,
          used: [100],
        });
        expect((await store.takeQuota({ scope: 'p', units: 0, windows: [minute] })).used).toEqual([100]);
        // Bad input is refused with a code and changes nothing.
        await expectCode(store.takeQuota({ scope: 'p', units: -1, windows: [next] }), 'INVALID_INPUT');
        await expectCode(store.takeQuota({ scope: 'p', units: 1.5, windows: [next] }), 'INVALID_INPUT');
        await expectCode(store.takeQuota({ scope: 'p', units: 1, windows: [] }), 'INVALID_INPUT');
        await expectCode(
          store.takeQuota({ scope: 'p', units: 1, windows: [{ ...next, limit: 0 }] }),
          'INVALID_INPUT',
        );
        expect((await store.takeQuota({ scope: 'p', units: 0, windows: [next] })).used).toEqual([0]);
      },
    );

    test(
      'quota-take-concurrent',
      'concurrent takes from every instance never overspend a window',
      async () => {
        const { stores } = await open();
        const window = { key: 'slice:1', limit: 100, expiresAt: Date.now() + 3_600_000 };
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            stores[i % stores.length]!.takeQuota({ scope: 'p', units: 7, windows: [window] }),
          ),
        );
        const granted = results.filter((result) => result.granted).length;
        expect(granted).toBe(14);
        expect((await stores[0]!.takeQuota({ scope: 'p', units: 0, windows: [window] })).used).toEqual([98]);
      },
    );

    test(
      'quota-demand',
      'reportQuotaDemand upserts, removes and forgets stale rows and expired windows',
      async () => {
        const { store, other } = await open();
        const t = 1_000_000;
        const row = (demander: string, priority: number, wanted: number | null, seenAt: number) => ({
          demander,
          priority,
          wanted,
          seenAt,
        });
        expect(
          await store.reportQuotaDemand({
            scope: 'p',
            upsert: [row('gmail:b', 0, null, t), row('gmail:a', 1, 300, t)],
            activeSince: t - 2000,
            now: t,
          }),
        ).toEqual([row('gmail:a', 1, 300, t), row('gmail:b', 0, null, t)]);
        // Another instance overwrites one row and reads both; other scopes are untouched.
        await other.reportQuotaDemand({
          scope: 'q',
          upsert: [row('gmail:z', 0, 5, t)],
          activeSince: 0,
          now: t,
        });
        expect(
          await other.reportQuotaDemand({
            scope: 'p',
            upsert: [row('gmail:b', 1, 40, t + 1000)],
            activeSince: t - 2000,
            now: t + 1000,
          }),
        ).toEqual([row('gmail:a', 1, 300, t), row('gmail:b', 1, 40, t + 1000)]);
        // `a` was last seen before activeSince: gone; `b` is removed by its worker.
        expect(await store.reportQuotaDemand({ scope: 'p', activeSince: t + 500, now: t + 1500 })).toEqual([
          row('gmail:b', 1, 40, t + 1000),
        ]);
        expect(
          await store.reportQuotaDemand({ scope: 'p', remove: ['gmail:b'], activeSince: 0, now: t + 1500 }),
        ).toEqual([]);
        expect(await store.reportQuotaDemand({ scope: 'q', activeSince: 0, now: t })).toEqual([
          row('gmail:z', 0, 5, t),
        ]);
        // Windows expired by `now` are deleted: their key counts from zero again.
        const window = { key: 'slice:7', limit: 10, expiresAt: t + 2000 };
        await store.takeQuota({ scope: 'p', units: 10, windows: [window] });
        await store.reportQuotaDemand({ scope: 'p', activeSince: 0, now: t + 1999 });
        expect((await store.takeQuota({ scope: 'p', units: 0, windows: [window] })).used).toEqual([10]);
        await other.reportQuotaDemand({ scope: 'p', activeSince: 0, now: t + 2000 });
        expect((await store.takeQuota({ scope: 'p', units: 0, windows: [window] })).used).toEqual([0]);
      },
    );

    test(
      'quota-governor-fair',
      'workers sharing the store keep the project budget and split it evenly across accounts',
      async () => {
        const { stores } = await open();
        const run = await runQuotaScenario(stores, [
          { account: 'a1', worker: 0, trigger: 'schedule', units: 5 },
          { account: 'a2', worker: 0, trigger: 'schedule', units: 5 },
          { account: 'a3', worker: 1, trigger: 'schedule', units: 5 },
          { account: 'a4', worker: 1, trigger: 'schedule', units: 7 },
        ]);
        // Never more than a slice's budget in a slice, whoever took it.
        expect(Math.max(...run.perSlice.values())).toBeLessThanOrEqual(QUOTA_SLICE_LIMIT);
        const totals = [...run.perAccount.values()];
        expect(totals).toHaveLength(4);
        expect(jainIndex(totals)).toBeGreaterThan(0.95);
        // The budget is used, not left idle: at least 80 % of the measured slices' units.
        const spent = totals.reduce((sum, units) => sum + units, 0);
        expect(spent).toBeGreaterThan(0.8 * QUOTA_SLICE_LIMIT * run.measuredSlices);
      },
      30_000,
    );

    test(
      'quota-governor-manual-first',
      'a manual sync gets what it asks for at once; scheduled syncs share the rest evenly',
      async () => {
        const { stores } = await open();
        const run = await runQuotaScenario(stores, [
          { account: 's1', worker: 0, trigger: 'schedule', units: 5 },
          { account: 's2', worker: 0, trigger: 'schedule', units: 5 },
          { account: 's3', worker: 1, trigger: 'schedule', units: 5 },
          { account: 'm1', worker: 1, trigger: 'manual', units: 40, perSlice: true },
        ]);
        expect(Math.max(...run.perSlice.values())).toBeLessThanOrEqual(QUOTA_SLICE_LIMIT);
        // Once known, the manual sync never waits: each ask is granted in the slice it was made.
        expect(run.manualDelays.slice(3).every((slices) => slices === 0)).toBe(true);
        expect(run.perAccount.get('m1')).toBe(40 * run.measuredSlices);
        const scheduled = ['s1', 's2', 's3'].map((account) => run.perAccount.get(account) ?? 0);
        expect(jainIndex(scheduled)).toBeGreaterThan(0.95);
        expect(scheduled.reduce((sum, units) => sum + units, 0)).toBeGreaterThan(
          0.8 * (QUOTA_SLICE_LIMIT - 40) * run.measuredSlices,
        );
      },
      30_000,
    );

    test('returns-copies', 'returned objects never alias the stored state', async () => {
      const { store } = await open();
      const { job, lease } = await running(store);
      await store.commitBatch(lease, syntheticBatch({ jobId: job.id, count: 1 }));
      const fetched = (await store.getJob(job.id))!;
      const expected = structuredClone(fetched);
      fetched.counters.stored = 999;
      fetched.categoryCounts.x = 1;
      fetched.status = 'failed';
      expect(await store.getJob(job.id)).toEqual(expected);
      const stored = await store.data.listMessages(ACCOUNT);
      stored[0]?.labelIds.push('MUTATED');
      expect((await store.data.listMessages(ACCOUNT))[0]?.labelIds).toEqual(['INBOX']);
      const account = (await store.getAccountState(ACCOUNT))!;
      (account.checkpoint as SyncCheckpoint).counters.stored = 999;
      expect((await store.getAccountState(ACCOUNT))?.checkpoint?.counters.stored).toBe(1);
    });
  });
}
