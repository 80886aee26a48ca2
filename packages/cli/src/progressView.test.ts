import type { Job } from '@syncjob/core';
import { emptyCounters } from '@syncjob/core';
import { describe, expect, it } from 'vitest';
import { barLine, createProgressView } from './progressView';

/** Carriage return, then ANSI "erase the whole line". */
const CLEAR = '\r\u001b[2K';

const job = (overrides: Partial<Job>): Job =>
  ({
    id: 'j',
    status: 'running',
    phase: 'fetching',
    counters: { ...emptyCounters(), total: 44_000, stored: 12_340 },
    percent: 28,
    ratePerSec: 85,
    etaSeconds: 372,
    ...overrides,
  }) as Job;

describe('progress view', () => {
  it('draws a determinate bar with counts, rate and ETA, and an indeterminate one while the total is unknown', () => {
    expect(barLine(job({}))).toBe(
      '[███████░░░░░░░░░░░░░░░░░░░░░] 28% 12,340 / 44,000 · 85 msg/s · ETA 6 min · fetching',
    );
    expect(
      barLine(job({ percent: null, phase: 'listing', counters: { ...emptyCounters(), listed: 5_000 } })),
    ).toBe(`[${'·'.repeat(28)}] 5,000 listed · listing`);
  });

  it('redraws in place on a terminal and prints log lines above the bar; plain lines otherwise', () => {
    const written: string[] = [];
    const tty = createProgressView({ isTTY: true, columns: 200, write: (t) => written.push(t) });
    tty.job(job({}));
    tty.log({ jobId: 'j', seq: 1, at: '2026-03-01T10:00:00Z', level: 'info', message: 'Batch 3 stored' });
    tty.close();
    const redraw = `${CLEAR}[█`;
    expect(written[0]?.startsWith(redraw)).toBe(true);
    expect(written[1]).toBe(CLEAR);
    expect(written[2]).toMatch(/info {2}Batch 3 stored\n$/);
    expect(written[3]?.startsWith(redraw)).toBe(true);
    expect(written.at(-1)).toBe(CLEAR);

    const plain: string[] = [];
    const pipe = createProgressView({ write: (t) => plain.push(t) });
    pipe.job(job({}));
    pipe.log({ jobId: 'j', seq: 1, at: '2026-03-01T10:00:00Z', level: 'warn', message: 'Retrying' });
    pipe.close();
    expect(plain).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d warn {2}Retrying\n$/)]);
  });
});
