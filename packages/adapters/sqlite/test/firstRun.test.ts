import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncEngine, defineSyncEngine, type SyncEngine } from '@syncjob/core';
import { createSyncHandler } from '@syncjob/core/http';
import { createTestSource } from '@syncjob/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSqliteStore } from '../src/index';

/** The README's drop-in on a fresh checkout: a relative `./data/sync.db`, no `data` folder. */
let dir: string;
const engines: SyncEngine[] = [];

afterEach(async () => {
  for (const engine of engines.splice(0)) {
    await engine.stop({ timeoutMs: 1_000 });
    await engine.store.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

function serve(path: string) {
  const logger = { error: vi.fn(), warn: vi.fn(), info: vi.fn() };
  const getSyncEngine = defineSyncEngine(
    () => {
      const engine = createSyncEngine({
        store: createSqliteStore({ path }),
        sources: [createTestSource({ id: 'gmail' })],
        logger,
        pollIntervalMs: 50,
      });
      engines.push(engine);
      return engine;
    },
    { key: `first-run-${crypto.randomUUID()}`, stopOnSignals: false },
  );
  const handler = createSyncHandler(getSyncEngine, {
    basePath: '/api/sync',
    authenticate: () => 'me',
    authorizeAccount: () => true,
    logger,
  });
  return { handler, logger };
}

const start = (handler: (request: Request) => Promise<Response>) =>
  handler(
    new Request('http://app.test/api/sync/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'gmail', accountId: 'me@example.com' }),
    }),
  );

describe('first run on SQLite: it works, or it says why on the server', () => {
  it('a path whose folder does not exist just works', async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncjob-first-run-'));
    const { handler, logger } = serve(join(dir, 'data', 'sync.db'));
    const response = await start(handler);
    expect(response.status).toBe(202);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('a path that cannot be opened answers 503 and logs the cause with the path, server-side only', async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncjob-first-run-'));
    writeFileSync(join(dir, 'data'), 'a file where the folder should be');
    const path = join(dir, 'data', 'sync.db');
    const { handler, logger } = serve(path);
    const response = await start(handler);
    expect(response.status).toBe(503);
    expect(await response.text()).not.toContain(dir);
    const reports = logger.error.mock.calls.map(([message]) => String(message));
    const httpReport = reports.find((message) => message.startsWith('[syncjob/http] POST /api/sync/jobs'));
    expect(httpReport).toContain(`for the SQLite database ${path}`);
    // The worker loop says it too, once, however many polls fail.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const workerReports = logger.error.mock.calls.filter(([message]) =>
      String(message).startsWith('The worker loop cannot claim jobs'),
    );
    expect(workerReports).toHaveLength(1);
    expect(String(workerReports[0]?.[0])).toContain(path);
  });
});
