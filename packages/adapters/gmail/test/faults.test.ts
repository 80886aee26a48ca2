import { beforeEach, describe, expect, it } from 'vitest';
import {
  ADDRESS,
  createEngine,
  createMemoryStore,
  emulatorForFile,
  emulatorSource,
  mailboxState,
  storedState,
  syncOnce,
} from './helpers';

const running = emulatorForFile({ users: [{ address: ADDRESS, messages: 1_000, seed: 3 }], speed: 200 });
beforeEach(() => {
  running.emulator.clearFaults();
  running.emulator.resetStats();
});

function injectFaults() {
  const { emulator } = running;
  emulator.addFault({ errorRate: 0.1, errorStatus: 503 });
  emulator.addFault({ dropRate: 0.02 });
  emulator.addFault({
    methods: ['users.messages.get', 'users.threads.get'],
    rateLimitBurst: { count: 30, status: 429, retryAfterSeconds: 60 },
  });
  emulator.addFault({
    methods: ['users.messages.list'],
    rateLimitBurst: { count: 2, status: 403, retryAfterSeconds: 60 },
  });
}

describe.each(['batch', 'single'] as const)('faults with the %s transport', (transport) => {
  it('still stores exactly the mailbox, and logs every retry with its reason', async () => {
    injectFaults();
    const store = createMemoryStore();
    const engine = createEngine(store, emulatorSource(running, { transport }));
    const job = await syncOnce(engine);
    await engine.stop();
    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    expect(await storedState(store)).toEqual(mailboxState(running));
    expect(job.counters).toMatchObject({ stored: 1_000, fetched: 1_000, failed: 0 });

    const stats = running.emulator.stats().totals;
    expect(stats.serverErrors).toBeGreaterThan(10);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.rateLimited).toBeGreaterThanOrEqual(32);

    const logs = await store.getLogs(job.id, { limit: 5_000 });
    const retries = logs.filter((line) => line.level === 'warn' && /retrying in/.test(line.message));
    if (process.env.SHOW_LOGS)
      console.log(
        retries
          .slice(0, 30)
          .map((line) => line.message)
          .join('\n'),
      );
    expect(retries.some((line) => /NETWORK/.test(line.message) && /503/.test(line.message))).toBe(true);
    expect(
      retries.some((line) => /RATE_LIMITED/.test(line.message) && /Retry-After/.test(line.message)),
    ).toBe(true);
    expect(retries.some((line) => /messages\.list page \d+ failed \(RATE_LIMITED/.test(line.message))).toBe(
      true,
    );
    expect(retries.some((line) => /connection to Gmail failed|left a call/.test(line.message))).toBe(true);
    if (transport === 'batch') {
      expect(retries.some((line) => /re-sending only those/.test(line.message))).toBe(true);
    }
  });
});
