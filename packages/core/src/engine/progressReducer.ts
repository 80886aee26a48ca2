import type { JobCounters, JobPhase, LogInput, SyncCheckpoint, SyncMode } from '../job/job';
import { emptyCounters, processedCount } from '../job/job';
import { milestoneLine } from '../job/jobTexts';
import type { SourceBatch } from '../source/syncSource';

/** What a run knows of its progress between batches: what the next commit writes. */
export interface RunProgress {
  readonly mode: SyncMode;
  readonly phase: JobPhase | null;
  readonly counters: Readonly<JobCounters>;
  readonly categoryCounts: Readonly<Record<string, number>>;
  readonly currentItem: string | null;
  /** The account's new incremental cursor, saved only when the job completes. */
  readonly cursor: string | undefined;
  /** Index in `MILESTONES` of the next milestone to announce. */
  readonly nextMilestone: number;
}

/** The progress a batch led to. */
export interface ProgressStep {
  progress: RunProgress;
  /**
   * The mode or the phase changed: the new one has its own pace, so the ETA measures from here,
   * and the change is told at once (not throttled).
   */
  paceReset: boolean;
  /** The milestone line this batch crossed, if any (only the highest: one line, not six). */
  lines: LogInput[];
}

/** Percentages that get a log line as a job passes them. */
export const MILESTONES = [10, 25, 50, 75, 90, 100] as const;

const COUNTER_KEYS = ['listed', 'fetched', 'classified', 'stored', 'skipped', 'deleted', 'failed'] as const;

/** A run's starting progress: from the checkpoint of its mode when there is one, milestones already passed skipped. */
export function startProgress(mode: SyncMode, checkpoint: SyncCheckpoint | null): RunProgress {
  const counters = checkpoint ? { ...emptyCounters(), ...checkpoint.counters } : emptyCounters();
  return {
    mode,
    phase: checkpoint ? checkpoint.phase : null,
    counters,
    categoryCounts: checkpoint ? { ...checkpoint.categoryCounts } : {},
    currentItem: null,
    cursor: undefined,
    nextMilestone: milestonesPassed(counters, 0).next,
  };
}

/**
 * Folds one batch into the progress. Pure: a mode switch restarts the counters (they belong to a
 * mode), counters and category counts add up finite increments, `total` is clamped at 0.
 */
export function reduceProgress(progress: RunProgress, batch: SourceBatch): ProgressStep {
  let { mode, phase, currentItem, cursor, nextMilestone } = progress;
  let counters: JobCounters = { ...progress.counters };
  const categoryCounts: Record<string, number> = { ...progress.categoryCounts };
  let paceReset = false;
  if (batch.mode !== undefined && batch.mode !== mode) {
    mode = batch.mode;
    counters = emptyCounters();
    for (const category of Object.keys(categoryCounts)) delete categoryCounts[category];
    nextMilestone = 0;
    paceReset = true;
  }
  if (batch.phase !== undefined && batch.phase !== phase) {
    phase = batch.phase;
    paceReset = true;
  }
  if (batch.total !== undefined) counters.total = batch.total === null ? null : Math.max(0, batch.total);
  for (const name of COUNTER_KEYS) {
    const increment = batch.counts?.[name];
    if (increment !== undefined && Number.isFinite(increment)) counters[name] += increment;
  }
  for (const [category, increment] of Object.entries(batch.categoryCounts ?? {})) {
    if (Number.isFinite(increment)) categoryCounts[category] = (categoryCounts[category] ?? 0) + increment;
  }
  if (batch.currentItem !== undefined) currentItem = batch.currentItem;
  if (batch.cursor !== undefined) cursor = batch.cursor;
  const milestones = milestonesPassed(counters, nextMilestone);
  return {
    progress: { mode, phase, counters, categoryCounts, currentItem, cursor, nextMilestone: milestones.next },
    paceReset,
    lines: milestones.lines,
  };
}

/** The lines of a completed job: it is 100 % done even when the provider's total was an overestimate. */
export function completionLines(progress: RunProgress): LogInput[] {
  return milestonesPassed(progress.counters, progress.nextMilestone, true).lines;
}

function milestonesPassed(
  counters: Readonly<JobCounters>,
  from: number,
  complete = false,
): { next: number; lines: LogInput[] } {
  const { total } = counters;
  if (total === null || total <= 0) return { next: from, lines: [] };
  const percent = complete ? 100 : (processedCount(counters) / total) * 100;
  let next = from;
  while (next < MILESTONES.length && percent >= MILESTONES[next]!) next += 1;
  if (next === from) return { next, lines: [] };
  return { next, lines: [milestoneLine(MILESTONES[next - 1]!, { ...counters, total })] };
}
