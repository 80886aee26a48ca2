import type { JobCounters } from './job';
import { processedCount } from './job';

const numberFormat = new Intl.NumberFormat('en-US');

/** "12,345": counts in log lines and views. */
export const formatCount = (value: number): string => numberFormat.format(value);

/**
 * "850 ms", "12 s", "4 min 5 s", "4 min", "2 h 3 min", "2 h" for a duration in milliseconds (the
 * one duration format of syncjob: log lines, summaries, views; callers convert seconds). A zero
 * smaller unit is left out, so a value rounded to the minute reads "12 min".
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes} min` : `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** "12,000 of 44,000 done" (or "0 of 44,000 done, 5,000 listed" while listing) for log lines. */
export function doneText(counters: JobCounters): string {
  const processed = processedCount(counters);
  const done =
    counters.total === null
      ? `${formatCount(processed)} done`
      : `${formatCount(processed)} of ${formatCount(counters.total)} done`;
  // While listing, nothing is "done" yet but the listing itself is progress worth telling.
  return processed === 0 && counters.listed > 0 ? `${done}, ${formatCount(counters.listed)} listed` : done;
}
