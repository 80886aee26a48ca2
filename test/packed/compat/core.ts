// Until i13-server lands: `defineSyncEngine` for a core that does not export it yet. The harness
// points the README code's '@syncjob/core' imports here only when the packed core lacks it.
import type { SyncEngine } from '@syncjob/core';

export * from '@syncjob/core';

export function defineSyncEngine(
  create: () => SyncEngine,
  options: { key?: string; stopOnSignals?: boolean } = {},
): () => SyncEngine {
  const key = Symbol.for(`syncjob.engine:${options.key ?? 'default'}`);
  const slots = globalThis as unknown as Record<symbol, SyncEngine | undefined>;
  return () => {
    let engine = slots[key];
    if (!engine) {
      const created = create();
      slots[key] = engine = created;
      if (options.stopOnSignals !== false) {
        process.once('SIGTERM', () => {
          void created.stop({ timeoutMs: 10_000 }).finally(() => process.exit(0));
        });
      }
    }
    return engine;
  };
}
