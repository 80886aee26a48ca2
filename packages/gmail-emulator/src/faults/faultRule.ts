import type { GmailMethod } from '../quota/costTables.js';

/** Where a dropped connection is cut: right after the status line and headers, or halfway through the body. */
export type DropStage = 'headers' | 'body';

/**
 * A fault to inject. A rule applies to the calls matching `methods` and `users`; several rules can
 * apply at once (latencies add up, the first matching burst is consumed). Random draws come from
 * the emulator's seeded generator, so a sequential client sees the same faults on every run.
 */
export interface FaultRule {
  /** Methods it applies to. Default: every Gmail method (batch parts included, each on its own). */
  methods?: GmailMethod[];
  /** User addresses it applies to. Default: every user. */
  users?: string[];
  /** Probability in [0, 1] that an answer is a `backendError`. Default 0. */
  errorRate?: number;
  /** Status of those errors: 500 (`INTERNAL`) or 503 (`UNAVAILABLE`). Default 500. */
  errorStatus?: 500 | 503;
  /** The next `count` matching answers are rate-limit errors, whatever the quota. */
  rateLimitBurst?: {
    count: number;
    /** 429 `rateLimitExceeded` or 403 `userRateLimitExceeded`. Default 429. */
    status?: 429 | 403;
    /** `Retry-After` in seconds (already in emulated time). Default 1 scaled by the speed factor. */
    retryAfterSeconds?: number;
  };
  /** Added delay: `fixedMs` plus a uniform draw in [0, `randomMs`). Default none. */
  latency?: { fixedMs?: number; randomMs?: number };
  /** Probability in [0, 1] that the connection is dropped. Default 0. */
  dropRate?: number;
  /** Where the drop happens. Default `body`. */
  dropAt?: DropStage;
  /** A per-user concurrency limit for these calls, below the emulator's own. */
  maxConcurrent?: number;
}

export interface FaultRuleEntry extends FaultRule {
  id: number;
}
