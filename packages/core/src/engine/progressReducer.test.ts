import { describe, expect, it } from 'vitest';
import type { SyncCheckpoint } from '../job/job';
import { emptyCounters } from '../job/job';
import type { SourceBatch } from '../source/syncSource';
import { completionLines, reduceProgress, startProgress } from './progressReducer';

const batch = (patch: Partial<SourceBatch>): SourceBatch => ({ checkpoint: null, ...patch });

describe('progressReducer', () => {
  it('adds finite counter and category increments, sets the total (clamped at 0) and the current item', () => {
    const start = startProgress('full', null);
    const { progress, paceReset, lines } = reduceProgress(
      start,
      batch({
        total: -5,
        counts: { fetched: 3, stored: 2, failed: Number.NaN },
        categoryCounts: { promotions: 2, social: Number.POSITIVE_INFINITY },
        currentItem: 'message 3',
        cursor: 'h-42',
      }),
    );
    expect(progress.counters).toMatchObject({ total: 0, fetched: 3, stored: 2, failed: 0 });
    expect(progress.categoryCounts).toEqual({ promotions: 2 });
    expect(progress).toMatchObject({ currentItem: 'message 3', cursor: 'h-42' });
    expect(paceReset).toBe(false);
    expect(lines).toEqual([]);
    expect(start.counters.fetched).toBe(0);
  });

  it('tells only the highest milestone a batch crossed, each once', () => {
    let progress = reduceProgress(startProgress('full', null), batch({ total: 100 })).progress;
    const first = reduceProgress(progress, batch({ counts: { stored: 60 } }));
    expect(first.lines.map((line) => line.message)).toEqual(['50% done: 60 of 100 messages']);
    progress = first.progress;
    expect(reduceProgress(progress, batch({ counts: { stored: 1 } })).lines).toEqual([]);
    expect(completionLines(progress).map((line) => line.data)).toEqual([{ milestone: 100 }]);
  });

  it('a phase change resets the pace; a mode switch also restarts counters and milestones', () => {
    const checkpoint: SyncCheckpoint = {
      jobId: 'j',
      mode: 'incremental',
      data: null,
      counters: { ...emptyCounters(), total: 10, stored: 6 },
      categoryCounts: { social: 1 },
      phase: 'fetching',
    };
    const resumed = startProgress('incremental', checkpoint);
    // 60 % stored at resume: 10, 25 and 50 are not announced again.
    expect(reduceProgress(resumed, batch({ counts: { stored: 1 } })).lines).toEqual([]);
    expect(reduceProgress(resumed, batch({ phase: 'fetching' })).paceReset).toBe(false);
    expect(reduceProgress(resumed, batch({ phase: 'listing' })).paceReset).toBe(true);
    const switched = reduceProgress(resumed, batch({ mode: 'full', total: 20, counts: { stored: 2 } }));
    expect(switched.paceReset).toBe(true);
    expect(switched.progress.mode).toBe('full');
    expect(switched.progress.counters).toMatchObject({ total: 20, stored: 2 });
    expect(switched.progress.categoryCounts).toEqual({});
    expect(switched.lines.map((line) => line.data)).toEqual([{ milestone: 10 }]);
  });

  it('announces nothing while the total is unknown', () => {
    const { lines } = reduceProgress(startProgress('full', null), batch({ counts: { stored: 1_000 } }));
    expect(lines).toEqual([]);
  });
});
