import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { SyncSink, SyncStore } from '@syncjob/core';
import { runStoreConformance } from '@syncjob/core/testing';
import { createSqliteStore } from '../src/index';

/** The temp directory of each store, so the peer opens the same file and cleanup deletes it. */
const directories = new Map<SyncStore, string>();
const fileIn = (dir: string) => join(dir, 'sync.db');

runStoreConformance({
  name: 'sqlite',
  // A fresh file per test; the peer is a second store (its own connection) on the same file.
  createStore: async ({ sink }) => {
    const dir = mkdtempSync(join(tmpdir(), 'syncjob-sqlite-conformance-'));
    const store = createSqliteStore({
      path: fileIn(dir),
      ...(sink ? { sink: sink as SyncSink<DatabaseSync> } : {}),
    });
    directories.set(store, dir);
    return store;
  },
  createPeer: async (store) => createSqliteStore({ path: fileIn(directories.get(store) ?? '') }),
  clearLeaseExpiry: async (store, jobId) => {
    const db = new DatabaseSync(fileIn(directories.get(store) ?? ''));
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      db.prepare('UPDATE jobs SET lease_expires_at = NULL WHERE id = ?').run(jobId);
    } finally {
      db.close();
    }
  },
  cleanup: (store) => {
    rmSync(directories.get(store) ?? '', { recursive: true, force: true });
    directories.delete(store);
  },
});
