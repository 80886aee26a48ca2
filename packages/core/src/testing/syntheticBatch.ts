import type { JobCounters, SyncMode } from '../job/job';
import { emptyCounters } from '../job/job';
import type { MailMessage } from '../store/sink';
import type { BatchCommit } from '../store/syncStore';

/** A stored-message shape with deterministic content; `index` 7 gives id `m000007`. */
export function syntheticMessage(index: number, overrides: Partial<MailMessage> = {}): MailMessage {
  const id = `m${String(index).padStart(6, '0')}`;
  return {
    id,
    threadId: `t${String(Math.floor(index / 3)).padStart(6, '0')}`,
    historyId: String(1000 + index),
    internalDate: 1_700_000_000_000 + index * 60_000,
    labelIds: ['INBOX'],
    snippet: `Synthetic message ${index}`,
    sizeEstimate: 1000 + index,
    headers: { Subject: `Message ${index}`, From: 'sender@example.com' },
    category: null,
    ...overrides,
  };
}

export interface SyntheticBatchOptions {
  /** The job the checkpoint belongs to. */
  jobId: string;
  /** Number of messages in the batch. */
  count: number;
  /** Index of the first message (default 0); a run of batches passes `0, count, 2 × count…`. */
  start?: number;
  /** Default `full`. */
  mode?: SyncMode;
  /** The counters before this batch (default: empty); the batch adds `count` to `fetched` and `stored`. */
  counters?: JobCounters;
}

/**
 * One batch as an engine would commit it: `count` synthetic messages, the checkpoint that covers
 * them (`data: { next }`, the index of the next message), the progress after it and one summary
 * log line. Used by the conformance suite and by the adapters' multi-process tests.
 */
export function syntheticBatch(options: SyntheticBatchOptions): BatchCommit {
  const start = options.start ?? 0;
  const before = options.counters ?? emptyCounters();
  const counters: JobCounters = {
    ...before,
    fetched: before.fetched + options.count,
    stored: before.stored + options.count,
  };
  const next = start + options.count;
  return {
    write: {
      upsertMessages: Array.from({ length: options.count }, (_, offset) => syntheticMessage(start + offset)),
    },
    checkpoint: {
      jobId: options.jobId,
      mode: options.mode ?? 'full',
      data: { next },
      counters,
      categoryCounts: {},
      phase: 'fetching',
    },
    progress: { phase: 'fetching', counters },
    logs: [
      {
        level: 'info',
        message: `Stored messages ${start + 1}–${next}.`,
        data: { start, count: options.count },
      },
    ],
  };
}
