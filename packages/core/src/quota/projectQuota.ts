import type { Clock } from '../clock';
import { sleep } from '../clock';
import { SyncError } from '../errors';
import type { AccountKey, JobTrigger } from '../job/job';
import type { QuotaWindow, SyncStore } from '../store/syncStore';
import { fairShares } from './fairShares';

/**
 * The provider project's budget, shared by every worker of a deployment through the store
 * (`createSyncEngine({ projectQuota })`). Gmail counts quota per user and per Cloud project: the
 * source's own limiter keeps each account under the per-user budget; this keeps all accounts
 * together under the project's.
 */
export interface ProjectQuotaOptions {
  /** Units the project admits per minute, for all its users together (Gmail: 1,200,000). Required. */
  unitsPerMinute: number;
  /**
   * Units the project admits per day, when it has a daily threshold (Gmail projects created from
   * May 2026: 80,000,000). Days are UTC days. Default: no daily budget.
   */
  unitsPerDay?: number;
  /**
   * Share of the project's budgets this app may spend, when other software uses the same Cloud
   * project, in (0, 1] (default 1).
   */
  share?: number;
  /**
   * Name of the budget in the store (default `'project'`). Deployments of different Cloud projects
   * sharing one store need different scopes.
   */
  scope?: string;
  /**
   * Time compression, to match an emulator running at speed N: the minute lasts 60,000 / N ms and
   * the day 86,400,000 / N ms (default 1).
   */
  speed?: number;
  /**
   * Slices of the minute the budget is counted in (default 60: one-second slices). Each slice holds
   * `unitsPerMinute × share / (slices + 1)` units: any minute overlaps at most `slices + 1` slices,
   * so the units spent in any moving minute stay under the budget, and they flow evenly.
   */
  slices?: number;
}

/** What a job's source waits for, as `SourceContext.reportWait` tells it. */
export type ProjectQuotaWait = { for: 'project-quota' | 'project-daily-quota'; until: Date };

/** The project budget as a source sees it (`ctx.projectQuota`). */
export interface ProjectQuota {
  /**
   * Resolves once `units` of the project's budget are granted to this job, waiting (abortable by
   * the job's signal) while the minute's fair share or the day's budget is spent. Call it before
   * each provider call or batch, alongside the per-user limiter.
   */
  take(units: number): Promise<void>;
  /**
   * Units one call (or batch) should cost at most: a tenth of the project's slice. A dearer call
   * saves its account's share slice by slice and is granted whole in the slice it is sent, so the
   * provider's moving minute sees its units when the governor counted them; one of more than a
   * slice cannot be, and one near a slice crowds the other accounts out of it.
   */
  readonly maxCallUnits: number;
}

/** What the governor tells a job while it waits. */
export interface ProjectQuotaHooks {
  signal: AbortSignal;
  /** The wait in ms, so the ETA does not read it as slowness. */
  reportBackoff(ms: number): void;
  /** What the job waits for and until when (`null` when it resumes). */
  reportWait?(wait: ProjectQuotaWait | null): void;
}

/** A job's handle on the governor; `close` once its run ended. */
export interface JobProjectQuota extends ProjectQuota {
  close(): void;
}

export interface ProjectQuotaGovernor {
  readonly options: Readonly<Required<Omit<ProjectQuotaOptions, 'unitsPerDay'>>> & { unitsPerDay?: number };
  /** The handle the run of a job takes units through. */
  forJob(job: AccountKey & { trigger: JobTrigger }, hooks: ProjectQuotaHooks): JobProjectQuota;
  /** Units left in today's budget for every worker together, `null` without a daily budget. */
  dailyRemaining(): Promise<number | null>;
}

/**
 * Priority in the demand registry: syncs someone waits for now before scheduled ones. That is every
 * trigger but `schedule`: `manual`, `resume` (a person's retry, or a manual start that continues a
 * checkpoint; the scheduler keeps `schedule` even when it resumes) and `push` (new mail Gmail just
 * announced, a small incremental sync).
 */
const PRIORITY_MANUAL = 1;
const PRIORITY_SCHEDULED = 0;
/** A demander not heard of for this many slices has stopped asking. */
const ACTIVE_SLICES = 3;
/** Weight of the last slice in a demander's asking rate (about the last ten slices count). */
const RATE_WEIGHT = 0.1;
/** Waits of up to this many slices in a row are folded into the ETA only, not shown as a wait. */
const SILENT_WAIT_SLICES = 2;
/** Calls per slice the project's slice holds at least at `maxCallUnits`. */
const CALLS_PER_SLICE = 10;

/** One account asking for units in this process, with its counts for the current slice. */
interface Demander {
  id: string;
  priority: number;
  handles: number;
  /** The slice the counts below are of. */
  slice: number;
  /** Its fair share of this slice. */
  share: number;
  /** Units it may take from the store this slice: its share, plus what it saved while gathering. */
  allowance: number;
  /** Units taken from the store this slice. */
  taken: number;
  /** Units taken from the store and not yet granted to a call. */
  leased: number;
  /** Units its calls asked for this slice. */
  asked: number;
  /** Units of its latest call. */
  lastCall: number;
  /** Moving average of the units asked per slice, up to the current slice; `null` before the first. */
  rate: number | null;
  /** Units granted to its calls this slice, and in the slice before (the next lease's size). */
  granted: number;
  lastGranted: number;
  /** Whether a call of it had to wait this slice: it wants more than it got. */
  waited: boolean;
  /**
   * Whether a waiting call dearer than a slice's share is saving the account's shares over several
   * slices (its unused allowance carries over), and the units it already took when it is dearer than
   * a whole slice of the project.
   */
  gathering: boolean;
  /** Its calls, one at a time in order. */
  tail: Promise<void>;
}

/**
 * Creates the governor of one process. Workers share nothing but the store: two rows per grant
 * at most (the minute's current slice, the day), and the demand registry each process reports to
 * once per slice.
 *
 * Fairness: at the start of each slice a process reports the demand of its accounts (priority,
 * units asked per slice lately, or "any" when a call had to wait) and reads everyone's; each account
 * may then take its max-min fair share of the slice (`fairShares`), manual syncs served first. An
 * account leases what it was granted in the last slice in one store round trip and hands it to
 * its calls locally, so a grant costs a round trip per account per slice, not one per call.
 */
export function createProjectQuotaGovernor(
  store: SyncStore,
  clock: Clock,
  options: ProjectQuotaOptions,
): ProjectQuotaGovernor {
  const settings = checkOptions(options);
  const { scope, speed, slices, share } = settings;
  const minuteMs = 60_000 / speed;
  const sliceMs = minuteMs / slices;
  const dayMs = 86_400_000 / speed;
  const sliceLimit = Math.max(1, Math.floor((settings.unitsPerMinute * share) / (slices + 1)));
  const maxCallUnits = Math.max(1, Math.floor(sliceLimit / CALLS_PER_SLICE));
  const dayLimit =
    settings.unitsPerDay === undefined ? null : Math.max(1, Math.floor(settings.unitsPerDay * share));

  const demanders = new Map<string, Demander>();
  const closed = new Set<string>();
  /** The shares of the current slice, as the last report computed them. */
  let shares: { slice: number; byDemander: Map<string, number> } | null = null;
  let reporting: { slice: number; done: Promise<void> } | null = null;

  const sliceOf = (now: number) => Math.floor(now / sliceMs);
  const dayOf = (now: number) => Math.floor(now / dayMs);
  const dayWindow = (day: number): QuotaWindow | null =>
    dayLimit === null ? null : { key: `day:${day}`, limit: dayLimit, expiresAt: (day + 1) * dayMs };
  const windowsAt = (slice: number, now: number): QuotaWindow[] => {
    const minute: QuotaWindow = {
      key: `slice:${slice}`,
      limit: sliceLimit,
      expiresAt: (slice + 2) * sliceMs,
    };
    const day = dayWindow(dayOf(now));
    return day ? [minute, day] : [minute];
  };

  /**
   * The demander's asking rate in units per slice as of the start of `slice`: a moving average of
   * the units it asked per slice (`null` before its first slice), so a sync that calls once every
   * few slices (a dear batch under its per-user limit) is counted at its real pace.
   */
  const rateAt = (demander: Demander, slice: number): number | null => {
    if (!Number.isFinite(demander.slice)) return null;
    if (demander.slice >= slice) return demander.rate;
    const ended =
      demander.rate === null
        ? demander.asked
        : demander.rate * (1 - RATE_WEIGHT) + demander.asked * RATE_WEIGHT;
    return ended * (1 - RATE_WEIGHT) ** (slice - demander.slice - 1);
  };

  /**
   * What a demander wants per slice: its asking rate, or any amount when a call of it had to wait
   * in the last slice it was active in (also a wait of many slices, e.g. for the next day).
   */
  const wantedOf = (demander: Demander, slice: number): number | null => {
    const rate = demander.waited ? null : rateAt(demander, slice);
    if (rate === null) return null;
    // A sync someone waits for wants at least its latest call whole each slice: its asking rate,
    // still low while it starts (a few calls one after another), would otherwise make each of its
    // calls save up over slices behind scheduled syncs.
    return Math.ceil(demander.priority === PRIORITY_MANUAL ? Math.max(rate, demander.lastCall) : rate);
  };

  /** Reports this process's demand for `slice` and reads everyone's: one store round trip. */
  const report = (slice: number): Promise<void> => {
    if (reporting?.slice === slice) return reporting.done;
    const now = clock.now();
    const remove = [...closed];
    closed.clear();
    // Every account with a job running here is a demander, also between two of its calls.
    const upsert = [...demanders.values()].map((demander) => ({
      demander: demander.id,
      priority: demander.priority,
      wanted: wantedOf(demander, slice),
      seenAt: now,
    }));
    const done = store
      .reportQuotaDemand({ scope, upsert, remove, activeSince: now - ACTIVE_SLICES * sliceMs, now })
      .then((rows) => {
        // A slow report of an earlier slice must not replace a newer one.
        if (shares === null || shares.slice <= slice)
          shares = { slice, byDemander: fairShares(sliceLimit, rows) };
      })
      .finally(() => {
        if (reporting?.done === done) reporting = null;
      });
    reporting = { slice, done };
    return done;
  };

  /**
   * Starts a new slice for the demander with its fair share. Units (and unused share) gathered for
   * a call still waiting stay with it; a lease nobody waits for lapses with its slice, so units are
   * spent in the slice that counted them.
   */
  const roll = (demander: Demander, slice: number, fairShare: number) => {
    const unused = Math.max(0, demander.allowance - demander.taken);
    demander.rate = rateAt(demander, slice);
    demander.lastGranted = slice - demander.slice === 1 ? demander.granted : 0;
    demander.share = fairShare;
    demander.allowance = fairShare + (demander.gathering ? unused : 0);
    if (!demander.gathering) demander.leased = 0;
    demander.slice = slice;
    demander.taken = 0;
    demander.asked = 0;
    demander.granted = 0;
    demander.waited = false;
  };

  /** Makes `demander` current in `slice`: its share known, its counts those of this slice. */
  const enter = async (demander: Demander, slice: number) => {
    if (demander.slice === slice) return;
    if (shares?.slice !== slice || !shares.byDemander.has(demander.id)) await report(slice);
    // A report finishing after the slice ended still gives a fair share for this one.
    const fairShare = shares?.byDemander.get(demander.id) ?? sliceLimit / Math.max(1, demanders.size);
    if (demander.slice !== slice) roll(demander, slice, fairShare);
  };

  /**
   * One attempt at `units` for `demander` at `now`: `null` when granted, else the time to try again
   * and what for. `firstInSlice` counts the units as asked in this slice (once per call and slice).
   */
  const attempt = async (
    demander: Demander,
    units: number,
    now: number,
    firstInSlice: boolean,
  ): Promise<{ until: number; for: ProjectQuotaWait['for'] } | null> => {
    const slice = sliceOf(now);
    await enter(demander, slice);
    if (firstInSlice) demander.asked += units;
    demander.lastCall = units;
    const next = (slice + 1) * sliceMs;
    const grant = () => {
      demander.leased -= units;
      demander.granted += units;
      demander.gathering = false;
      return null;
    };
    if (demander.leased >= units) return grant();
    const need = units - demander.leased;
    const left = Math.floor(demander.allowance - demander.taken);
    // A call dearer than the account's share of a slice saves the share slice by slice and takes
    // its units in one grant once they suffice, so they are counted in the slice it is sent: taken
    // bit by bit in earlier slices, they would reach the provider in a burst its moving minute
    // counts on top of the units the governor let others spend meanwhile. Only a call dearer than
    // a whole slice of the project, which no slice can grant, takes what it can slice by slice.
    // Any other waits for the next slice, so its units are spent in the slice that counted them.
    if (units > demander.share) demander.gathering = true;
    const piecemeal = units > sliceLimit;
    if (left <= 0 || (left < need && !piecemeal)) return { until: next, for: 'project-quota' };
    const windows = windowsAt(slice, now);
    // Leases what the account was granted in the last slice, so most calls need no round trip.
    let taken = Math.min(left, Math.max(need, demander.lastGranted));
    let result = await store.takeQuota({ scope, units: taken, windows });
    if (!result.granted && taken > Math.min(left, need)) {
      taken = Math.min(left, need);
      result = await store.takeQuota({ scope, units: taken, windows });
    }
    if (result.granted) {
      demander.taken += taken;
      demander.leased += taken;
      if (demander.leased >= units) return grant();
      return { until: next, for: 'project-quota' };
    }
    const dayUsed = result.used[1];
    if (dayLimit !== null && dayUsed !== undefined && dayUsed > 0 && dayUsed + need > dayLimit) {
      return { until: (dayOf(now) + 1) * dayMs, for: 'project-daily-quota' };
    }
    return { until: next, for: 'project-quota' };
  };

  const take = async (demander: Demander, units: number, hooks: ProjectQuotaHooks): Promise<void> => {
    let waits = 0;
    let shown = false;
    let askedIn = -1;
    while (true) {
      hooks.signal.throwIfAborted();
      const now = clock.now();
      const slice = sliceOf(now);
      const wait = await attempt(demander, units, now, askedIn !== slice);
      askedIn = slice;
      if (wait === null) {
        if (shown) hooks.reportWait?.(null);
        return;
      }
      demander.waited = true;
      waits += 1;
      const ms = Math.max(1, wait.until - clock.now());
      hooks.reportBackoff(ms);
      if (wait.for === 'project-daily-quota' || waits > SILENT_WAIT_SLICES) {
        hooks.reportWait?.({ for: wait.for, until: new Date(wait.until) });
        shown = true;
      }
      await sleep(ms, { clock, signal: hooks.signal });
    }
  };

  return {
    options: settings,
    forJob(job, hooks) {
      const id = `${job.source}:${job.accountId}`;
      let demander = demanders.get(id);
      if (!demander) {
        demander = {
          id,
          priority: PRIORITY_SCHEDULED,
          handles: 0,
          slice: Number.NEGATIVE_INFINITY,
          share: 0,
          allowance: 0,
          taken: 0,
          leased: 0,
          asked: 0,
          lastCall: 0,
          rate: null,
          granted: 0,
          lastGranted: 0,
          waited: false,
          gathering: false,
          tail: Promise.resolve(),
        };
        demanders.set(id, demander);
        closed.delete(id);
      }
      demander.handles += 1;
      demander.priority = job.trigger === 'schedule' ? PRIORITY_SCHEDULED : PRIORITY_MANUAL;
      const own = demander;
      let open = true;
      return {
        take(units) {
          if (!open)
            return Promise.reject(new SyncError('INTERNAL', 'This project quota handle was closed.'));
          if (!(units > 0)) return Promise.resolve();
          const granted = own.tail.then(() => take(own, Math.ceil(units), hooks));
          own.tail = granted.then(noop, noop);
          return granted;
        },
        maxCallUnits,
        close() {
          if (!open) return;
          open = false;
          own.handles -= 1;
          if (own.handles > 0) return;
          demanders.delete(own.id);
          // Removed at once, so the others' shares grow from the next slice; should this fail, the
          // next report removes it, and without one it expires after a few slices anyway.
          closed.add(own.id);
          const now = clock.now();
          store
            .reportQuotaDemand({ scope, remove: [own.id], activeSince: now - ACTIVE_SLICES * sliceMs, now })
            .then(
              () => closed.delete(own.id),
              () => {},
            );
        },
      };
    },
    async dailyRemaining() {
      const day = dayWindow(dayOf(clock.now()));
      if (!day || dayLimit === null) return null;
      const { used } = await store.takeQuota({ scope, units: 0, windows: [day] });
      return Math.max(0, dayLimit - (used[0] ?? 0));
    },
  };
}

const noop = () => {};

function checkOptions(options: ProjectQuotaOptions): ProjectQuotaGovernor['options'] {
  const bad = (message: string) =>
    new SyncError('INVALID_INPUT', `projectQuota: ${message}`, { retryable: false });
  const positive = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0;
  if (!positive(options?.unitsPerMinute)) {
    throw bad(`unitsPerMinute must be a positive number, got ${String(options?.unitsPerMinute)}.`);
  }
  if (options.unitsPerDay !== undefined && !positive(options.unitsPerDay)) {
    throw bad(`unitsPerDay must be a positive number when given, got ${String(options.unitsPerDay)}.`);
  }
  const share = options.share ?? 1;
  if (!positive(share) || share > 1) throw bad(`share must be in (0, 1], got ${String(options.share)}.`);
  const speed = options.speed ?? 1;
  if (!positive(speed)) throw bad(`speed must be a positive number, got ${String(options.speed)}.`);
  const slices = options.slices ?? 60;
  if (!Number.isInteger(slices) || slices < 1)
    throw bad(`slices must be a whole number of at least 1, got ${String(options.slices)}.`);
  const scope = options.scope ?? 'project';
  if (typeof scope !== 'string' || scope === '') throw bad('scope must be a non-empty string.');
  return {
    unitsPerMinute: options.unitsPerMinute,
    ...(options.unitsPerDay !== undefined ? { unitsPerDay: options.unitsPerDay } : {}),
    share,
    scope,
    speed,
    slices,
  };
}
