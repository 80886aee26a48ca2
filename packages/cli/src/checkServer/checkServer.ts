import eventsSchema from '@syncjob/core/events.schema.json' with { type: 'json' };
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { type SseItem, SseReader } from './sseReader';

/** One line of the report. */
export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CheckServerOptions {
  /** The base URL of the routes, e.g. `http://localhost:3000/api/sync` (`{baseUrl}/jobs`…). */
  baseUrl: string;
  /** Sent with every request (auth cookies or tokens). */
  headers?: Record<string, string>;
  /** The source to start (default `gmail`). */
  source?: string;
  /** The account to sync (default: a fresh `check-server-<random>` so no earlier job interferes). */
  accountId?: string;
  /** How long to wait for a keep-alive comment on an open stream, in ms (default 20,000: servers send one every 15 s). */
  keepAliveTimeoutMs?: number;
  /** How long a job may take to complete, and a cancel to take effect, in ms (default 60,000). */
  jobTimeoutMs?: number;
  /** How long one JSON request may take, answer included, in ms (default 15,000). */
  requestTimeoutMs?: number;
  /** The fetch to use (default the global one); tests pass an in-process handler. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Told about each check as soon as it is decided (for live output). */
  onCheck?: (check: CheckResult) => void;
}

/** Raised inside a check to fail it with a detail. */
class CheckFailed extends Error {}
const fail = (detail: string): never => {
  throw new CheckFailed(detail);
};
const assert = (condition: unknown, detail: string): void => {
  if (!condition) fail(detail);
};

interface JobLike {
  id: string;
  status: string;
  lastLogSeq: number;
  trigger?: string;
}
interface LogEntryLike {
  seq: number;
}
interface EventLike {
  type: string;
  jobId: string;
  job?: JobLike;
  entry?: LogEntryLike;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'interrupted']);
const STREAM_END_GRACE_MS = 5_000;

function createValidators() {
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addSchema(eventsSchema);
  const cache = new Map<string, ValidateFunction>();
  /** Fails unless `value` matches the protocol's definition `name`. */
  return (name: string, value: unknown, what: string) => {
    let validate = cache.get(name);
    if (!validate) {
      validate = ajv.getSchema(`${eventsSchema.$id}#/$defs/${name}`)!;
      cache.set(name, validate);
    }
    if (!validate(value)) {
      const error = validate.errors?.[0];
      fail(`${what} is not a valid ${name}: ${error?.instancePath || '/'} ${error?.message ?? ''}`.trim());
    }
  };
}

/**
 * Checks that a server speaks the syncjob wire protocol (`@syncjob/core/openapi.json`): start,
 * active, job, log paging, the event stream (snapshot first, live events, `Last-Event-ID` resume,
 * keep-alive, end after the terminal event), cancel, retry, and bad input. It starts real jobs: the
 * server must complete one within `jobTimeoutMs`. Never throws: every problem is a failed check.
 */
export async function checkServer(options: CheckServerOptions): Promise<CheckResult[]> {
  const base = options.baseUrl.replace(/\/+$/, '');
  const source = options.source ?? 'gmail';
  const accountId = options.accountId ?? `check-server-${crypto.randomUUID().slice(0, 8)}`;
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 20_000;
  const jobTimeoutMs = options.jobTimeoutMs ?? 60_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  const doFetch = options.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init));
  const validate = createValidators();
  const results: CheckResult[] = [];

  const record = (name: string, ok: boolean, detail: string) => {
    const result = { name, ok, detail };
    results.push(result);
    options.onCheck?.(result);
    return ok;
  };
  /** Runs one check; returns its value, or `undefined` when it failed. */
  const check = async <T>(name: string, run: () => Promise<[T, string]>): Promise<T | undefined> => {
    try {
      const [value, detail] = await run();
      record(name, true, detail);
      return value;
    } catch (error) {
      record(
        name,
        false,
        error instanceof CheckFailed ? error.message : `error: ${(error as Error).message}`,
      );
      return undefined;
    }
  };
  const skip = (names: string[], why: string) => {
    for (const name of names) record(name, false, `not run: ${why}`);
  };

  const request = async (
    method: string,
    path: string,
    init: { body?: string; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...options.headers,
      ...init.headers,
    };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    return withTimeout(doFetch(`${base}${path}`, { method, headers, body: init.body }), `${method} ${path}`);
  };
  /** Fails the check when the server does not answer (or finish its answer) in time. */
  const withTimeout = async <T>(promise: Promise<T>, what: string): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new CheckFailed(`${what}: no complete answer within ${requestTimeoutMs} ms`)),
            requestTimeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  /** A JSON answer with the expected status, its body valid against the protocol's `schemaName`. */
  const jsonAnswer = async (response: Response, status: number, schemaName: string, what: string) => {
    const text = await withTimeout(response.text(), what);
    const type = response.headers.get('content-type') ?? '';
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      fail(
        `${what}: ${response.status} ${type || 'no content-type'}, not JSON: ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
    assert(type.includes('application/json'), `${what}: content-type is "${type}", not application/json`);
    if (response.status !== status) {
      const code = (body as { error?: { code?: string } })?.error?.code;
      fail(`${what}: expected ${status}, got ${response.status}${code ? ` ${code}` : ''}`);
    }
    validate(schemaName, body, what);
    return body;
  };
  const getJob = async (id: string): Promise<JobLike> =>
    (
      (await jsonAnswer(await request('GET', `/jobs/${id}`), 200, 'JobAnswer', 'GET /jobs/:id')) as {
        job: JobLike;
      }
    ).job;
  /** Polls the job until `done(job)` or the timeout. */
  const waitForJob = async (id: string, done: (job: JobLike) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let job = await getJob(id);
    while (!done(job) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = await getJob(id);
    }
    return job;
  };
  const account = JSON.stringify({ source, accountId });
  const activeQuery = `/jobs/active?source=${encodeURIComponent(source)}&accountId=${encodeURIComponent(accountId)}`;

  // 1. Start, reattach, read.
  const started = await check('start: POST /jobs → 202 { job, started: true }', async () => {
    const body = (await jsonAnswer(
      await request('POST', '/jobs', { body: account }),
      202,
      'StartResult',
      'POST /jobs',
    )) as {
      job: JobLike;
      started: boolean;
    };
    assert(body.started === true, `started is ${body.started} for a fresh account ${accountId}`);
    assert(body.job.status === 'queued' || body.job.status === 'running', `a new job is ${body.job.status}`);
    return [body.job, `job ${body.job.id} (${body.job.status})`];
  });
  if (started) {
    await check('start again: the same job, started: false, reason alreadyRunning', async () => {
      const body = (await jsonAnswer(
        await request('POST', '/jobs', { body: account }),
        202,
        'StartResult',
        'POST /jobs',
      )) as {
        job: JobLike;
        started: boolean;
      };
      assert(body.started === false, 'a second start while the job runs started another job');
      assert(body.job.id === started.id, `returned job ${body.job.id}, not the active ${started.id}`);
      return [undefined, 'idempotent'];
    });
    await check('active: GET /jobs/active returns the running job (the reattach call)', async () => {
      const body = (await jsonAnswer(
        await request('GET', activeQuery),
        200,
        'ActiveAnswer',
        'GET /jobs/active',
      )) as {
        job: JobLike | null;
      };
      assert(body.job !== null, 'answered { job: null } while the job is active');
      assert(body.job?.id === started.id, `answered job ${body.job?.id}, not ${started.id}`);
      return [undefined, `job ${started.id} (${body.job?.status})`];
    });
    await check('job: GET /jobs/:id → 200 { job }', async () => {
      const job = await getJob(started.id);
      assert(job.id === started.id, `answered job ${job.id}`);
      return [undefined, `status ${job.status}, lastLogSeq ${job.lastLogSeq}`];
    });
    await check('list: GET /jobs?accountId= lists the job, newest first', async () => {
      const body = (await jsonAnswer(
        await request(
          'GET',
          `/jobs?accountId=${encodeURIComponent(accountId)}&source=${encodeURIComponent(source)}`,
        ),
        200,
        'JobListAnswer',
        'GET /jobs',
      )) as { jobs: JobLike[] };
      assert(body.jobs[0]?.id === started.id, 'the job is not first in the list');
      return [undefined, `${body.jobs.length} job(s)`];
    });
    await check('logs: pages follow each other (afterSeq=0&limit=2, then afterSeq=lastSeq)', async () => {
      await waitForJob(started.id, (job) => job.lastLogSeq >= 3 || TERMINAL.has(job.status), jobTimeoutMs);
      const first = (await jsonAnswer(
        await request('GET', `/jobs/${started.id}/logs?afterSeq=0&limit=2`),
        200,
        'LogPage',
        'GET /jobs/:id/logs',
      )) as { logs: LogEntryLike[]; lastSeq: number; hasMore: boolean };
      const seqs = first.logs.map((entry) => entry.seq);
      assert(seqs.join() === '1,2', `the first page has seqs [${seqs}], expected [1,2]`);
      assert(first.lastSeq === 2, `lastSeq is ${first.lastSeq}, expected 2`);
      assert(first.hasMore, 'hasMore is false on a full page');
      const second = (await jsonAnswer(
        await request('GET', `/jobs/${started.id}/logs?afterSeq=${first.lastSeq}&limit=2`),
        200,
        'LogPage',
        'GET /jobs/:id/logs',
      )) as { logs: LogEntryLike[] };
      assert(second.logs[0]?.seq === 3, `the next page starts at ${second.logs[0]?.seq}, expected 3`);
      return [undefined, `[${seqs}] then [${second.logs.map((entry) => entry.seq)}]`];
    });
  } else {
    skip(
      [
        'start again: the same job, started: false, reason alreadyRunning',
        'active: GET /jobs/active returns the running job (the reattach call)',
        'job: GET /jobs/:id → 200 { job }',
        'list: GET /jobs?accountId= lists the job, newest first',
        'logs: pages follow each other (afterSeq=0&limit=2, then afterSeq=lastSeq)',
      ],
      'start failed',
    );
  }

  // 2. The event stream.
  const SSE_CHECKS = [
    'sse: GET /jobs/:id/events → 200 text/event-stream',
    'sse: a snapshot first',
    'sse: live events follow the snapshot',
    'sse: every frame is a valid SyncEvent; event: = type; id: = last log seq',
    'sse: a reconnect with Last-Event-ID starts with a snapshot',
    'sse: the resume has no duplicate and no gap',
    'sse: keep-alive comments while open',
    'sse: the terminal event arrives (job completed)',
    'sse: the stream ends after the terminal event',
    'logs: after the end, pages cover 1…lastLogSeq with no gap',
    'active: { job: null } after the job ended',
  ];
  let finished: JobLike | undefined;
  if (started) finished = await checkStream(started);
  else skip(SSE_CHECKS, 'start failed');

  async function checkStream(job: JobLike): Promise<JobLike | undefined> {
    const frameProblems: string[] = [];
    const seenSeqs: number[] = [];
    let comments = 0;
    let terminal: EventLike | undefined;
    const open = async (lastEventId?: string) => {
      const controller = new AbortController();
      const headers: Record<string, string> = { ...options.headers, accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const response = await doFetch(`${base}/jobs/${job.id}/events`, { headers, signal: controller.signal });
      return { response, controller };
    };
    /** Reads one item; records frame problems, keep-alives, seqs and the terminal event. */
    const read = async (reader: SseReader, timeoutMs: number) => {
      const item = await reader.next(timeoutMs);
      if (typeof item === 'string') return item;
      if (item.kind === 'comment') {
        comments += 1;
        return item;
      }
      return parseFrame(item);
    };
    let lastId: string | undefined;
    const parseFrame = (item: Extract<SseItem, { kind: 'event' }>) => {
      let data: EventLike;
      try {
        data = JSON.parse(item.data);
        validate('SyncEvent', data, `the ${item.event} frame`);
      } catch (error) {
        frameProblems.push(
          error instanceof CheckFailed ? error.message : `the ${item.event} frame's data is not JSON`,
        );
        return { ...item, parsed: undefined };
      }
      if (data.type !== item.event) frameProblems.push(`event: ${item.event} carries a ${data.type}`);
      if (data.jobId !== job.id) frameProblems.push(`a ${data.type} frame of job ${data.jobId}`);
      if (item.id === undefined) frameProblems.push(`a ${data.type} frame without id:`);
      else lastId = item.id;
      if (data.type === 'log' && data.entry && item.id !== String(data.entry.seq)) {
        frameProblems.push(`a log frame of seq ${data.entry.seq} has id: ${item.id}`);
      }
      if (TERMINAL.has(data.type)) terminal = data;
      return { ...item, parsed: data };
    };
    /** The first event frame of a connection. */
    const firstFrame = async (reader: SseReader) => {
      for (;;) {
        const item = await read(reader, 10_000);
        if (typeof item === 'string') return item;
        if (item.kind === 'event') return item;
      }
    };

    // First connection: snapshot, then live events until keep-alive and a few log lines were seen.
    const first = await check('sse: GET /jobs/:id/events → 200 text/event-stream', async () => {
      const connection = await open();
      const type = connection.response.headers.get('content-type') ?? '';
      if (
        connection.response.status !== 200 ||
        !type.includes('text/event-stream') ||
        !connection.response.body
      ) {
        connection.controller.abort();
        fail(`${connection.response.status} ${type}`);
      }
      return [connection, type];
    });
    if (!first) {
      skip(SSE_CHECKS.slice(1), 'the stream did not open');
      return undefined;
    }
    const readerA = new SseReader(first.response.body!);
    const firstA = await firstFrame(readerA);
    record(
      'sse: a snapshot first',
      typeof firstA !== 'string' && firstA.event === 'snapshot',
      typeof firstA === 'string' ? `no event frame (${firstA})` : `first frame: ${firstA.event}`,
    );
    const openedAt = Date.now();
    let liveEvents = 0;
    let logsA = 0;
    let endedA = false;
    while (!terminal) {
      const keepAliveDone = comments > 0 || Date.now() - openedAt >= keepAliveTimeoutMs;
      if (logsA >= 2 && keepAliveDone) break;
      const item = await read(readerA, Math.min(jobTimeoutMs, keepAliveTimeoutMs + 1_000));
      if (item === 'end') {
        endedA = true;
        break;
      }
      if (item === 'timeout') break;
      if (item.kind !== 'event' || !item.parsed) continue;
      liveEvents += 1;
      if (item.parsed.type === 'log' && item.parsed.entry) {
        seenSeqs.push(item.parsed.entry.seq);
        logsA += 1;
      }
    }
    record(
      'sse: live events follow the snapshot',
      liveEvents > 0,
      liveEvents > 0
        ? `${liveEvents} event(s), ${logsA} log line(s) on the first connection`
        : 'nothing after the snapshot',
    );
    const resumeFrom = lastId ?? '0';
    const terminalOnA = terminal !== undefined;
    if (terminalOnA && !endedA) {
      const after = await readerA.next(STREAM_END_GRACE_MS);
      endedA = after === 'end';
    }
    await readerA.close();
    first.controller.abort();

    // Second connection: resume after the last id seen, to the end.
    const second = await open(resumeFrom);
    const readerB = second.response.body ? new SseReader(second.response.body) : undefined;
    const firstB = readerB ? await firstFrame(readerB) : 'end';
    record(
      'sse: a reconnect with Last-Event-ID starts with a snapshot',
      second.response.status === 200 && typeof firstB !== 'string' && firstB.event === 'snapshot',
      second.response.status !== 200
        ? `${second.response.status} on reconnect`
        : typeof firstB === 'string'
          ? `no event frame (${firstB})`
          : `Last-Event-ID: ${resumeFrom} → first frame ${firstB.event}`,
    );
    const resumed: number[] = [];
    const deadline = Date.now() + jobTimeoutMs;
    let endedB = false;
    if (readerB) {
      terminal = undefined;
      while (!terminal && Date.now() < deadline) {
        const item = await read(readerB, deadline - Date.now());
        if (item === 'end') {
          endedB = true;
          break;
        }
        if (item === 'timeout') break;
        if (item.kind === 'event' && item.parsed?.type === 'log' && item.parsed.entry)
          resumed.push(item.parsed.entry.seq);
      }
      if (terminal && !endedB) endedB = (await readerB.next(STREAM_END_GRACE_MS)) === 'end';
      await readerB.close();
    }
    second.controller.abort();

    const ended = await getJob(job.id).catch(() => undefined);
    const last = ended?.lastLogSeq ?? 0;
    await check('sse: the resume has no duplicate and no gap', async () => {
      const after = Number(resumeFrom);
      const dup = resumed.filter((seq) => seq <= after);
      assert(dup.length === 0, `resumed after ${after} and got seq ${dup.slice(0, 5).join(', ')} again`);
      let expected = after + 1;
      for (const seq of resumed) {
        assert(seq === expected, `resumed after ${after}: expected seq ${expected}, got ${seq} (a gap)`);
        expected += 1;
      }
      assert(
        !terminal || expected - 1 === last,
        `resumed after ${after} and got lines up to ${expected - 1}, but the job has ${last}`,
      );
      return [
        undefined,
        resumed.length > 0
          ? `Last-Event-ID ${after} → ${resumed[0]}…${resumed.at(-1)}`
          : `Last-Event-ID ${after} → nothing left${terminalOnA ? ' (the job ended during the first connection)' : ''}`,
      ];
    });
    record(
      'sse: every frame is a valid SyncEvent; event: = type; id: = last log seq',
      frameProblems.length === 0,
      frameProblems.length === 0
        ? `${seenSeqs.length + resumed.length} log frames`
        : frameProblems.slice(0, 2).join('; '),
    );
    record(
      'sse: keep-alive comments while open',
      comments > 0,
      comments > 0
        ? `${comments} comment(s)`
        : `no comment line within ${keepAliveTimeoutMs} ms (set --keepalive-timeout above the server's interval; the job must stream that long)`,
    );
    const terminalEvent = terminal as EventLike | undefined;
    const completed = terminalEvent?.type === 'completed';
    record(
      'sse: the terminal event arrives (job completed)',
      completed,
      terminalEvent
        ? `${terminalEvent.type}`
        : `none within ${jobTimeoutMs} ms (job ${ended?.status ?? 'unknown'})`,
    );
    const endedAfterTerminal = terminalOnA ? endedA : endedB;
    record(
      'sse: the stream ends after the terminal event',
      terminalEvent !== undefined && endedAfterTerminal,
      terminalEvent === undefined
        ? 'no terminal event'
        : endedAfterTerminal
          ? 'closed'
          : `still open ${STREAM_END_GRACE_MS} ms after ${terminalEvent.type}`,
    );
    await check('logs: after the end, pages cover 1…lastLogSeq with no gap', async () => {
      assert(ended && TERMINAL.has(ended.status), `the job is ${ended?.status}`);
      const seqs: number[] = [];
      let afterSeq = 0;
      for (let page = 0; page < 1000; page++) {
        const body = (await jsonAnswer(
          await request('GET', `/jobs/${job.id}/logs?afterSeq=${afterSeq}&limit=5`),
          200,
          'LogPage',
          'GET /jobs/:id/logs',
        )) as { logs: LogEntryLike[]; lastSeq: number; hasMore: boolean };
        seqs.push(...body.logs.map((entry) => entry.seq));
        assert(body.lastSeq >= afterSeq, `lastSeq went back from ${afterSeq} to ${body.lastSeq}`);
        afterSeq = body.lastSeq;
        if (!body.hasMore) break;
      }
      seqs.forEach((seq, index) => {
        assert(seq === index + 1, `line ${index + 1} has seq ${seq}`);
      });
      assert(seqs.length === last, `${seqs.length} lines, but lastLogSeq is ${last}`);
      return [undefined, `${seqs.length} lines in pages of 5`];
    });
    await check('active: { job: null } after the job ended', async () => {
      const body = (await jsonAnswer(
        await request('GET', activeQuery),
        200,
        'ActiveAnswer',
        'GET /jobs/active',
      )) as {
        job: JobLike | null;
      };
      assert(body.job === null, `answered job ${body.job?.id} (${body.job?.status})`);
      return [undefined, 'null'];
    });
    return ended;
  }

  // 3. Cancel and retry.
  const error = async (response: Response, status: number, code: string, what: string) => {
    const body = (await jsonAnswer(response, status, `Error${status}`, what)) as { error: { code: string } };
    assert(body.error.code === code, `${what}: code ${body.error.code}, expected ${code}`);
    return [undefined, `${status} ${code}`] as [undefined, string];
  };
  const CANCEL_CHECKS = [
    'cancel: an ended job → 409 CONFLICT',
    'retry: a completed job → 409 CONFLICT',
    'retry: a running job → 409 CONFLICT',
    'cancel: a running job → 202 { job }',
    'cancel: the job ends cancelled',
    'retry: a cancelled job → 202 a new job, started',
  ];
  if (finished && finished.status === 'completed') {
    const done = finished;
    await check(CANCEL_CHECKS[0]!, async () =>
      error(await request('POST', `/jobs/${done.id}/cancel`), 409, 'CONFLICT', 'POST /jobs/:id/cancel'),
    );
    await check(CANCEL_CHECKS[1]!, async () =>
      error(await request('POST', `/jobs/${done.id}/retry`), 409, 'CONFLICT', 'POST /jobs/:id/retry'),
    );
    const running = (await (async () => {
      try {
        const body = (await jsonAnswer(
          await request('POST', '/jobs', { body: account }),
          202,
          'StartResult',
          'POST /jobs',
        )) as {
          job: JobLike;
        };
        return body.job;
      } catch {
        return undefined;
      }
    })()) as JobLike | undefined;
    if (running) {
      await check(CANCEL_CHECKS[2]!, async () =>
        error(await request('POST', `/jobs/${running.id}/retry`), 409, 'CONFLICT', 'POST /jobs/:id/retry'),
      );
      await check(CANCEL_CHECKS[3]!, async () => {
        const body = (await jsonAnswer(
          await request('POST', `/jobs/${running.id}/cancel`),
          202,
          'JobAnswer',
          'POST /jobs/:id/cancel',
        )) as { job: JobLike };
        assert(body.job.id === running.id, `answered job ${body.job.id}`);
        return [undefined, `status ${body.job.status}`];
      });
      const cancelled = await check(CANCEL_CHECKS[4]!, async () => {
        const job = await waitForJob(running.id, (candidate) => TERMINAL.has(candidate.status), jobTimeoutMs);
        assert(job.status === 'cancelled', `the job is ${job.status}`);
        return [job, 'cancelled'];
      });
      if (cancelled) {
        await check(CANCEL_CHECKS[5]!, async () => {
          const body = (await jsonAnswer(
            await request('POST', `/jobs/${running.id}/retry`),
            202,
            'StartResult',
            'POST /jobs/:id/retry',
          )) as { job: JobLike; started: boolean };
          assert(body.started === true && body.job.id !== running.id, 'no new job was started');
          // Leave nothing running behind.
          await request('POST', `/jobs/${body.job.id}/cancel`).catch(() => undefined);
          return [undefined, `job ${body.job.id} (trigger ${body.job.trigger})`];
        });
      } else skip(CANCEL_CHECKS.slice(5), 'the cancel did not take effect');
    } else skip(CANCEL_CHECKS.slice(2), 'a second start failed');
  } else skip(CANCEL_CHECKS, 'the first job did not complete');

  // 4. Bad input: each a JSON error with a code and the right status.
  const unknown = crypto.randomUUID();
  const badInput: Array<[string, string, string, string | undefined, number, string]> = [
    ['GET /jobs/undefined → 400', 'GET', '/jobs/undefined', undefined, 400, 'INVALID_INPUT'],
    ['GET /jobs/null → 400', 'GET', '/jobs/null', undefined, 400, 'INVALID_INPUT'],
    ['GET /jobs/not-a-uuid → 400', 'GET', '/jobs/not-a-uuid', undefined, 400, 'INVALID_INPUT'],
    ['GET /jobs/undefined/logs → 400', 'GET', '/jobs/undefined/logs', undefined, 400, 'INVALID_INPUT'],
    ['GET /jobs/undefined/events → 400', 'GET', '/jobs/undefined/events', undefined, 400, 'INVALID_INPUT'],
    ['POST /jobs/null/cancel → 400', 'POST', '/jobs/null/cancel', undefined, 400, 'INVALID_INPUT'],
    ['POST /jobs/undefined/retry → 400', 'POST', '/jobs/undefined/retry', undefined, 400, 'INVALID_INPUT'],
    ['POST /jobs with broken JSON → 400', 'POST', '/jobs', '{"source": "gmail",', 400, 'INVALID_INPUT'],
    ['POST /jobs without accountId → 400', 'POST', '/jobs', JSON.stringify({ source }), 400, 'INVALID_INPUT'],
    [
      'GET /jobs/active?accountId=undefined → 400',
      'GET',
      `/jobs/active?source=${encodeURIComponent(source)}&accountId=undefined`,
      undefined,
      400,
      'INVALID_INPUT',
    ],
    ['GET /jobs/<unknown id> → 404', 'GET', `/jobs/${unknown}`, undefined, 404, 'NOT_FOUND'],
    ['GET /jobs/<unknown id>/logs → 404', 'GET', `/jobs/${unknown}/logs`, undefined, 404, 'NOT_FOUND'],
    ['GET /jobs/<unknown id>/events → 404', 'GET', `/jobs/${unknown}/events`, undefined, 404, 'NOT_FOUND'],
    ['POST /jobs/<unknown id>/cancel → 404', 'POST', `/jobs/${unknown}/cancel`, undefined, 404, 'NOT_FOUND'],
    ['POST /jobs/<unknown id>/retry → 404', 'POST', `/jobs/${unknown}/retry`, undefined, 404, 'NOT_FOUND'],
  ];
  if (started) {
    badInput.push([
      'GET /jobs/:id/logs?afterSeq=-1 → 400',
      'GET',
      `/jobs/${started.id}/logs?afterSeq=-1`,
      undefined,
      400,
      'INVALID_INPUT',
    ]);
  }
  for (const [name, method, path, body, status, code] of badInput) {
    await check(`bad input: ${name}`, async () =>
      error(
        await request(method, path, body === undefined ? {} : { body }),
        status,
        code,
        `${method} ${path}`,
      ),
    );
  }
  return results;
}

/** The report as a plain-text table: check, result, detail. */
export function formatCheckTable(results: readonly CheckResult[]): string {
  const nameWidth = Math.max(5, ...results.map((result) => result.name.length));
  const lines = [`${'check'.padEnd(nameWidth)}  result  detail`, `${'-'.repeat(nameWidth)}  ------  ------`];
  for (const result of results) {
    lines.push(
      `${result.name.padEnd(nameWidth)}  ${(result.ok ? 'pass' : 'FAIL').padEnd(6)}  ${result.detail}`,
    );
  }
  const failed = results.filter((result) => !result.ok).length;
  lines.push(
    '',
    failed === 0 ? `All ${results.length} checks passed.` : `${failed} of ${results.length} checks failed.`,
  );
  return `${lines.join('\n')}\n`;
}
