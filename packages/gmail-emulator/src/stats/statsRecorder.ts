import type { GmailMethod } from '../quota/costTables.js';

/** How a Gmail call was answered. */
export type CallOutcome =
  | 'ok'
  | 'clientError'
  | 'unauthorized'
  | 'rateLimited'
  | 'concurrencyLimited'
  | 'serverError'
  | 'dropped';

export interface CallCounters {
  /** Calls answered, whatever the outcome (batch parts count one each). */
  requests: number;
  /** Quota units charged. Refused calls are not charged. */
  units: number;
  /** Answers that were 429/403 for quota or an injected burst. */
  rateLimited: number;
  /** Answers that were the 429 "Too many concurrent requests for user". */
  concurrencyLimited: number;
  /** Injected 500/503 answers. */
  serverErrors: number;
  /** 4xx answers other than rate limits (not found, bad argument, permission). */
  clientErrors: number;
  /** 401 answers. */
  unauthorized: number;
  /** Connections dropped by a fault. */
  dropped: number;
}

function emptyCounters(): CallCounters {
  return {
    requests: 0,
    units: 0,
    rateLimited: 0,
    concurrencyLimited: 0,
    serverErrors: 0,
    clientErrors: 0,
    unauthorized: 0,
    dropped: 0,
  };
}

/** One user's calls: the counters, and the same per method. */
type UserCounters = CallCounters & { byMethod: Partial<Record<GmailMethod, CallCounters>> };

const emptyUserCounters = (): UserCounters => ({ ...emptyCounters(), byMethod: {} });

const OUTCOME_FIELD: Record<Exclude<CallOutcome, 'ok'>, keyof CallCounters> = {
  clientError: 'clientErrors',
  unauthorized: 'unauthorized',
  rateLimited: 'rateLimited',
  concurrencyLimited: 'concurrencyLimited',
  serverError: 'serverErrors',
  dropped: 'dropped',
};

/** Counts every Gmail call by method and by user; per-message fetch counts live in the mailboxes. */
export class StatsRecorder {
  totals = emptyCounters();
  byMethod = new Map<GmailMethod, CallCounters>();
  byUser = new Map<string, UserCounters>();
  batches = 0;
  batchParts = 0;
  tokenRequests = 0;
  tokenRefusals = 0;

  record(user: string | undefined, method: GmailMethod, outcome: CallOutcome, units: number): void {
    const targets: CallCounters[] = [this.totals];
    let perMethod = this.byMethod.get(method);
    if (!perMethod) {
      perMethod = emptyCounters();
      this.byMethod.set(method, perMethod);
    }
    targets.push(perMethod);
    if (user !== undefined) {
      let perUser = this.byUser.get(user);
      if (!perUser) {
        perUser = emptyUserCounters();
        this.byUser.set(user, perUser);
      }
      perUser.byMethod[method] ??= emptyCounters();
      targets.push(perUser, perUser.byMethod[method]!);
    }
    for (const counters of targets) {
      counters.requests += 1;
      counters.units += units;
      if (outcome !== 'ok') counters[OUTCOME_FIELD[outcome]] += 1;
    }
  }

  /** The calls made for `user` so far: zeros for a user who made none. */
  userCounters(user: string): UserCounters {
    return this.byUser.get(user) ?? emptyUserCounters();
  }

  reset(): void {
    this.totals = emptyCounters();
    this.byMethod.clear();
    this.byUser.clear();
    this.batches = 0;
    this.batchParts = 0;
    this.tokenRequests = 0;
    this.tokenRefusals = 0;
  }
}
