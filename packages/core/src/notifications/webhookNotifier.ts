import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock';
import { sleep, systemClock, toIso } from '../clock';
import { SyncError } from '../errors';
import type { Job, TerminalJobStatus } from '../job/job';
import { newId, TERMINAL_STATUSES } from '../job/job';
import type { JobSummary } from './jobSummary';
import { jobSummary } from './jobSummary';

/** A notifier: pass it as the engine's `onJobFinished`. Rejects when the notification could not be delivered. */
export type JobNotifier = (job: Job) => Promise<void>;

export interface WebhookNotifierOptions {
  /** Where the JSON summary is POSTed. */
  url: string | URL;
  /** Key of the HMAC-SHA256 signature (`X-Syncjob-Signature`); share it with the receiver only. */
  secret: string;
  /** Time allowed for one attempt, in ms (default 10,000). */
  timeoutMs?: number;
  /** Attempts after the first on a network error, a timeout, a 429 or a 5xx (default 3). */
  retries?: number;
  /** First back-off in ms, doubled on each retry with jitter (default 1,000). */
  minDelayMs?: number;
  /** Longest back-off in ms (default 30,000). */
  maxDelayMs?: number;
  /** Statuses that are sent (default every terminal status). */
  statuses?: readonly TerminalJobStatus[];
  /** Extra request headers (e.g. an `Authorization` the receiver wants). */
  headers?: Record<string, string>;
  /** The `fetch` used (default the global one). */
  fetch?: typeof fetch;
  /** Time source of back-offs and timestamps (default the system clock). */
  clock?: Clock;
}

/** The JSON body the webhook receives. */
export interface WebhookPayload {
  type: 'job.finished';
  /** Same on every retry of one notification: lets the receiver drop duplicates. */
  deliveryId: string;
  /** When this notification was created (ISO 8601); signed with the body, so a receiver can refuse old replays. */
  sentAt: string;
  job: JobSummary;
}

export const SIGNATURE_HEADER = 'x-syncjob-signature';
export const TIMESTAMP_HEADER = 'x-syncjob-timestamp';
export const DELIVERY_HEADER = 'x-syncjob-delivery';

/** `sha256=<hex HMAC-SHA256 of the raw body>`. */
export function signWebhookBody(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * For receivers: true when `header` (the `X-Syncjob-Signature` value) is the signature of the raw
 * request body with `secret`. Compare the RAW body, before any JSON parsing. Constant-time.
 */
export function verifyWebhookSignature(
  body: string | Uint8Array,
  header: string | null | undefined,
  secret: string,
): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(signWebhookBody(body, secret));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * POSTs a JSON summary of each finished job (`WebhookPayload`, no message content) to `url`,
 * signed with `X-Syncjob-Signature: sha256=<hex>` over the raw body, with `X-Syncjob-Timestamp`
 * (Unix seconds) and `X-Syncjob-Delivery`. Network errors, timeouts, 429 and 5xx are retried with
 * exponential back-off and jitter (honouring `Retry-After`); another 4xx is final.
 */
export function createWebhookNotifier(options: WebhookNotifierOptions): JobNotifier {
  const url = String(options.url);
  if (!/^https?:\/\//i.test(url))
    throw new SyncError('INVALID_INPUT', `The webhook url must be http(s) (got ${url}).`);
  if (typeof options.secret !== 'string' || options.secret.length === 0) {
    throw new SyncError(
      'INVALID_INPUT',
      'A webhook secret is required: receivers verify the signature with it.',
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retries = Math.max(0, Math.floor(options.retries ?? 3));
  const minDelayMs = options.minDelayMs ?? 1_000;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const statuses: readonly string[] = options.statuses ?? TERMINAL_STATUSES;
  const clock = options.clock ?? systemClock;
  const doFetch = options.fetch ?? globalThis.fetch;

  return async (job) => {
    if (!statuses.includes(job.status)) return;
    const payload: WebhookPayload = {
      type: 'job.finished',
      deliveryId: newId(),
      sentAt: toIso(clock.now()),
      job: jobSummary(job),
    };
    const body = JSON.stringify(payload);
    const headers = {
      ...options.headers,
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signWebhookBody(body, options.secret),
      [TIMESTAMP_HEADER]: String(Math.floor(clock.now() / 1000)),
      [DELIVERY_HEADER]: payload.deliveryId,
    };

    let lastError = '';
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      let retryAfterMs: number | undefined;
      try {
        const response = await doFetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        // The body is not needed; reading it frees the connection.
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        lastError = `answered ${response.status}`;
        if (response.status !== 429 && response.status < 500) {
          throw new SyncError('PROVIDER_ERROR', `Webhook ${url} ${lastError}; a 4xx is not retried.`, {
            retryable: false,
          });
        }
        retryAfterMs = retryAfterOf(response.headers.get('retry-after'));
      } catch (error) {
        if (error instanceof SyncError) throw error;
        lastError =
          error instanceof Error && error.name === 'TimeoutError'
            ? `timed out after ${timeoutMs} ms`
            : `failed (${error instanceof Error ? error.message : String(error)})`;
      }
      if (attempt < retries) {
        const backoff = Math.min(maxDelayMs, minDelayMs * 2 ** attempt) * (0.5 + Math.random() / 2);
        await sleep(Math.min(maxDelayMs, retryAfterMs ?? backoff), { clock });
      }
    }
    throw new SyncError(
      'NETWORK',
      `Webhook ${url} ${lastError} after ${retries + 1} attempts; the notification is dropped.`,
    );
  };
}

function retryAfterOf(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
