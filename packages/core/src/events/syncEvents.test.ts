import { describe, expect, it } from 'vitest';
import type { Job, LogEntry } from '../job/job';
import { applyEvent, applyEvents, emptyJobViewState, type SyncEvent } from './syncEvents';

const job = { id: 'j', status: 'running', updatedAt: '2026-01-01T00:00:00.000Z', lastLogSeq: 0 } as Job;
const line = (seq: number, jobId = 'j'): SyncEvent => ({
  type: 'log',
  jobId,
  entry: { jobId, seq, at: job.updatedAt, level: 'info', message: `line ${seq}` } as LogEntry,
});
const oneByOne = (events: SyncEvent[], maxLogs?: number) =>
  events.reduce((state, event) => applyEvent(state, event, { maxLogs }), emptyJobViewState);

describe('applyEvents', () => {
  it('gives what applyEvent one by one gives: duplicates, gaps, foreign jobs, snapshots between runs, the cap', () => {
    const events: SyncEvent[] = [
      line(1),
      { type: 'snapshot', jobId: 'j', job },
      line(2),
      line(2),
      line(3),
      line(1),
      line(4, 'other'),
      line(6),
      { type: 'progress', jobId: 'j', progress: { ...job, updatedAt: '2026-01-01T00:00:01.000Z' } },
      line(7),
      line(5),
      line(8),
    ];
    for (const maxLogs of [undefined, 0, 1, 3, 100]) {
      expect(applyEvents(emptyJobViewState, events, { maxLogs })).toEqual(oneByOne(events, maxLogs));
    }
  });

  it('returns the same object when nothing changes', () => {
    const state = applyEvents(emptyJobViewState, [{ type: 'snapshot', jobId: 'j', job }, line(1), line(2)]);
    expect(applyEvents(state, [line(1), line(2), line(9, 'other')])).toBe(state);
    expect(applyEvents(state, [])).toBe(state);
  });

  it('copies the log array once for a run of lines, not once per line (a backlog is linear, not quadratic)', () => {
    const state = applyEvents(emptyJobViewState, [{ type: 'snapshot', jobId: 'j', job }, line(1)]);
    const backlog = Array.from({ length: 10_000 }, (_, i) => line(i + 2));
    // Every way of copying an array (spread goes through the iterator) adds the length it walked.
    const proto = Array.prototype as unknown as Record<PropertyKey, (...args: unknown[]) => unknown>;
    const originals = { concat: proto.concat!, slice: proto.slice!, iterator: proto[Symbol.iterator]! };
    let walked = 0;
    const counted = (original: (...args: unknown[]) => unknown) =>
      function (this: unknown[], ...args: unknown[]) {
        walked += this.length;
        return original.apply(this, args);
      };
    proto.concat = counted(originals.concat);
    proto.slice = counted(originals.slice);
    proto[Symbol.iterator] = counted(originals.iterator);
    let next: typeof state;
    try {
      next = applyEvents(state, backlog);
    } finally {
      proto.concat = originals.concat;
      proto.slice = originals.slice;
      proto[Symbol.iterator] = originals.iterator;
    }
    // Reading the 10,000 events once and copying the lines once: a few times 10,000, where a copy
    // per line walked about 50 million.
    expect(walked).toBeLessThan(4 * 10_000);
    expect(next.logs).toHaveLength(10_000);
    expect(next.logs[0]?.seq).toBe(2);
    expect(next.lastSeq).toBe(10_001);
    expect(next.job?.lastLogSeq).toBe(10_001);
  });
});
