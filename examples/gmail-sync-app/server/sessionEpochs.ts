import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Server-side revocation of the stateless session cookies: each principal has an epoch (0 until it
 * first signs out), every cookie carries the epoch it was issued in, and a cookie of an older
 * epoch is no session. Signing out bumps the epoch, so it ends that principal's sessions on every
 * device at once, without a session table.
 */
export interface SessionEpochs {
  /** The principal's current epoch (synchronous: read on every request). */
  current(key: string): number;
  /** Ends every session of `key` issued so far; resolves once the new epoch is stored. */
  revoke(key: string): Promise<number>;
}

/** Epochs kept in memory only (tests; sessions then also survive no restart). */
export function createMemorySessionEpochs(): SessionEpochs {
  const epochs = new Map<string, number>();
  return {
    current: (key) => epochs.get(key) ?? 0,
    revoke: async (key) => {
      const next = (epochs.get(key) ?? 0) + 1;
      epochs.set(key, next);
      return next;
    },
  };
}

/**
 * Epochs in a small JSON file in the app's data folder (beside the token vault), read once at
 * start and rewritten atomically on each sign-out, so a revocation survives a restart.
 */
export async function openFileSessionEpochs(path: string): Promise<SessionEpochs> {
  let stored: Record<string, number> = {};
  try {
    stored = JSON.parse(await readFile(path, 'utf8')) as Record<string, number>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const epochs = new Map(Object.entries(stored).filter(([, epoch]) => Number.isInteger(epoch)));
  let writes = Promise.resolve();
  return {
    current: (key) => epochs.get(key) ?? 0,
    revoke(key) {
      const next = (epochs.get(key) ?? 0) + 1;
      epochs.set(key, next);
      // Serialised, so two sign-outs at once cannot write an older map last.
      writes = writes
        .catch(() => undefined)
        .then(async () => {
          await mkdir(dirname(path), { recursive: true });
          const temp = `${path}.${process.pid}.tmp`;
          await writeFile(temp, JSON.stringify(Object.fromEntries(epochs)), { mode: 0o600 });
          await rename(temp, path);
        });
      return writes.then(() => next);
    },
  };
}
