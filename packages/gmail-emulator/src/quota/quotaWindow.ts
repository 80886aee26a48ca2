/**
 * A moving-window budget like Google's per-user quota: a charge is admitted when the units spent
 * in the last `windowMs` plus the charge stay within `limit`. Charges are kept in a queue and
 * expire one by one, so there is no burst at a minute boundary as with a fixed window.
 */
export class QuotaWindow {
  private times: number[] = [];
  private units: number[] = [];
  private head = 0;
  private spent = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  private expire(now: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= now - this.windowMs) {
      this.spent -= this.units[this.head]!;
      this.head++;
    }
    // Compact now and then so the queue does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.units = this.units.slice(this.head);
      this.head = 0;
    }
  }

  /** Units spent in the window ending now. */
  used(now: number): number {
    this.expire(now);
    return this.spent;
  }

  /**
   * 0 when `cost` fits now, else the wait in ms until it would; spends nothing. With `charge`, lets
   * a caller check several budgets before spending in any, since a refused call costs nothing.
   */
  waitFor(cost: number, now: number): number {
    this.expire(now);
    if (this.spent + cost <= this.limit) return 0;
    let freed = 0;
    for (let i = this.head; i < this.times.length; i++) {
      freed += this.units[i]!;
      if (this.spent - freed + cost <= this.limit) return Math.max(1, this.times[i]! + this.windowMs - now);
    }
    return this.windowMs;
  }

  /** Spends `cost` now, whether or not it fits (call `waitFor` first). */
  charge(cost: number, now: number): void {
    this.expire(now);
    this.times.push(now);
    this.units.push(cost);
    this.spent += cost;
  }
}
