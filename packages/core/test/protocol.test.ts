import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  buildEventsSchema,
  buildOpenApi,
  CODES_BY_STATUS,
  PROTOCOL_FILES,
  serialize,
  // @ts-expect-error: a plain .mjs script without declarations; its output is checked below.
} from '../scripts/protocolSchemas.mjs';
import { SYNC_ERROR_CODES, SyncError } from '../src/errors';
import type {
  JobProgress,
  LogEvent,
  ProgressEvent,
  SnapshotEvent,
  StatusEvent,
  SyncEvent,
  TerminalEvent,
} from '../src/events/syncEvents';
import type { HttpErrorBody, HttpErrorCode } from '../src/http/httpError';
import { STATUS_BY_CODE } from '../src/http/httpError';
import { createSyncHandler, type SyncHandler } from '../src/http/index';
import { createMemoryStore, createSyncEngine, type StartResult, type SyncEngine } from '../src/index';
import {
  JOB_PHASES,
  JOB_STATUSES,
  JOB_WAIT_REASONS,
  type Job,
  type JobCounters,
  type JobError,
  type JobWaiting,
  type LogEntry,
} from '../src/job/job';
import { createTestSource } from '../src/testing/index';

/** `required` or `optional` per key of T: a literal of this type lists every key, no more, no less. */
type KeyKinds<T> = { [K in keyof T]-?: object extends Pick<T, K> ? 'optional' : 'required' };

const events = JSON.parse(readFileSync(new URL('../protocol/events.schema.json', import.meta.url), 'utf8'));
const openapi = JSON.parse(readFileSync(new URL('../protocol/openapi.json', import.meta.url), 'utf8'));

const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
ajv.addKeyword('itemSchema'); // OpenAPI 3.2's per-item schema of a stream; a note for readers here.
ajv.addSchema(events);
const def = (name: string): ValidateFunction => ajv.getSchema(`${events.$id}#/$defs/${name}`)!;

function expectValid(validate: ValidateFunction, value: unknown, what: string) {
  const ok = validate(value);
  expect(ok, `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`).toBe(
    true,
  );
}

describe('the protocol files', () => {
  it('are what scripts/protocolSchemas.mjs builds (run `npm run protocol -w @syncjob/core` after a change)', () => {
    for (const [file, build] of Object.entries(PROTOCOL_FILES as Record<string, () => unknown>)) {
      const onDisk = JSON.parse(readFileSync(new URL(`../protocol/${file}`, import.meta.url), 'utf8'));
      expect(onDisk, file).toEqual(JSON.parse(serialize(build())));
    }
    expect(buildEventsSchema().$defs).toBeDefined();
    expect(buildOpenApi().openapi).toBe('3.1.0');
  });

  it('are valid JSON Schema 2020-12, and OpenAPI components are the same definitions', () => {
    expect(ajv.validateSchema(events)).toBe(true);
    // Each error status admits its own codes only.
    expect(def('Error400')({ error: { code: 'INVALID_INPUT', message: 'Bad id.' } })).toBe(true);
    expect(def('Error400')({ error: { code: 'NOT_FOUND', message: 'No job.' } })).toBe(false);
    expect(def('Error404')({ error: { code: 'NOT_FOUND' } })).toBe(false);
    expect(JSON.stringify(openapi.components.schemas).replaceAll('#/components/schemas/', '#/$defs/')).toBe(
      JSON.stringify(events.$defs),
    );
  });

  it('document every error code with the status the handler answers (STATUS_BY_CODE)', () => {
    const documented = Object.entries(CODES_BY_STATUS as Record<string, string[]>).flatMap(
      ([status, codes]) => codes.map((code) => [code, Number(status)] as const),
    );
    expect(Object.fromEntries(documented)).toEqual(STATUS_BY_CODE);
  });

  it('are reachable through the package exports map', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(pkg.exports['./openapi.json']).toBe('./protocol/openapi.json');
    expect(pkg.exports['./events.schema.json']).toBe('./protocol/events.schema.json');
    expect(pkg.files).toContain('protocol');
  });
});

describe('the schemas match the TypeScript types', () => {
  const kinds = (name: string) => {
    const schema = events.$defs[name];
    return Object.fromEntries(
      Object.keys(schema.properties).map((key) => [
        key,
        schema.required.includes(key) ? 'required' : 'optional',
      ]),
    );
  };

  it('job, counters, error, log entry, progress', () => {
    const job: KeyKinds<Job> = {
      id: 'required',
      source: 'required',
      accountId: 'required',
      status: 'required',
      phase: 'required',
      mode: 'required',
      trigger: 'required',
      counters: 'required',
      categoryCounts: 'required',
      percent: 'required',
      ratePerSec: 'required',
      etaSeconds: 'required',
      currentItem: 'required',
      waiting: 'required',
      createdAt: 'required',
      startedAt: 'required',
      updatedAt: 'required',
      heartbeatAt: 'required',
      leaseExpiresAt: 'required',
      finishedAt: 'required',
      attempt: 'required',
      cancelRequested: 'required',
      error: 'required',
      lastLogSeq: 'required',
    };
    const counters: KeyKinds<JobCounters> = {
      total: 'required',
      listed: 'required',
      fetched: 'required',
      classified: 'required',
      stored: 'required',
      skipped: 'required',
      deleted: 'required',
      failed: 'required',
    };
    const error: KeyKinds<JobError> = { code: 'required', message: 'required', retryable: 'required' };
    const entry: KeyKinds<LogEntry> = {
      jobId: 'required',
      seq: 'required',
      at: 'required',
      level: 'required',
      message: 'required',
      data: 'optional',
    };
    const progress: KeyKinds<JobProgress> = {
      phase: 'required',
      mode: 'required',
      counters: 'required',
      categoryCounts: 'required',
      percent: 'required',
      ratePerSec: 'required',
      etaSeconds: 'required',
      currentItem: 'required',
      waiting: 'required',
      updatedAt: 'required',
    };
    expect(kinds('Job')).toEqual(job);
    expect(kinds('JobCounters')).toEqual(counters);
    expect(kinds('JobError')).toEqual(error);
    expect(kinds('LogEntry')).toEqual(entry);
    expect(kinds('JobProgress')).toEqual(progress);
    const waiting: KeyKinds<JobWaiting> = { for: 'required', until: 'required' };
    expect(kinds('JobWaiting')).toEqual(waiting);
  });

  it('every SSE event and every body', () => {
    const withJob = { type: 'required', jobId: 'required', job: 'required' } as const;
    const snapshot: KeyKinds<SnapshotEvent> = withJob;
    const status: KeyKinds<StatusEvent> = withJob;
    const terminal: KeyKinds<TerminalEvent> = withJob;
    const progress: KeyKinds<ProgressEvent> = { type: 'required', jobId: 'required', progress: 'required' };
    const log: KeyKinds<LogEvent> = { type: 'required', jobId: 'required', entry: 'required' };
    expect(kinds('SnapshotEvent')).toEqual(snapshot);
    expect(kinds('StatusEvent')).toEqual(status);
    expect(kinds('TerminalEvent')).toEqual(terminal);
    expect(kinds('ProgressEvent')).toEqual(progress);
    expect(kinds('LogEvent')).toEqual(log);
    const eventTypes: Record<SyncEvent['type'], true> = {
      snapshot: true,
      status: true,
      progress: true,
      log: true,
      completed: true,
      failed: true,
      cancelled: true,
      interrupted: true,
    };
    const schemaTypes = [
      ...['SnapshotEvent', 'StatusEvent', 'ProgressEvent', 'LogEvent'].map(
        (name) => events.$defs[name].properties.type.const,
      ),
      ...events.$defs.TerminalJobStatus.enum,
    ];
    expect(schemaTypes.sort()).toEqual(Object.keys(eventTypes).sort());
    expect(events.$defs.SyncEvent.oneOf).toHaveLength(5);

    const started: KeyKinds<Extract<StartResult, { started: true }>> = {
      job: 'required',
      started: 'required',
    };
    const refused: KeyKinds<Extract<StartResult, { started: false }>> = {
      job: 'required',
      started: 'required',
      reason: 'required',
    };
    const [startedSchema, refusedSchema] = events.$defs.StartResult.oneOf;
    expect(Object.keys(startedSchema.properties)).toEqual(Object.keys(started));
    expect(Object.keys(refusedSchema.properties)).toEqual(Object.keys(refused));
    const errorBody: KeyKinds<HttpErrorBody['error']> = { code: 'required', message: 'required' };
    expect(Object.keys(events.$defs.ErrorBody.properties.error.properties)).toEqual(Object.keys(errorBody));
  });

  it('enums: statuses, phases, error codes', () => {
    expect(events.$defs.JobStatus.enum).toEqual([...JOB_STATUSES]);
    expect(events.$defs.JobPhase.enum).toEqual([...JOB_PHASES]);
    expect(events.$defs.JobWaitReason.enum).toEqual([...JOB_WAIT_REASONS]);
    expect(events.$defs.SyncErrorCode.enum).toEqual([...SYNC_ERROR_CODES]);
    const httpCodes: Record<HttpErrorCode, true> = {
      ...(Object.fromEntries([...SYNC_ERROR_CODES].map((code) => [code, true])) as Record<string, true>),
      UNAUTHENTICATED: true,
      FORBIDDEN: true,
      ROUTE_NOT_FOUND: true,
      METHOD_NOT_ALLOWED: true,
      CROSS_SITE_REQUEST: true,
      UNSUPPORTED_MEDIA_TYPE: true,
      TOO_MANY_STREAMS: true,
    } as Record<HttpErrorCode, true>;
    expect([...events.$defs.HttpErrorCode.enum].sort()).toEqual(Object.keys(httpCodes).sort());
    expectTypeOf<Job['status']>().toEqualTypeOf<(typeof JOB_STATUSES)[number]>();
  });
});

/** Finds the OpenAPI operation of a request and validates the answer against its documented response. */
async function expectDocumented(method: string, template: string, response: Response): Promise<unknown> {
  const operation = openapi.paths[template]?.[method.toLowerCase()];
  expect(operation, `${method} ${template} is documented`).toBeDefined();
  const documented = operation.responses[String(response.status)];
  expect(documented, `${method} ${template} documents status ${response.status}`).toBeDefined();
  const [type, media] = Object.entries(
    documented.content as Record<string, { schema: { $ref: string } }>,
  )[0]!;
  expect(response.headers.get('content-type') ?? '').toContain(type);
  if (type !== 'application/json') return undefined;
  const body = await response.json();
  // The components are the events schema's $defs (checked above).
  const validate = def(media.schema.$ref.replace('#/components/schemas/', ''));
  expectValid(validate, body, `${method} ${template} ${response.status}`);
  for (const header of Object.keys(documented.headers ?? {})) {
    expect(response.headers.get(header), `${header} header`).not.toBeNull();
  }
  return body;
}

/** Reads an SSE body to its end: each frame's id, event and parsed data. */
async function readFrames(response: Response) {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const field = (name: string) =>
        block
          .split('\n')
          .find((line) => line.startsWith(`${name}:`))
          ?.slice(name.length + 1)
          .trim();
      return { id: field('id'), event: field('event'), data: JSON.parse(field('data') ?? 'null') };
    });
}

describe('the real handler answers as documented', () => {
  const BASE = 'http://app.test/api/sync';
  const setup = (engine: SyncEngine): SyncHandler =>
    createSyncHandler(engine, {
      basePath: '/api/sync',
      authenticate: (request) => request.headers.get('authorization')?.replace(/^Bearer /, '') || null,
      authorizeAccount: (user: string, { accountId }) => accountId.startsWith(user),
      keepAliveMs: 100,
      pollIntervalMs: 20,
      onError: () => {},
    });
  const call = (handler: SyncHandler, method: string, path: string, init: RequestInit = {}) =>
    handler(
      new Request(`${BASE}${path}`, {
        method,
        ...init,
        headers: {
          authorization: 'Bearer alice',
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.headers as Record<string, string>),
        },
      }),
    );

  it('every route, every event, every error', async () => {
    const source = createTestSource({ id: 'test', messages: 60, pageSize: 20, batchSize: 10 });
    source.control.setDelay(20);
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [source],
      pollIntervalMs: 20,
      progress: { emitIntervalMs: 10, writeIntervalMs: 10 },
      retry: { retries: 0 },
    });
    const handler = setup(engine);
    try {
      const account = { source: 'test', accountId: 'alice@example.com' };
      const start = (await expectDocumented(
        'POST',
        '/jobs',
        await call(handler, 'POST', '/jobs', { body: JSON.stringify(account) }),
      )) as StartResult;
      const id = start.job.id;
      const again = (await expectDocumented(
        'POST',
        '/jobs',
        await call(handler, 'POST', '/jobs', { body: JSON.stringify(account) }),
      )) as StartResult;
      expect(again.started).toBe(false);
      const active = (await expectDocumented(
        'GET',
        '/jobs/active',
        await call(handler, 'GET', '/jobs/active?source=test&accountId=alice%40example.com'),
      )) as { job: Job };
      expect(active.job.id).toBe(id);
      await expectDocumented(
        'GET',
        '/jobs/active',
        await call(handler, 'GET', '/jobs/active?source=test&accountId=alice-none'),
      );
      await expectDocumented('GET', '/jobs/{id}', await call(handler, 'GET', `/jobs/${id}`));

      // The stream to its end: every frame is a documented event, `event:` is its type, ids are log seqs.
      const stream = await call(handler, 'GET', `/jobs/${id}/events`);
      await expectDocumented('GET', '/jobs/{id}/events', stream);
      const frames = await readFrames(stream);
      expect(frames[0]?.event).toBe('snapshot');
      expect(['completed']).toContain(frames.at(-1)?.event);
      const seen = new Set<string>();
      for (const frame of frames) {
        expectValid(def('SyncEvent'), frame.data, `SSE ${frame.event}`);
        expect(frame.event).toBe(frame.data.type);
        seen.add(frame.event!);
        if (frame.event === 'log') expect(frame.id).toBe(String(frame.data.entry.seq));
      }
      expect([...seen]).toEqual(expect.arrayContaining(['snapshot', 'progress', 'log', 'completed']));
      // A resumed stream of the ended job: snapshot, the lines after Last-Event-ID, the terminal event.
      const resumed = await readFrames(
        await call(handler, 'GET', `/jobs/${id}/events`, { headers: { 'last-event-id': '3' } }),
      );
      expect(resumed.find((frame) => frame.event === 'log')?.data.entry.seq).toBe(4);
      for (const frame of resumed) expectValid(def('SyncEvent'), frame.data, `resumed ${frame.event}`);

      const page = (await expectDocumented(
        'GET',
        '/jobs/{id}/logs',
        await call(handler, 'GET', `/jobs/${id}/logs?afterSeq=0&limit=2`),
      )) as { logs: LogEntry[]; lastSeq: number; hasMore: boolean };
      expect(page.logs.map((entry) => entry.seq)).toEqual([1, 2]);
      expect(page.hasMore).toBe(true);
      await expectDocumented(
        'GET',
        '/jobs',
        await call(handler, 'GET', '/jobs?accountId=alice%40example.com'),
      );

      // Cancel and retry, and their conflicts.
      await expectDocumented('POST', '/jobs/{id}/cancel', await call(handler, 'POST', `/jobs/${id}/cancel`)); // 409
      await expectDocumented('POST', '/jobs/{id}/retry', await call(handler, 'POST', `/jobs/${id}/retry`)); // 409
      const second = (await (
        await call(handler, 'POST', '/jobs', { body: JSON.stringify(account) })
      ).json()) as StartResult;
      const cancel = await call(handler, 'POST', `/jobs/${second.job.id}/cancel`);
      expect(cancel.status).toBe(202);
      await expectDocumented('POST', '/jobs/{id}/cancel', cancel);
      await expect.poll(async () => (await engine.getJob(second.job.id))?.status).toBe('cancelled');
      const retry = await call(handler, 'POST', `/jobs/${second.job.id}/retry`);
      expect(retry.status).toBe(202);
      const retried = (await expectDocumented('POST', '/jobs/{id}/retry', retry)) as StartResult;
      await engine.cancel(retried.job.id);

      // Errors.
      const errors: Array<[string, string, string, RequestInit, number, HttpErrorCode]> = [
        ['GET', '/jobs/{id}', '/jobs/undefined', {}, 400, 'INVALID_INPUT'],
        ['GET', '/jobs/{id}', '/jobs/null', {}, 400, 'INVALID_INPUT'],
        ['GET', '/jobs/{id}/logs', '/jobs/undefined/logs', {}, 400, 'INVALID_INPUT'],
        ['GET', '/jobs/{id}/events', '/jobs/null/events', {}, 400, 'INVALID_INPUT'],
        ['POST', '/jobs/{id}/cancel', '/jobs/undefined/cancel', {}, 400, 'INVALID_INPUT'],
        ['POST', '/jobs/{id}/retry', '/jobs/nope/retry', {}, 400, 'INVALID_INPUT'],
        ['GET', '/jobs/{id}/logs', `/jobs/${id}/logs?afterSeq=-1`, {}, 400, 'INVALID_INPUT'],
        ['POST', '/jobs', '/jobs', { body: '{"source":' }, 400, 'INVALID_INPUT'],
        [
          'POST',
          '/jobs',
          '/jobs',
          { body: JSON.stringify({ source: 'nope', accountId: 'alice' }) },
          400,
          'UNKNOWN_SOURCE',
        ],
        ['GET', '/jobs', '/jobs', {}, 400, 'INVALID_INPUT'],
        ['GET', '/jobs/active', '/jobs/active?source=test&accountId=undefined', {}, 400, 'INVALID_INPUT'],
        [
          'POST',
          '/jobs',
          '/jobs',
          { body: JSON.stringify({ source: 'test', accountId: 'bob' }) },
          403,
          'FORBIDDEN',
        ],
        ['GET', '/jobs/active', '/jobs/active?source=test&accountId=bob', {}, 403, 'FORBIDDEN'],
        ['GET', '/jobs/{id}', `/jobs/${crypto.randomUUID()}`, {}, 404, 'NOT_FOUND'],
        ['GET', '/jobs/{id}/logs', `/jobs/${crypto.randomUUID()}/logs`, {}, 404, 'NOT_FOUND'],
        ['GET', '/jobs/{id}/events', `/jobs/${crypto.randomUUID()}/events`, {}, 404, 'NOT_FOUND'],
        ['POST', '/jobs/{id}/cancel', `/jobs/${crypto.randomUUID()}/cancel`, {}, 404, 'NOT_FOUND'],
        ['POST', '/jobs/{id}/retry', `/jobs/${crypto.randomUUID()}/retry`, {}, 404, 'NOT_FOUND'],
        ['GET', '/jobs/{id}', `/jobs/${id}`, { headers: { authorization: 'Bearer bob' } }, 404, 'NOT_FOUND'],
        ['GET', '/jobs/{id}', `/jobs/${id}`, { headers: { authorization: '' } }, 401, 'UNAUTHENTICATED'],
        ['DELETE', '/jobs/{id}', `/jobs/${id}`, {}, 405, 'METHOD_NOT_ALLOWED'],
      ];
      for (const [method, template, path, init, status, code] of errors) {
        const response = await call(handler, method, path, init);
        expect(response.status, `${method} ${path}`).toBe(status);
        const documentedMethod = status === 405 ? 'GET' : method; // 405 is documented on the route's methods
        const body = (await expectDocumented(documentedMethod, template, response)) as HttpErrorBody;
        expect(body.error.code, `${method} ${path}`).toBe(code);
      }
      const noRoute = await call(handler, 'GET', '/nothing');
      expect(noRoute.status).toBe(404);
      expectValid(def('ErrorBody'), await noRoute.json(), 'ROUTE_NOT_FOUND');
    } finally {
      source.control.release();
      await engine.stop({ timeoutMs: 1000 });
    }
  });

  it('503 with Retry-After and 500 without details', async () => {
    const failing = (error: Error) =>
      ({
        sourceIds: ['test'],
        getJob: async () => {
          throw error;
        },
      }) as unknown as SyncEngine;
    const id = crypto.randomUUID();
    const unavailable = await call(
      setup(failing(new SyncError('STORE_UNAVAILABLE', 'down'))),
      'GET',
      `/jobs/${id}`,
    );
    expect(unavailable.status).toBe(503);
    expect(((await expectDocumented('GET', '/jobs/{id}', unavailable)) as HttpErrorBody).error.code).toBe(
      'STORE_UNAVAILABLE',
    );
    const bug = await call(setup(failing(new TypeError('x is undefined'))), 'GET', `/jobs/${id}`);
    expect(bug.status).toBe(500);
    expect(((await expectDocumented('GET', '/jobs/{id}', bug)) as HttpErrorBody).error.code).toBe('INTERNAL');
  });

  it('POST /work answers as documented (a run to its end, a wrong secret, a form body)', async () => {
    const source = createTestSource({ id: 'test', messages: 30, pageSize: 10, batchSize: 10 });
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [source],
      worker: false,
      progress: { emitIntervalMs: 10, writeIntervalMs: 10 },
    });
    const handler = createSyncHandler(engine, {
      basePath: '/api/sync',
      authenticate: () => 'alice',
      authorizeAccount: () => true,
      workSecret: 'a-work-secret-of-enough-length',
    });
    const work = (init: RequestInit) => handler(new Request(`${BASE}/work`, { method: 'POST', ...init }));
    try {
      await engine.start({ source: 'test', accountId: 'alice@example.com' });
      const body = (await expectDocumented(
        'POST',
        '/work',
        await work({
          headers: {
            authorization: 'Bearer a-work-secret-of-enough-length',
            'content-type': 'application/json',
          },
          body: JSON.stringify({ maxMs: 5_000 }),
        }),
      )) as { ran: number; jobs: unknown[] };
      expect(body.ran).toBe(1);
      await expectDocumented('POST', '/work', await work({ headers: { authorization: 'Bearer wrong' } }));
      await expectDocumented(
        'POST',
        '/work',
        await work({
          headers: {
            authorization: 'Bearer a-work-secret-of-enough-length',
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'maxMs=5000',
        }),
      );
    } finally {
      await engine.stop({ timeoutMs: 1000 });
    }
  });

  it('POST /push/{source} answers as documented (no token, a token that is not a JWT, another method)', async () => {
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [createTestSource()],
      worker: false,
    });
    const handler = createSyncHandler(engine, {
      basePath: '/api/sync',
      authenticate: () => 'alice',
      authorizeAccount: () => true,
      push: {
        audience: 'https://app.test/push',
        serviceAccountEmail: 'push@project.iam.gserviceaccount.com',
        // Never fetched: every request here is refused before a key is needed.
        certsUrl: 'http://127.0.0.1:9/certs',
        accountForEmail: () => 'alice',
      },
    });
    const push = (init: RequestInit) =>
      handler(new Request(`${BASE}/push/gmail`, { method: 'POST', ...init }));
    try {
      const body = JSON.stringify({ message: { data: btoa('{"emailAddress":"a@b.c","historyId":1}') } });
      const headers = { 'content-type': 'application/json' };
      await expectDocumented('POST', '/push/{source}', await push({ headers, body }));
      await expectDocumented(
        'POST',
        '/push/{source}',
        await push({ headers: { ...headers, authorization: 'Bearer not-a-jwt' }, body }),
      );
      await expectDocumented('POST', '/push/{source}', await handler(new Request(`${BASE}/push/gmail`)));
    } finally {
      await engine.stop({ timeoutMs: 1000 });
    }
  });
});
