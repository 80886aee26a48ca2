import { QuotaWindow } from './quotaWindow.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Fixed windows kept for {@link ProjectQuotaStats.recentWindows}: an hour at speed 1. */
const RECENT_WINDOWS = 60;

export interface ProjectQuotaOptions {
  /** Units all users together may spend in any moving minute; undefined: no per-minute limit. */
  unitsPerMinute?: number | undefined;
  /** Units all users together may spend in a day (UTC); undefined: no daily limit. */
  dailyUnits?: number | undefined;
  /** Time compression: the minute lasts 60/speed s and the day 86,400/speed s. */
  speed: number;
}

/** Why the project refused a call, and how long until it would fit. */
export interface ProjectRefusal {
  limit: 'perMinute' | 'daily';
  waitMs: number;
}

export interface ProjectQuotaStats {
  /** The configured budgets (null: not limited). */
  unitsPerMinute: number | null;
  dailyUnits: number | null;
  /** Length of the (scaled) minute and day, in ms. */
  windowMs: number;
  dayMs: number;
  /** Units charged to the project in the moving window ending now. */
  windowUnits: number;
  /** Units charged in the current (scaled) day, and when that day started and ends (ISO 8601). */
  dayUnits: number;
  dayStartedAt: string;
  dayEndsAt: string;
  /** Calls refused by the per-minute and the daily budget. */
  refused: { perMinute: number; daily: number };
  /**
   * Units charged per fixed window (`windowMs` long, aligned to the epoch), oldest first, the
   * current one last; at most 60. What a dashboard of the project's usage per minute shows.
   */
  recentWindows: Array<{ startedAt: string; units: number }>;
}

/**
 * The Cloud project's quota, shared by every user of the emulator: a moving window per minute like
 * the per-user one, and a daily budget that resets at 00:00 UTC. Google resets daily quotas at
 * midnight Pacific time; UTC keeps the emulator free of time zones, and at speed N a "day" is
 * simply 86,400/N s counted from the epoch. Units are counted on every call the project admits,
 * whether or not a per-user limit is enforced.
 */
export class ProjectQuota {
  readonly unitsPerMinute: number | undefined;
  readonly dailyUnits: number | undefined;
  readonly windowMs: number;
  readonly dayMs: number;
  private readonly window: QuotaWindow | undefined;
  private dayStart = Number.NEGATIVE_INFINITY;
  private dayUnits = 0;
  private recent: Array<{ start: number; units: number }> = [];
  private refused = { perMinute: 0, daily: 0 };
  private readonly movingUnits: QuotaWindow;

  constructor(options: ProjectQuotaOptions) {
    for (const [name, value] of [
      ['projectUnitsPerMinute', options.unitsPerMinute],
      ['projectDailyUnits', options.dailyUnits],
    ] as const) {
      if (value !== undefined && !(value > 0)) throw new RangeError(`${name} must be a positive number`);
    }
    this.unitsPerMinute = options.unitsPerMinute;
    this.dailyUnits = options.dailyUnits;
    this.windowMs = MINUTE_MS / options.speed;
    this.dayMs = DAY_MS / options.speed;
    this.window =
      options.unitsPerMinute === undefined
        ? undefined
        : new QuotaWindow(options.unitsPerMinute, this.windowMs);
    // Counts the moving window's units for the stats even when the minute is not limited.
    this.movingUnits = this.window ?? new QuotaWindow(Number.POSITIVE_INFINITY, this.windowMs);
  }

  private rollDay(now: number): void {
    const start = Math.floor(now / this.dayMs) * this.dayMs;
    if (start !== this.dayStart) {
      this.dayStart = start;
      this.dayUnits = 0;
    }
  }

  /** The refusal for a call of `cost` now, or undefined when the project admits it (nothing is spent). */
  check(cost: number, now: number): ProjectRefusal | undefined {
    this.rollDay(now);
    if (this.dailyUnits !== undefined && this.dayUnits + cost > this.dailyUnits) {
      this.refused.daily += 1;
      return { limit: 'daily', waitMs: Math.max(1, this.dayStart + this.dayMs - now) };
    }
    const waitMs = this.window?.waitFor(cost, now) ?? 0;
    if (waitMs > 0) {
      this.refused.perMinute += 1;
      return { limit: 'perMinute', waitMs };
    }
    return undefined;
  }

  /** Spends `cost` of the project's budgets (after `check` admitted it). */
  charge(cost: number, now: number): void {
    this.rollDay(now);
    this.dayUnits += cost;
    this.movingUnits.charge(cost, now);
    const start = Math.floor(now / this.windowMs) * this.windowMs;
    const last = this.recent[this.recent.length - 1];
    if (last?.start === start) last.units += cost;
    else {
      this.recent.push({ start, units: cost });
      if (this.recent.length > RECENT_WINDOWS) this.recent.shift();
    }
  }

  stats(now: number): ProjectQuotaStats {
    this.rollDay(now);
    return {
      unitsPerMinute: this.unitsPerMinute ?? null,
      dailyUnits: this.dailyUnits ?? null,
      windowMs: this.windowMs,
      dayMs: this.dayMs,
      windowUnits: this.movingUnits.used(now),
      dayUnits: this.dayUnits,
      dayStartedAt: new Date(this.dayStart).toISOString(),
      dayEndsAt: new Date(this.dayStart + this.dayMs).toISOString(),
      refused: { ...this.refused },
      recentWindows: this.recent.map((w) => ({ startedAt: new Date(w.start).toISOString(), units: w.units })),
    };
  }

  /** Zeroes the refusal counts and the per-window history (spent units stay: they are quota, not stats). */
  resetStats(): void {
    this.refused = { perMinute: 0, daily: 0 };
    this.recent = [];
  }
}
