import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import winston from 'winston';
import type { SyncEngine } from '../engine/engineTypes';
import { SyncError } from '../errors';
import type { SyncLogger } from '../logger';
import { ScriptedEngine } from './__tests__/scriptedEngine';
import { createSyncHandler, type SyncHandlerOptions } from './syncHandler';

const BASE = 'http://app.test/api/sync';
const auth: Pick<SyncHandlerOptions<string>, 'authenticate' | 'authorizeAccount' | 'basePath'> = {
  basePath: '/api/sync',
  authenticate: () => 'alice',
  authorizeAccount: () => true,
};

/** A stream that keeps what a real logger writes to it. */
function captureStream() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

const CAUSE = 'unable to open database file';
const storeDown = () =>
  new SyncError('STORE_UNAVAILABLE', `Cannot open the SQLite database /srv/data/sync.db: ${CAUSE}.`, {
    cause: Object.assign(new Error(CAUSE), { code: 'ERR_SQLITE_ERROR' }),
  });

async function answerWithStoreDown(logger: SyncLogger | undefined) {
  const engine = new ScriptedEngine();
  vi.spyOn(engine, 'getActiveJob').mockRejectedValue(storeDown());
  const handler = createSyncHandler(engine, { ...auth, ...(logger ? { logger } : {}) });
  const response = await handler(new Request(`${BASE}/jobs/active?source=test&accountId=a`));
  return { status: response.status, body: await response.text() };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createSyncHandler: the cause of every 5xx is reported on the server', () => {
  it('through console by default, and never to the client', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { status, body } = await answerWithStoreDown(undefined);
    expect(status).toBe(503);
    expect(body).not.toContain(CAUSE);
    expect(body).not.toContain('/srv/data');
    expect(error).toHaveBeenCalledOnce();
    const [line] = error.mock.calls[0] ?? [];
    expect(line).toMatch(/^\[syncjob\/http\] GET \/api\/sync\/jobs\/active answered 503 STORE_UNAVAILABLE\./);
    expect(line).toContain('/srv/data/sync.db');
    expect(line).toContain(`Error [ERR_SQLITE_ERROR]: ${CAUSE}`);
  });

  it('through a real pino logger, as it is (the cause lands in "msg")', async () => {
    const { stream, lines } = captureStream();
    const logger = pino({ base: null }, stream);
    const { status } = await answerWithStoreDown(logger);
    expect(status).toBe(503);
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] ?? '{}');
    expect(entry.level).toBe(50); // error
    expect(entry.msg).toMatch(/answered 503 STORE_UNAVAILABLE/);
    expect(entry.msg).toContain(CAUSE);
    expect(entry.msg).toContain('/srv/data/sync.db');
  });

  it('through a real winston logger, as it is (the cause lands in "message")', async () => {
    const { stream, lines } = captureStream();
    const logger = winston.createLogger({
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream })],
    });
    const { status } = await answerWithStoreDown(logger);
    expect(status).toBe(503);
    await vi.waitFor(() => expect(lines).toHaveLength(1));
    const entry = JSON.parse(lines[0] ?? '{}');
    expect(entry.level).toBe('error');
    expect(entry.message).toMatch(/answered 503 STORE_UNAVAILABLE/);
    expect(entry.message).toContain(CAUSE);
  });

  it('a 500 for a bug is reported with its stack; the client gets no detail', async () => {
    const engine = new ScriptedEngine();
    vi.spyOn(engine, 'listJobs').mockRejectedValue(new TypeError('x is not a function'));
    const logger = { error: vi.fn(), warn: vi.fn() };
    const handler = createSyncHandler(engine, { ...auth, logger });
    const response = await handler(new Request(`${BASE}/jobs?accountId=a`));
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('not a function');
    expect(logger.error).toHaveBeenCalledOnce();
    const line = String(logger.error.mock.calls[0]?.[0]);
    expect(line).toMatch(/answered 500 INTERNAL\. Cause: TypeError: x is not a function\n/);
    expect(line).toContain('syncHandler.logger.test.ts'); // the stack
  });

  it('4xx answers are not reported', async () => {
    const logger = { error: vi.fn(), warn: vi.fn() };
    const handler = createSyncHandler(new ScriptedEngine(), { ...auth, logger });
    expect((await handler(new Request(`${BASE}/jobs/undefined`))).status).toBe(400);
    expect((await handler(new Request(`${BASE}/nowhere`))).status).toBe(404);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('accepts console, pino and winston loggers as SyncLogger (types)', () => {
    const loggers: SyncLogger[] = [console, pino(), winston.createLogger()];
    expect(loggers).toHaveLength(3);
  });
});

describe('createSyncHandler with an engine getter', () => {
  it('does not call the getter when the handler is created, only on the first request, then reuses it', async () => {
    const engine = new ScriptedEngine();
    const getter = vi.fn((): SyncEngine => engine);
    const handler = createSyncHandler(getter, auth);
    expect(getter).not.toHaveBeenCalled();
    const first = await handler(new Request(`${BASE}/jobs/active?source=test&accountId=a`));
    expect(first.status).toBe(200);
    await handler(new Request(`${BASE}/jobs?accountId=a`));
    expect(getter).toHaveBeenCalledOnce();
  });

  it('answers 500 (not 400) and reports the cause when the getter throws, and tries again next time', async () => {
    const logger = { error: vi.fn(), warn: vi.fn() };
    let fail = true;
    const getter = vi.fn((): SyncEngine => {
      if (fail) throw new SyncError('INVALID_INPUT', 'createSqliteStore needs a database file path.');
      return new ScriptedEngine();
    });
    const handler = createSyncHandler(getter, { ...auth, logger });
    const failed = await handler(new Request(`${BASE}/jobs?accountId=a`));
    expect(failed.status).toBe(500);
    expect(await failed.text()).not.toContain('createSqliteStore');
    expect(String(logger.error.mock.calls[0]?.[0])).toContain(
      'Creating the sync engine failed: SyncError [INVALID_INPUT]: createSqliteStore needs a database file path.',
    );
    fail = false;
    expect((await handler(new Request(`${BASE}/jobs?accountId=a`))).status).toBe(200);
    expect(getter).toHaveBeenCalledTimes(2);
  });

  it('takes an async getter: concurrent first requests wait for one creation; a rejection is retried', async () => {
    const logger = { error: vi.fn(), warn: vi.fn() };
    let fail = true;
    const getter = vi.fn(async (): Promise<SyncEngine> => {
      await new Promise((resolve) => setTimeout(resolve, 20)); // a store that migrates first
      // What a store throws when its database is down: the driver's error wrapped at the store's edge.
      if (fail) {
        throw new SyncError('STORE_UNAVAILABLE', 'PostgreSQL is unreachable.', {
          cause: new Error('connect ECONNREFUSED 127.0.0.1:5432'),
        });
      }
      return new ScriptedEngine();
    });
    const handler = createSyncHandler(getter, { ...auth, logger });
    const failed = await handler(new Request(`${BASE}/jobs?accountId=a`));
    expect(failed.status).toBe(503); // a database that is down: STORE_UNAVAILABLE, Retry-After
    expect(String(logger.error.mock.calls[0]?.[0])).toContain(
      'Creating the sync engine failed: SyncError [STORE_UNAVAILABLE]: PostgreSQL is unreachable.; caused by Error: connect ECONNREFUSED 127.0.0.1:5432',
    );
    fail = false;
    const answers = await Promise.all([
      handler(new Request(`${BASE}/jobs?accountId=a`)),
      handler(new Request(`${BASE}/jobs/active?source=test&accountId=a`)),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    await handler(new Request(`${BASE}/jobs?accountId=a`));
    expect(getter).toHaveBeenCalledTimes(2); // the failed creation and one more
  });
});
