import { Random } from '../mailbox/prng.js';
import type { GmailMethod } from '../quota/costTables.js';
import type { DropStage, FaultRule, FaultRuleEntry } from './faultRule.js';

export interface InjectedBurst {
  status: 429 | 403;
  retryAfterSeconds: number | undefined;
}

/** Decides, call by call, which faults apply. Holds the rules and the seeded random source. */
export class FaultInjector {
  private rules: FaultRuleEntry[] = [];
  private nextId = 1;
  private random: Random;

  constructor(private readonly seed: number) {
    this.random = new Random(seed);
  }

  add(rule: FaultRule): FaultRuleEntry {
    const entry: FaultRuleEntry = {
      ...rule,
      ...(rule.rateLimitBurst ? { rateLimitBurst: { ...rule.rateLimitBurst } } : {}),
      id: this.nextId++,
    };
    this.rules.push(entry);
    return entry;
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((rule) => rule.id !== id);
    return this.rules.length !== before;
  }

  /** Removes every rule and restarts the random sequence. */
  clear(): void {
    this.rules = [];
    this.random = new Random(this.seed);
  }

  list(): FaultRuleEntry[] {
    return this.rules.map((rule) => ({ ...rule }));
  }

  private matching(method: GmailMethod, user: string): FaultRuleEntry[] {
    return this.rules.filter(
      (rule) =>
        (!rule.methods || rule.methods.includes(method)) &&
        (!rule.users || rule.users.some((address) => address.toLowerCase() === user)),
    );
  }

  takeBurst(method: GmailMethod, user: string): InjectedBurst | undefined {
    const rule = this.matching(method, user).find((r) => r.rateLimitBurst && r.rateLimitBurst.count > 0);
    if (!rule?.rateLimitBurst) return undefined;
    rule.rateLimitBurst.count -= 1;
    return {
      status: rule.rateLimitBurst.status ?? 429,
      retryAfterSeconds: rule.rateLimitBurst.retryAfterSeconds,
    };
  }

  concurrencyLimit(method: GmailMethod, user: string): number {
    let limit = Number.POSITIVE_INFINITY;
    for (const rule of this.matching(method, user)) {
      if (rule.maxConcurrent !== undefined) limit = Math.min(limit, rule.maxConcurrent);
    }
    return limit;
  }

  latencyMs(method: GmailMethod, user: string): number {
    let ms = 0;
    for (const rule of this.matching(method, user)) {
      if (!rule.latency) continue;
      ms +=
        (rule.latency.fixedMs ?? 0) +
        (rule.latency.randomMs ? this.random.next() * rule.latency.randomMs : 0);
    }
    return ms;
  }

  serverError(method: GmailMethod, user: string): 500 | 503 | undefined {
    for (const rule of this.matching(method, user)) {
      if (rule.errorRate && this.random.chance(rule.errorRate)) return rule.errorStatus ?? 500;
    }
    return undefined;
  }

  drop(method: GmailMethod, user: string): DropStage | undefined {
    for (const rule of this.matching(method, user)) {
      if (rule.dropRate && this.random.chance(rule.dropRate)) return rule.dropAt ?? 'body';
    }
    return undefined;
  }
}
