import type { Job, LogEntry, SyncEvent } from '@syncjob/core/client';
import { formatSseFrame, SSE_HEADERS } from '@syncjob/core/http';
import { HttpResponse, http } from 'msw';

export const BASE = '/api/sync';
export const ACCOUNT = { source: 'gmail', accountId: 'alice@example.com' } as const;

export interface ScenarioOptions {
  job: Job | null;
  logs?: readonly LogEntry[];
  /** The event stream fails every time: the client shows "Reconnecting…". */
  streamDown?: boolean;
}

const isActive = (job: Job) => job.status === 'queued' || job.status === 'running';

/** An SSE body: the given frames, then (for an active job) an open stream with keep-alive comments. */
function eventStream(events: SyncEvent[], keepOpen: boolean): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  return new ReadableStream({
    start(controller) {
      let lastSeq = 0;
      for (const event of events) {
        if (event.type === 'log') lastSeq = event.entry.seq;
        controller.enqueue(encoder.encode(formatSseFrame(event, lastSeq)));
      }
      if (!keepOpen) controller.close();
      else timer = setInterval(() => controller.enqueue(encoder.encode(': keep-alive\n\n')), 15_000);
    },
    cancel() {
      clearInterval(timer);
    },
  });
}

/** msw handlers answering the SPEC 8 routes for one fixed job: a state frozen for a story. */
export function scenarioApi({ job, logs = [], streamDown = false }: ScenarioOptions) {
  const known = (id: unknown) => job !== null && id === job.id;
  const notFound = () =>
    HttpResponse.json({ error: { code: 'NOT_FOUND', message: 'No such job.' } }, { status: 404 });
  return [
    http.get(`${BASE}/jobs/active`, () => HttpResponse.json({ job: job && isActive(job) ? job : null })),
    http.get(`${BASE}/jobs`, () => HttpResponse.json({ jobs: job ? [job] : [] })),
    http.post(`${BASE}/jobs`, () =>
      job
        ? HttpResponse.json({ job, started: false, reason: 'alreadyRunning' }, { status: 202 })
        : notFound(),
    ),
    http.get(`${BASE}/jobs/:id/logs`, ({ params }) =>
      known(params.id) ? HttpResponse.json({ logs, lastSeq: logs.at(-1)?.seq ?? 0 }) : notFound(),
    ),
    http.get(`${BASE}/jobs/:id/events`, ({ params }) => {
      if (!job || !known(params.id)) return notFound();
      if (streamDown) return HttpResponse.error();
      const events: SyncEvent[] = [
        { type: 'snapshot', jobId: job.id, job },
        ...logs.map((entry): SyncEvent => ({ type: 'log', jobId: job.id, entry })),
      ];
      return new HttpResponse(eventStream(events, isActive(job)), { headers: SSE_HEADERS });
    }),
    http.post(`${BASE}/jobs/:id/cancel`, ({ params }) =>
      job && known(params.id)
        ? HttpResponse.json({ job: { ...job, cancelRequested: true } }, { status: 202 })
        : notFound(),
    ),
    http.post(`${BASE}/jobs/:id/retry`, ({ params }) =>
      job && known(params.id) ? HttpResponse.json({ job, started: true }, { status: 202 }) : notFound(),
    ),
    http.get(`${BASE}/jobs/:id`, ({ params }) => (known(params.id) ? HttpResponse.json(job) : notFound())),
  ];
}
