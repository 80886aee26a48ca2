import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { createSyncHandler } from '../http/syncHandler';
import { createMemoryStore } from '../store/memoryStore';
import type { SyncStore } from '../store/syncStore';
import { createTestSource } from '../testing/testSource';
import { defineSyncEngine } from './defineSyncEngine';
import type { SyncEngine } from './engineTypes';
import { createSyncEngine } from './syncEngine';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
type Listener = (...args: unknown[]) => void;
let savedListeners: Map<string, Listener[]>;
let keys: string[];
const engines: SyncEngine[] = [];

/** A store that counts every call made to it. */
function countingStore(): { store: SyncStore; calls: string[] } {
  const calls: string[] = [];
  const inner = createMemoryStore();
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return value.apply(target, args);
      };
    },
  });
  return { store, calls };
}

const uniqueKey = () => {
  const key = `test-${crypto.randomUUID()}`;
  keys.push(key);
  return key;
};

beforeEach(() => {
  keys = [];
  // The test emits signals itself: the runner's own listeners must not see them.
  savedListeners = new Map(SIGNALS.map((name) => [name, process.rawListeners(name) as Listener[]]));
  for (const name of SIGNALS) process.removeAllListeners(name);
});

afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop({ timeoutMs: 1_000 })));
  const holder = globalThis as unknown as Record<symbol, unknown>;
  for (const key of keys) delete holder[Symbol.for(`syncjob.engine:${key}`)];
  for (const name of SIGNALS) {
    process.removeAllListeners(name);
    for (const listener of savedListeners.get(name) ?? []) process.on(name, listener);
  }
});

describe('defineSyncEngine', () => {
  it('creates nothing and touches no store until the getter is first called', async () => {
    const { store, calls } = countingStore();
    const create = vi.fn(() => {
      const engine = createSyncEngine({ store, sources: [createTestSource()], pollIntervalMs: 50 });
      engines.push(engine);
      return engine;
    });
    const getSyncEngine = defineSyncEngine(create, { key: uniqueKey() });
    // What a route module does at import time: define the engine and create the handler.
    createSyncHandler(getSyncEngine, { authenticate: () => 'u', authorizeAccount: () => true });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(create).not.toHaveBeenCalled();
    expect(calls).toEqual([]);
    expect(process.listenerCount('SIGTERM')).toBe(0);

    const engine = getSyncEngine();
    expect(create).toHaveBeenCalledOnce();
    await vi.waitFor(() => expect(calls).toContain('claimJob')); // the worker loop runs now
    expect(getSyncEngine()).toBe(engine);
  });

  it('keeps one engine per key across re-evaluated modules (a hot reload)', () => {
    const key = uniqueKey();
    const make = () => {
      const engine = createSyncEngine({ store: createMemoryStore(), sources: [], worker: false });
      engines.push(engine);
      return engine;
    };
    const firstFactory = vi.fn(make);
    const secondFactory = vi.fn(make);
    const firstModule = defineSyncEngine(firstFactory, { key });
    const engine = firstModule();
    // The module is evaluated again: a new closure, the same key.
    const secondModule = defineSyncEngine(secondFactory, { key });
    expect(secondModule()).toBe(engine);
    expect(firstModule()).toBe(engine);
    expect(firstFactory).toHaveBeenCalledOnce();
    expect(secondFactory).not.toHaveBeenCalled();
    expect(process.listenerCount('SIGTERM')).toBe(1);
    expect(process.listenerCount('SIGINT')).toBe(1);

    const other = defineSyncEngine(make, { key: uniqueKey(), stopOnSignals: false })();
    expect(other).not.toBe(engine);
    expect(process.listenerCount('SIGTERM')).toBe(1);
  });

  it('stops the engine once on the first SIGTERM or SIGINT, then leaves the signals alone', async () => {
    const engine = createSyncEngine({ store: createMemoryStore(), sources: [], worker: false });
    engines.push(engine);
    const stop = vi.spyOn(engine, 'stop');
    const getSyncEngine = defineSyncEngine(() => engine, { key: uniqueKey() });
    getSyncEngine();
    // The app's own listener: with it present, the signal is not raised again after the stop.
    const appListener = vi.fn();
    process.on('SIGTERM', appListener);

    process.emit('SIGTERM');
    process.emit('SIGINT');
    process.emit('SIGTERM');
    await vi.waitFor(() => expect(stop).toHaveBeenCalledOnce());
    expect(stop).toHaveBeenCalledWith({ timeoutMs: 10_000 });
    expect(process.listenerCount('SIGTERM')).toBe(1); // the app's
    expect(process.listenerCount('SIGINT')).toBe(0);
    expect(appListener).toHaveBeenCalledTimes(2);
  });

  it('takes an async factory: one creation for concurrent callers, signals wired once it resolves', async () => {
    let created = 0;
    const getSyncEngine = defineSyncEngine(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 20)); // `await createPostgresStore(…)`
        created += 1;
        const engine = createSyncEngine({ store: createMemoryStore(), sources: [], worker: false });
        engines.push(engine);
        return engine;
      },
      { key: uniqueKey() },
    );
    expectTypeOf(getSyncEngine).returns.toEqualTypeOf<Promise<SyncEngine>>();
    expectTypeOf(defineSyncEngine(() => engines[0]!)).returns.toEqualTypeOf<SyncEngine>();
    const [first, second] = await Promise.all([getSyncEngine(), getSyncEngine()]);
    expect(first).toBe(second);
    expect(await getSyncEngine()).toBe(first);
    expect(created).toBe(1);
    expect(process.listenerCount('SIGTERM')).toBe(1);
    // Usable where the handler takes a getter.
    const handler = createSyncHandler(getSyncEngine, {
      authenticate: () => 'u',
      authorizeAccount: () => true,
    });
    expect((await handler(new Request('http://x/jobs?accountId=a'))).status).toBe(200);
  });

  it('does not keep an async creation that rejected: the next call tries again', async () => {
    let attempts = 0;
    const getSyncEngine = defineSyncEngine(
      async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        const engine = createSyncEngine({ store: createMemoryStore(), sources: [], worker: false });
        engines.push(engine);
        return engine;
      },
      { key: uniqueKey() },
    );
    await expect(getSyncEngine()).rejects.toThrow('ECONNREFUSED');
    expect(process.listenerCount('SIGTERM')).toBe(0);
    const engine = await getSyncEngine();
    expect(await getSyncEngine()).toBe(engine);
    expect(attempts).toBe(2);
    expect(process.listenerCount('SIGTERM')).toBe(1);
  });
});
