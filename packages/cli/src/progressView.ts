import type { Job, LogEntry } from '@syncjob/core';
import { formatCount, formatEta, formatLogTime, formatPercent, formatRate } from '@syncjob/core/client';

/** Where the CLI writes: a stream that may be a terminal. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Shows one job: log lines as they come, and on a terminal a live progress bar under them. */
export interface ProgressView {
  job(job: Job): void;
  log(entry: LogEntry): void;
  /** Removes the bar (before the final summary or on exit). */
  close(): void;
}

const BAR_WIDTH = 28;
const CLEAR_LINE = '\r\x1b[2K';

/** "14:03:27 warn  messages.get failed (RATE_LIMITED…)". */
export const formatLogLine = (entry: LogEntry): string =>
  `${formatLogTime(entry.at)} ${entry.level.padEnd(5)} ${entry.message}`;

/**
 * On a TTY: a bar redrawn in place (ANSI), with percent, counts, rate and ETA; log lines scroll
 * above it. Otherwise (a pipe, a CI log): plain log lines only, which already tell the milestones
 * and the summary, so the output stays readable and diffable.
 */
export function createProgressView(out: Output): ProgressView {
  const tty = out.isTTY === true;
  let current: Job | null = null;
  let drawn = false;

  const draw = () => {
    if (!tty || !current) return;
    const line = barLine(current);
    const width = Math.max(20, (out.columns ?? 100) - 1);
    out.write(`${CLEAR_LINE}${line.length > width ? line.slice(0, width) : line}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) out.write(CLEAR_LINE);
    drawn = false;
  };

  return {
    job(job) {
      current = job;
      draw();
    },
    log(entry) {
      clear();
      out.write(`${formatLogLine(entry)}\n`);
      draw();
    },
    close() {
      clear();
      current = null;
    },
  };
}

/** "[██████████░░░░░░░░] 42% 12,340 / 44,000 · 85 msg/s · ETA 4 min · fetching". */
export function barLine(job: Job): string {
  const { counters } = job;
  const done = counters.stored + counters.skipped + counters.deleted + counters.failed;
  const phase = job.phase ?? job.status;
  if (job.percent === null || counters.total === null) {
    const listed = counters.listed > 0 ? `${formatCount(counters.listed)} listed` : 'starting';
    return `[${'·'.repeat(BAR_WIDTH)}] ${listed} · ${phase}`;
  }
  const filled = Math.min(BAR_WIDTH, Math.floor((job.percent / 100) * BAR_WIDTH));
  const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
  return `[${bar}] ${formatPercent(job.percent)} ${formatCount(done)} / ${formatCount(counters.total)} · ${formatRate(job.ratePerSec)} · ETA ${formatEta(job)} · ${phase}`;
}
