// The wire protocol as data: builds `protocol/events.schema.json` (JSON Schema 2020-12) and
// `protocol/openapi.json` (OpenAPI 3.1) from the one set of definitions below.
// Run `node packages/core/scripts/protocolSchemas.mjs` after changing them; the drift test
// (`src/http/protocol.test.ts`) fails while the committed files differ from this output, and checks
// the definitions against the TypeScript types and the real handler's answers.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SYNC_ERROR_CODES as SYNC_ERROR_CODE_SET } from '../src/errors.ts';

export const EVENTS_SCHEMA_ID = 'https://example.invalid/syncjob/protocol/events.schema.json';

// The codes come from the one list in `src/errors.ts` (Node runs that file as it is: it has no
// imports and no TypeScript-only syntax), so the schema cannot name a code the library lacks.
const SYNC_ERROR_CODES = [...SYNC_ERROR_CODE_SET];
const HTTP_ONLY_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CROSS_SITE_REQUEST',
  'UNSUPPORTED_MEDIA_TYPE',
  'TOO_MANY_STREAMS',
];

const ref = (name) => ({ $ref: `#/$defs/${name}` });
const nullable = (schema) => ({ anyOf: [schema, { type: 'null' }] });
const count = { type: 'integer', minimum: 0 };
const object = (properties, required = Object.keys(properties), extra = {}) => ({
  type: 'object',
  required,
  properties,
  ...extra,
});
const event = (type, description, payload) => ({
  description,
  ...object({ type: typeof type === 'string' ? { const: type } : type, jobId: ref('JobId'), ...payload }),
});

/** Every definition, keyed by name: `$defs` of the events schema, `components.schemas` of OpenAPI. */
export const definitions = {
  JobId: { description: 'A job id: a UUID (v4 from the reference engine).', type: 'string', format: 'uuid' },
  Timestamp: { description: 'ISO 8601 date and time (UTC).', type: 'string', format: 'date-time' },
  JobStatus: {
    description:
      '`queued` → `running` → one of the terminal statuses (completed, failed, cancelled, interrupted).',
    enum: ['queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted'],
  },
  TerminalJobStatus: { enum: ['completed', 'failed', 'cancelled', 'interrupted'] },
  JobPhase: { enum: ['labels', 'listing', 'fetching', 'storing', 'finalizing'] },
  SyncMode: { enum: ['full', 'incremental'] },
  RequestedSyncMode: {
    description: '`auto` picks incremental when the account has a cursor.',
    enum: ['auto', 'full', 'incremental'],
  },
  JobTrigger: {
    description:
      "`resume` continues from the account's checkpoint; `push` follows a mailbox-changed notification.",
    enum: ['manual', 'schedule', 'resume', 'push'],
  },
  JobWaitReason: {
    description:
      "What a held-back job waits for: the Cloud project's per-minute quota, its daily budget, or the account's own quota.",
    enum: ['project-quota', 'project-daily-quota', 'user-quota'],
  },
  LogLevel: { enum: ['info', 'warn', 'error'] },
  SyncErrorCode: { enum: SYNC_ERROR_CODES },
  HttpErrorCode: {
    description: 'Every `SyncErrorCode` plus the codes only HTTP has.',
    enum: [...SYNC_ERROR_CODES, ...HTTP_ONLY_CODES],
  },
  JobCounters: {
    description: 'Counters count durable work only.',
    ...object({
      total: {
        description: 'Items the job will process, null until known (never invented).',
        ...nullable(count),
      },
      listed: count,
      fetched: count,
      classified: count,
      stored: count,
      skipped: count,
      deleted: count,
      failed: count,
    }),
  },
  JobError: object({
    code: ref('SyncErrorCode'),
    message: { type: 'string' },
    retryable: { type: 'boolean' },
  }),
  JobWaiting: {
    description: 'A job held back by a quota: what it waits for and until when.',
    ...object({ for: ref('JobWaitReason'), until: ref('Timestamp') }),
  },
  Job: {
    description:
      'One sync attempt of one account from one source: the snapshot every route and event carries.',
    ...object({
      id: ref('JobId'),
      source: { type: 'string', minLength: 1 },
      accountId: { type: 'string', minLength: 1 },
      status: ref('JobStatus'),
      phase: { description: 'null unless running.', ...nullable(ref('JobPhase')) },
      mode: ref('SyncMode'),
      trigger: ref('JobTrigger'),
      counters: ref('JobCounters'),
      categoryCounts: { type: 'object', additionalProperties: count },
      percent: {
        description: '0–100, null while the total is unknown.',
        ...nullable({ type: 'number', minimum: 0, maximum: 100 }),
      },
      ratePerSec: nullable({ type: 'number', minimum: 0 }),
      etaSeconds: { description: 'Never 0 while work remains.', ...nullable({ type: 'number', minimum: 0 }) },
      currentItem: nullable({ type: 'string' }),
      waiting: {
        description:
          'Set while the running job is held back by a quota; cleared by the next committed batch.',
        ...nullable(ref('JobWaiting')),
      },
      createdAt: ref('Timestamp'),
      startedAt: nullable(ref('Timestamp')),
      updatedAt: ref('Timestamp'),
      heartbeatAt: nullable(ref('Timestamp')),
      leaseExpiresAt: nullable(ref('Timestamp')),
      finishedAt: nullable(ref('Timestamp')),
      attempt: count,
      cancelRequested: { type: 'boolean' },
      error: nullable(ref('JobError')),
      lastLogSeq: { description: 'Seq of the newest log line (0 when none).', ...count },
    }),
  },
  LogEntry: {
    description: 'A log line: `seq` is 1, 2, 3 … per job, with no gaps.',
    ...object(
      {
        jobId: ref('JobId'),
        seq: { type: 'integer', minimum: 1 },
        at: ref('Timestamp'),
        level: ref('LogLevel'),
        message: { type: 'string' },
        data: { description: 'Small, non-sensitive details.', type: 'object' },
      },
      ['jobId', 'seq', 'at', 'level', 'message'],
    ),
  },
  JobProgress: {
    description: 'The progress fields of a job, sent often and cheaply.',
    ...object({
      phase: nullable(ref('JobPhase')),
      mode: ref('SyncMode'),
      counters: ref('JobCounters'),
      categoryCounts: { type: 'object', additionalProperties: count },
      percent: nullable({ type: 'number', minimum: 0, maximum: 100 }),
      ratePerSec: nullable({ type: 'number', minimum: 0 }),
      etaSeconds: nullable({ type: 'number', minimum: 0 }),
      currentItem: nullable({ type: 'string' }),
      waiting: nullable(ref('JobWaiting')),
      updatedAt: ref('Timestamp'),
    }),
  },
  SnapshotEvent: event('snapshot', 'The whole job, first frame of every connection.', { job: ref('Job') }),
  StatusEvent: event('status', 'A status change with the whole job.', { job: ref('Job') }),
  ProgressEvent: event('progress', 'Throttled progress.', { progress: ref('JobProgress') }),
  LogEvent: event('log', 'One new log line; its seq is the frame `id:`.', { entry: ref('LogEntry') }),
  TerminalEvent: event(
    ref('TerminalJobStatus'),
    'The job ended; `type` is its terminal status. The last frame of a stream.',
    {
      job: ref('Job'),
    },
  ),
  SyncEvent: {
    description: 'The `data:` of every SSE frame (its `event:` is the `type`).',
    oneOf: [
      ref('SnapshotEvent'),
      ref('StatusEvent'),
      ref('ProgressEvent'),
      ref('LogEvent'),
      ref('TerminalEvent'),
    ],
  },
  StartResult: {
    description:
      '`started: false` with `reason: "alreadyRunning"` when the account already has an active job (returned as `job`).',
    oneOf: [
      object({ job: ref('Job'), started: { const: true } }, ['job', 'started']),
      object({ job: ref('Job'), started: { const: false }, reason: { const: 'alreadyRunning' } }),
    ],
  },
  StartBody: object(
    {
      source: { type: 'string', minLength: 1, maxLength: 256 },
      accountId: { type: 'string', minLength: 1, maxLength: 256 },
      mode: ref('RequestedSyncMode'),
    },
    ['source', 'accountId'],
  ),
  JobAnswer: object({ job: ref('Job') }),
  ActiveAnswer: object({ job: nullable(ref('Job')) }),
  JobListAnswer: object({ jobs: { type: 'array', items: ref('Job') } }),
  LogPage: {
    description:
      '`lastSeq` is the cursor of the next page (`afterSeq`); `hasMore` says whether to ask for it.',
    ...object({
      logs: { type: 'array', items: ref('LogEntry') },
      lastSeq: count,
      hasMore: { type: 'boolean' },
    }),
  },
  WorkBody: {
    description: 'The body of `POST /work` (optional).',
    ...object(
      {
        maxMs: {
          type: 'integer',
          minimum: 1000,
          description: "The budget in ms, lowered to the server's maximum.",
        },
      },
      [],
    ),
  },
  WorkedJob: {
    description: 'A job a work call ran.',
    ...object({
      id: ref('JobId'),
      source: { type: 'string' },
      accountId: { type: 'string' },
      status: ref('JobStatus'),
      handedBack: { type: 'boolean', description: 'Handed back unfinished at the end of the slice.' },
      processed: { ...count, description: 'Items done during this call.' },
      percent: nullable({ type: 'number', minimum: 0, maximum: 100 }),
      etaSeconds: nullable({ type: 'number', minimum: 0 }),
    }),
  },
  WorkResult: {
    description: 'The answer of `POST /work`.',
    ...object({
      ran: { ...count, description: 'Jobs this call claimed and ran.' },
      jobs: { type: 'array', items: ref('WorkedJob') },
      moreWork: { type: 'boolean', description: 'Call again now.' },
    }),
  },
  PushBody: {
    description:
      "The body of a Pub/Sub push: `message.data` is base64 of Gmail's JSON `{ emailAddress, historyId }`.",
    ...object(
      {
        message: object(
          {
            data: { type: 'string', contentEncoding: 'base64' },
            messageId: { type: 'string' },
            publishTime: { type: 'string' },
          },
          ['data'],
        ),
        subscription: { type: 'string' },
      },
      ['message'],
    ),
  },
  PushIgnored: {
    description:
      'A correctly signed push whose body is not a Gmail notification: acknowledged, so not redelivered.',
    ...object({
      ignored: object({ code: { const: 'INVALID_INPUT' }, message: { type: 'string', minLength: 1 } }),
    }),
  },
  ErrorBody: {
    description: 'The body of every error answer.',
    ...object({ error: object({ code: ref('HttpErrorCode'), message: { type: 'string', minLength: 1 } }) }),
  },
};

/** The codes each error status carries (the handler's `httpError.ts` and `syncHandler.ts`). */
export const CODES_BY_STATUS = {
  400: ['INVALID_INPUT', 'UNKNOWN_SOURCE'],
  401: ['UNAUTHENTICATED'],
  403: ['FORBIDDEN', 'CROSS_SITE_REQUEST'],
  404: ['NOT_FOUND', 'ROUTE_NOT_FOUND'],
  405: ['METHOD_NOT_ALLOWED'],
  409: [
    'CONFLICT',
    'LEASE_LOST',
    'LEASE_EXPIRED',
    'CANCELLED',
    'REAUTH_REQUIRED',
    'ACCOUNT_MISMATCH',
    'CURSOR_EXPIRED',
  ],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
  429: ['TOO_MANY_STREAMS', 'RATE_LIMITED'],
  500: ['INTERNAL'],
  502: ['NETWORK', 'PROVIDER_ERROR'],
  503: ['STORE_UNAVAILABLE', 'SHUTDOWN'],
};
for (const [status, codes] of Object.entries(CODES_BY_STATUS)) {
  definitions[`Error${status}`] = {
    description: `The body of a ${status} answer.`,
    allOf: [
      ref('ErrorBody'),
      { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } },
    ],
  };
}

/** JSON Schema 2020-12 of the job, the log entry, every SSE event and every JSON body. */
export function buildEventsSchema() {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: EVENTS_SCHEMA_ID,
    title: 'syncjob wire protocol: job, log entry, SSE events and JSON bodies',
    $ref: '#/$defs/SyncEvent',
    $defs: definitions,
  };
}

const toComponents = (value) =>
  JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/'));
const schema = (name) => ({ $ref: `#/components/schemas/${name}` });
const json = (name) => ({ 'application/json': { schema: schema(name) } });
const answer = (description, name, headers) => ({
  description,
  content: json(name),
  ...(headers ? { headers } : {}),
});

const ERRORS = {
  400: 'INVALID_INPUT: malformed id (also `undefined`, `null`, empty), body (broken JSON, wrong fields, over 16 kB) or query. UNKNOWN_SOURCE: a source the server does not know.',
  401: 'UNAUTHENTICATED: no principal.',
  403: 'FORBIDDEN: the principal may not use this account. CROSS_SITE_REQUEST: a state-changing request sent by a page of another site or origin (`Sec-Fetch-Site` / `Origin`).',
  404: 'NOT_FOUND: the job does not exist or belongs to someone else (the same body for both). ROUTE_NOT_FOUND: no such route.',
  405: 'METHOD_NOT_ALLOWED, with an `Allow` header.',
  409: "CONFLICT: the action conflicts with the job's state (cancel of an ended job, retry of an active or completed job). The job states a user must resolve (REAUTH_REQUIRED, ACCOUNT_MISMATCH, CURSOR_EXPIRED…) have this status too.",
  415: 'UNSUPPORTED_MEDIA_TYPE: a POST body that is not `application/json` (send JSON, or no body).',
  429: 'TOO_MANY_STREAMS: too many open event streams for this principal or in total. RATE_LIMITED: too many starts, cancels or retries. Retry after `Retry-After` seconds.',
  500: 'INTERNAL: a bug, without details.',
  502: 'NETWORK, PROVIDER_ERROR: the mail provider failed.',
  503: 'STORE_UNAVAILABLE: the store cannot be reached; retry after `Retry-After` seconds. SHUTDOWN: the server is stopping.',
};
const errorAnswers = (...statuses) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      answer(
        ERRORS[status],
        `Error${status}`,
        status === 503 || status === 429
          ? { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds.' } }
          : status === 405
            ? { Allow: { schema: { type: 'string' } } }
            : undefined,
      ),
    ]),
  );
const COMMON = [401, 405, 500, 503];
const jobIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The job id (a UUID).',
  schema: schema('JobId'),
};
const query = (name, description, schemaValue, required = false) => ({
  name,
  in: 'query',
  required,
  description,
  schema: schemaValue,
});

/** OpenAPI 3.1 of every route, with the same schemas as `components.schemas`. */
export function buildOpenApi() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'syncjob HTTP API',
      version: '1',
      description:
        'Durable mailbox sync jobs. Routes live under a base path chosen by the server (e.g. `/api/sync`). JSON in camelCase. Errors are `{ error: { code, message } }`. See "The wire protocol" in the @syncjob/core README for the event stream rules.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/api/sync', description: 'The base path (the server chooses it).' }],
    paths: {
      '/jobs': {
        post: {
          operationId: 'startJob',
          summary: 'Start a sync of an account, or return its active job (idempotent).',
          requestBody: { required: true, content: json('StartBody') },
          responses: {
            202: answer('Started, or the job already active for the account.', 'StartResult'),
            ...errorAnswers(400, 403, 415, 429, ...COMMON),
          },
        },
        get: {
          operationId: 'listJobs',
          summary: "The account's jobs, newest first.",
          parameters: [
            query('accountId', 'The account.', { type: 'string', minLength: 1 }, true),
            query('source', 'Only this source.', { type: 'string', minLength: 1 }),
            query('limit', 'At most this many (default 50).', { type: 'integer', minimum: 1, maximum: 500 }),
          ],
          responses: {
            200: answer('Jobs, newest first.', 'JobListAnswer'),
            ...errorAnswers(400, 403, ...COMMON),
          },
        },
      },
      '/jobs/active': {
        get: {
          operationId: 'getActiveJob',
          summary: "The account's queued or running job, null when none: the reattach call after a reload.",
          parameters: [
            query('source', 'The source.', { type: 'string', minLength: 1 }, true),
            query('accountId', 'The account.', { type: 'string', minLength: 1 }, true),
          ],
          responses: {
            200: answer('The active job or null.', 'ActiveAnswer'),
            ...errorAnswers(400, 403, ...COMMON),
          },
        },
      },
      '/jobs/{id}': {
        get: {
          operationId: 'getJob',
          summary: 'A job snapshot.',
          parameters: [jobIdParam],
          responses: { 200: answer('The job.', 'JobAnswer'), ...errorAnswers(400, 404, ...COMMON) },
        },
      },
      '/jobs/{id}/logs': {
        get: {
          operationId: 'getJobLogs',
          summary: 'A page of log lines after `afterSeq`, in seq order.',
          parameters: [
            jobIdParam,
            query('afterSeq', 'Lines with a greater seq (default 0).', { type: 'integer', minimum: 0 }),
            query('limit', 'At most this many (default 500, max 5000).', {
              type: 'integer',
              minimum: 1,
              maximum: 5000,
            }),
          ],
          responses: { 200: answer('A page of lines.', 'LogPage'), ...errorAnswers(400, 404, ...COMMON) },
        },
      },
      '/jobs/{id}/events': {
        get: {
          operationId: 'streamJobEvents',
          summary:
            'Server-sent events: a snapshot, the log lines after `Last-Event-ID` (or `afterSeq`), live events; ends after the terminal event.',
          description:
            'Each frame is `id: <seq of the newest log line sent on this stream>`, `event: <type>`, `data: <SyncEvent JSON>`. Comments (`: keep-alive`) flow at least every 15 s. `Last-Event-ID` (a reconnect) wins over `?afterSeq=` (a first connect). The stream closes after the terminal event (completed, failed, cancelled, interrupted); a stream that drops before it is not the end of the job: reconnect.',
          parameters: [
            jobIdParam,
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              description: 'Resume after this log seq.',
              schema: { type: 'string', pattern: '^\\d+$' },
            },
            query('afterSeq', 'Resume after this log seq on a first connect (default 0).', {
              type: 'integer',
              minimum: 0,
            }),
          ],
          responses: {
            200: {
              description: 'The event stream; each `data:` is a SyncEvent.',
              content: {
                'text/event-stream': { schema: { type: 'string' }, itemSchema: schema('SyncEvent') },
              },
            },
            ...errorAnswers(400, 404, 429, ...COMMON),
          },
        },
      },
      '/jobs/{id}/cancel': {
        post: {
          operationId: 'cancelJob',
          summary: 'Cancel a queued or running job (it ends `cancelled` within a batch or heartbeat).',
          parameters: [jobIdParam],
          responses: {
            202: answer('Cancellation requested (or done, for a queued job).', 'JobAnswer'),
            ...errorAnswers(400, 403, 404, 409, 415, 429, ...COMMON),
          },
        },
      },
      '/jobs/{id}/retry': {
        post: {
          operationId: 'retryJob',
          summary: 'A new job resuming from the checkpoint of a failed, cancelled or interrupted job.',
          parameters: [jobIdParam],
          responses: {
            202: answer('The new (or already active) job.', 'StartResult'),
            ...errorAnswers(400, 403, 404, 409, 415, 429, ...COMMON),
          },
        },
      },
      '/work': {
        post: {
          operationId: 'work',
          summary:
            'Serverless hosts: run queued and resumable jobs for at most `maxMs`, commit, hand their leases back, and say whether to call again. Only when the server sets a work secret.',
          description:
            'Authorised by `Authorization: Bearer <work secret>`, not by a user session. Without a work secret on the server the route does not exist (404 ROUTE_NOT_FOUND).',
          requestBody: { required: false, content: json('WorkBody') },
          responses: {
            200: answer('What the slice did.', 'WorkResult'),
            ...errorAnswers(400, 404, 415, ...COMMON),
          },
        },
      },
      '/push/{source}': {
        post: {
          operationId: 'push',
          summary:
            'The endpoint of a Pub/Sub push subscription on the Gmail watch topic: starts, joins or plans an incremental sync of the notified account. Only when the server configures `push`.',
          description:
            "Authorised by Pub/Sub's OIDC token (`Authorization: Bearer <JWT>` signed by Google for the configured audience and service account), not by a user session. Answers 2xx for everything a redelivery cannot change, so Pub/Sub redelivers only what may succeed later. Without `push` on the server the route does not exist (404 ROUTE_NOT_FOUND).",
          parameters: [
            {
              name: 'source',
              in: 'path',
              required: true,
              description: 'The source the notifications are about (default `gmail`).',
              schema: { type: 'string' },
            },
          ],
          requestBody: { required: true, content: json('PushBody') },
          responses: {
            200: answer('Signed, but not a Gmail notification: acknowledged and ignored.', 'PushIgnored'),
            204: {
              description: 'Accepted (sync started, joined or planned), or an address with no account.',
            },
            ...errorAnswers(404, ...COMMON),
            502: answer(
              "NETWORK: Google's signing keys could not be fetched; Pub/Sub delivers the push again.",
              'Error502',
            ),
          },
        },
      },
    },
    components: { schemas: toComponents(definitions) },
  };
}

export const PROTOCOL_FILES = {
  'events.schema.json': buildEventsSchema,
  'openapi.json': buildOpenApi,
};

export const serialize = (value) => `${JSON.stringify(value, null, 2)}\n`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [file, build] of Object.entries(PROTOCOL_FILES)) {
    writeFileSync(new URL(`../protocol/${file}`, import.meta.url), serialize(build()));
  }
}
