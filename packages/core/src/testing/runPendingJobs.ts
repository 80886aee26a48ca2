import type { SyncEngine } from '../engine/engineTypes';

/**
 * One claim-and-run pass of an engine's worker without its loop: sweeps expired leases, claims what
 * it can and resolves, once those jobs ended, with how many it claimed. For tests that drive an
 * engine step by step; not on `SyncEngine`, where a program uses `startWorker()`.
 */
export function runPendingJobs(engine: SyncEngine): Promise<number> {
  const pass = (engine as Partial<{ runPendingJobs(): Promise<number> }>).runPendingJobs;
  if (typeof pass !== 'function') {
    throw new TypeError('runPendingJobs needs an engine made by createSyncEngine.');
  }
  return pass.call(engine);
}
