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
  /** Key of the HMAC-SHA256 signature (`X-Syncjob-Signature`, over `<timestamp>.<body>`); share it with the receiver only. */
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
  /** When this notification was created (ISO 8601). Freshness is checked on the signed `X-Syncjob-Timestamp`. */
  sentAt: string;
  job: JobSummary;
}

export const SIGNATURE_HEADER = 'x-syncjob-signature';
export const TIMESTAMP_HEADER = 'x-syncjob-timestamp';
export const DELIVERY_HEADER = 'x-syncjob-delivery';

/**
 * `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`. The timestamp (Unix seconds, the
 * `X-Syncjob-Timestamp` header) is inside the MAC, so a captured delivery cannot be replayed later
 * with a fresh timestamp.
 */
export function signWebhookBody(
  body: string | Uint8Array,
  secret: string,
  timestamp: number | string,
): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/** Request headers as a receiver has them: Fetch `Headers` or Node's `IncomingHttpHeaders`. */
export type WebhookRequestHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /**
   * How far `X-Syncjob-Timestamp` may be from now, in seconds, either way (default 300). Older
   * deliveries are refused as replays, future-dated ones as forged or from a wrong clock. Within the
   * window, drop duplicates by `X-Syncjob-Delivery`.
   */
  toleranceSeconds?: number;
  /** The receiver's clock, epoch ms (default `Date.now`). */
  now?: () => number;
}

function headerOf(headers: WebhookRequestHeaders, name: string): string | undefined {
  const value =
    typeof (headers as Headers).get === 'function'
      ? (headers as Headers).get(name)
      : (headers as Record<string, string | string[] | undefined>)[name];
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value ?? undefined;
}

/**
 * For receivers: true when the request's `X-Syncjob-Signature` is the HMAC of its
 * `X-Syncjob-Timestamp` and raw body with `secret`, and that timestamp is within
 * `toleranceSeconds` of now. Pass the RAW body, before any JSON parsing. Constant-time.
 */
export function verifyWebhookSignature(
  body: string | Uint8Array,
  headers: WebhookRequestHeaders,
  secret: string,
  options: VerifyWebhookOptions = {},
): boolean {
  const header = headerOf(headers, SIGNATURE_HEADER)?.trim();
  const timestamp = headerOf(headers, TIMESTAMP_HEADER)?.trim();
  if (!header?.startsWith('sha256=') || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  const toleranceSeconds = options.toleranceSeconds ?? 300;
  const nowSeconds = (options.now ?? Date.now)() / 1000;
  if (!(Math.abs(nowSeconds - Number(timestamp)) <= toleranceSeconds)) return false;
  const expected = Buffer.from(signWebhookBody(body, secret, timestamp));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * POSTs a JSON summary of each finished job (`WebhookPayload`, no message content) to `url`, with
 * `X-Syncjob-Timestamp` (Unix seconds), `X-Syncjob-Signature: sha256=<hex>` over
 * `<timestamp>.<raw body>` and `X-Syncjob-Delivery`. Network errors, timeouts, 429 and 5xx are
 * retried with exponential back-off and jitter (honouring `Retry-After`), each attempt signed with a
 * fresh timestamp; another 4xx is final, and so is a redirect: it is never followed, since it would
 * carry the signed body and the custom headers to another URL. Errors name the URL's origin only
 * (the path of a Slack-style hook is its secret).
 */
export function createWebhookNotifier(options: WebhookNotifierOptions): JobNotifier {
  const url = String(options.url);
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) {
    throw new SyncError(
      'INVALID_INPUT',
      `The webhook url must be an http(s) URL (got one starting with "${url.split(':')[0]}:").`,
    );
  }
  // What errors show: the path and query of many hook URLs are the credential.
  const where = new URL(url).origin;
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

    let lastError = '';
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      let retryAfterMs: number | undefined;
      const timestamp = String(Math.floor(clock.now() / 1000));
      const headers = {
        ...options.headers,
        'content-type': 'application/json',
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signWebhookBody(body, options.secret, timestamp),
        [DELIVERY_HEADER]: payload.deliveryId,
      };
      try {
        const response = await doFetch(url, {
          method: 'POST',
          headers,
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
        // The body is not needed; reading it frees the connection.
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        lastError = `answered ${response.status}`;
        if (response.status !== 429 && response.status < 500) {
          throw new SyncError('PROVIDER_ERROR', `Webhook ${where} ${lastError}; a 4xx is not retried.`, {
            retryable: false,
          });
        }
        retryAfterMs = retryAfterOf(response.headers.get('retry-after'));
      } catch (error) {
        if (error instanceof SyncError) throw error;
        if (isRedirectRefusal(error)) {
          throw new SyncError(
            'PROVIDER_ERROR',
            `Webhook ${where} answered a redirect, which is not followed (it would send the signed body elsewhere); configure the final URL.`,
            { retryable: false },
          );
        }
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
      `Webhook ${where} ${lastError} after ${retries + 1} attempts; the notification is dropped.`,
    );
  };
}

/** `fetch` with `redirect: 'error'` rejects with a TypeError whose cause says so (undici: "unexpected redirect"). */
function isRedirectRefusal(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error && /redirect/i.test(cause.message);
}

function retryAfterOf(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
