import type { SyncEngine } from './engineTypes';

export interface DefineSyncEngineOptions {
  /**
   * Names the engine within the process (default `'default'`). It is kept on `globalThis` under
   * `Symbol.for('syncjob.engine:' + key)`, so every copy of the module (a hot reload, the ESM and the
   * CJS build side by side) finds the same engine. Use another key for a second engine.
   */
  key?: string;
  /**
   * On the first SIGTERM or SIGINT, `engine.stop({ timeoutMs: 10_000 })`: running jobs are released
   * at once for another worker instead of waiting for their lease to expire (default `true`). When
   * no other listener of the signal is left, the signal is raised again after the stop, so the
   * process ends as it would have without this listener; a second signal ends it at once.
   */
  stopOnSignals?: boolean;
}

/** What one key holds on `globalThis`: the engine, or the creation under way of an async factory. */
interface EngineSlot {
  engine: SyncEngine | Promise<SyncEngine>;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Declares the engine of a server without creating it: returns a getter that creates it on its
 * first call, once per process, and returns the same engine ever after. Frameworks import server
 * modules when they are not serving (`next build` collects page data by importing route modules;
 * `next dev` imports them in helper processes and again at every hot reload): an engine created at
 * module scope would migrate the database and start a worker loop that claims jobs in each of
 * those. With the getter nothing starts until something calls it (the first request through
 * `createSyncHandler(getter, …)`, or your `instrumentation.ts`), and a hot reload reuses the engine
 * (and its signal listeners) instead of adding one more.
 *
 * `create` may be async (a store that migrates before it resolves, such as `createPostgresStore`):
 * the getter then returns a promise, the same one to every caller, so concurrent first requests
 * create one engine. A creation that rejects is not kept: the next call tries again.
 */
export function defineSyncEngine(
  create: () => SyncEngine,
  options?: DefineSyncEngineOptions,
): () => SyncEngine;
export function defineSyncEngine(
  create: () => Promise<SyncEngine>,
  options?: DefineSyncEngineOptions,
): () => Promise<SyncEngine>;
export function defineSyncEngine(
  create: () => SyncEngine | Promise<SyncEngine>,
  options: DefineSyncEngineOptions = {},
): () => SyncEngine | Promise<SyncEngine> {
  const slotKey = Symbol.for(`syncjob.engine:${options.key ?? 'default'}`);
  const stopOnSignals = options.stopOnSignals ?? true;
  return () => {
    const holder = globalThis as unknown as Record<symbol, EngineSlot | undefined>;
    const existing = holder[slotKey];
    if (existing) return existing.engine;
    const created = create();
    if (!isPromiseLike(created)) {
      holder[slotKey] = { engine: created };
      if (stopOnSignals) stopOnFirstSignal(created);
      return created;
    }
    const slot: EngineSlot = {
      engine: Promise.resolve(created).then(
        (engine) => {
          if (stopOnSignals) stopOnFirstSignal(engine);
          return engine;
        },
        (error: unknown) => {
          // Not cached: a database that was down at the first request is tried again at the next.
          if (holder[slotKey] === slot) delete holder[slotKey];
          throw error;
        },
      ),
    };
    holder[slotKey] = slot;
    return slot.engine;
  };
}

const isPromiseLike = (value: unknown): value is PromiseLike<SyncEngine> =>
  typeof (value as PromiseLike<unknown> | null)?.then === 'function';

function stopOnFirstSignal(engine: SyncEngine): void {
  const proc = globalThis.process;
  // Not on Node (an edge runtime, a browser bundle by mistake): there are no signals to wire.
  if (typeof proc?.once !== 'function' || typeof proc.off !== 'function') return;
  const onSignal = (signal: NodeJS.Signals) => {
    for (const name of SIGNALS) proc.off(name, onSignal);
    void engine
      .stop({ timeoutMs: STOP_TIMEOUT_MS })
      .catch((error: unknown) => console.error('[syncjob] Stopping the engine failed:', error))
      .finally(() => {
        // Listening to a signal replaces Node's default for it (exit). With no listener of the app
        // left, raise it again so the process ends as it would have without us.
        if (proc.listenerCount(signal) === 0) proc.kill(proc.pid, signal);
      });
  };
  for (const name of SIGNALS) proc.once(name, onSignal);
}
