import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncError } from '../errors';
import { createMemoryStore } from '../store/memoryStore';
import type { SyncStore } from '../store/syncStore';
import { createTestSource } from '../testing/testSource';
import { createSyncEngine } from './syncEngine';

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-03-01T10:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A memory store whose calls reject while `down` is set, like a database that went away. */
function flakyStore() {
  const state = { down: true };
  const store = new Proxy(createMemoryStore(), {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'subscribe' || property === 'close') return value;
      return (...args: unknown[]) =>
        state.down
          ? Promise.reject(
              new SyncError('STORE_UNAVAILABLE', 'Cannot open the SQLite database /srv/data/sync.db.'),
            )
          : value.apply(target, args);
    },
  }) as SyncStore;
  return { store, state };
}

describe('the worker loop reports store failures', () => {
  it('once per outage (not at every poll), with the cause, and says when it recovered', async () => {
    const { store, state } = flakyStore();
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const engine = createSyncEngine({ store, sources: [createTestSource()], logger, pollIntervalMs: 1_000 });
    await vi.advanceTimersByTimeAsync(10_000); // ten polls, all failing
    expect(logger.error).toHaveBeenCalledOnce();
    expect(logger.error.mock.calls[0]?.[0]).toMatch(
      /^The worker loop cannot claim jobs, so queued jobs wait \(it retries every 1000 ms.*Cause: SyncError \[STORE_UNAVAILABLE\]: Cannot open the SQLite database \/srv\/data\/sync\.db\.$/,
    );

    state.down = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(logger.info).toHaveBeenCalledWith('The worker loop works again: it claims queued jobs.');

    state.down = true; // a new outage is a new report
    await vi.advanceTimersByTimeAsync(5_000);
    expect(logger.error).toHaveBeenCalledTimes(2);
    await engine.stop({ timeoutMs: 0 });
  });

  it('goes to console.error by default', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { store } = flakyStore();
    const engine = createSyncEngine({ store, sources: [createTestSource()] });
    await vi.advanceTimersByTimeAsync(3_000);
    expect(error).toHaveBeenCalledOnce();
    expect(error.mock.calls[0]?.[0]).toMatch(/^\[syncjob\] The worker loop cannot claim jobs/);
    await engine.stop({ timeoutMs: 0 });
    error.mockRestore();
  });
});
