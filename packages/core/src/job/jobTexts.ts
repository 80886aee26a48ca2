import type { JobCounters } from './job';
import { processedCount } from './job';

/** "12,345": counts in log lines. */
export const formatCount = (value: number): string => value.toLocaleString('en-US');

/** "850 ms", "12 s", "4 min 5 s", "2 h 3 min" for a duration in milliseconds. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
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
