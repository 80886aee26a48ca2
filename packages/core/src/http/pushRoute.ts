import type { Clock } from '../clock';
import type { SyncEngine } from '../engine/engineTypes';
import { SyncError } from '../errors';
import type { SyncLogger } from '../logger';
import { HttpError, jsonResponse } from './httpError';
import type { PubSubTokenOptions } from './pubsubToken';
import { createPubSubTokenVerifier } from './pubsubToken';
import { createPushSyncs } from './pushSyncs';
import { readJsonBody } from './requestValidation';

/** Default least time between two push syncs of one account: Gmail sends several notifications per change. */
const DEFAULT_DEBOUNCE_MS = 2_000;
/** Default wait before re-checking a push sync that found nothing. */
const DEFAULT_RECHECK_DELAY_MS = 2_000;
/** Least time between two log lines about refused pushes. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** How often a followed job run by another process is read back. */
const FOLLOW_POLL_MS = 1_000;

export interface PushRouteOptions extends Omit<PubSubTokenOptions, 'clock'> {
  /**
   * The account of a notified mailbox address (Gmail's `emailAddress`): your lookup from the
   * address to the `accountId` its jobs run under. `null` for an address you do not sync (the push
   * is acknowledged and ignored). Throw `SyncError('STORE_UNAVAILABLE')` when your database is down:
   * the push is then answered 503 and Pub/Sub delivers it again.
   */
  accountForEmail: (email: string) => string | null | Promise<string | null>;
  /** The source the notifications are about; the route is `POST {basePath}/push/{source}` (default `gmail`). */
  source?: string;
  /**
   * Least time between two push-started syncs of one account, in ms (default 2,000). The first
   * notification of a quiet account starts its sync at once; the ones during a sync or within this
   * time are folded into one more sync, so a burst of them costs at most two.
   */
  debounceMs?: number;
  /**
   * Gmail may notify before `history.list` shows the change: a push-started sync that found nothing
   * is run once more this many ms after (default 2,000; 0 turns the re-check off).
   */
  recheckDelayMs?: number;
}

/** Whether `pathname` is `{basePath}/push/{source}` (a trailing slash allowed, like the other routes). */
export function isPushPath(pathname: string, basePath: string, source: string): boolean {
  const rest = pathname.slice(basePath.length).replace(/\/$/, '');
  return pathname.startsWith(basePath) && rest === `/push/${source}`;
}

/** The notification a push carries, decoded. */
interface MailboxNotification {
  emailAddress: string;
  historyId: string;
  messageId: string | null;
}

/**
 * `POST {basePath}/push/{source}`: the endpoint of a Pub/Sub push subscription on the Gmail
 * `users.watch` topic. Answers so that Pub/Sub redelivers only what a retry can fix:
 *
 * - 401 `UNAUTHENTICATED` for a push without a valid OIDC token (forged, unsigned, expired, another
 *   audience or service account), before the body is read; nothing starts. Pub/Sub retries these,
 *   which is right when the fault is this server's configuration: once fixed, the pushes arrive.
 * - 204 for an accepted notification (its sync started, joined or planned) and for an address
 *   `accountForEmail` does not know.
 * - 200 with `{ ignored: { code: 'INVALID_INPUT', message } }` for a correctly signed push whose
 *   body is not a Gmail notification. A 4xx would make Pub/Sub deliver the same bytes again until
 *   the message expires (7 days by default), and no retry can repair them; the answer acknowledges
 *   it and the handler's logger warns.
 * - 5xx only when a retry may succeed: the store is down (503 `STORE_UNAVAILABLE`), or Google's
 *   signing keys cannot be fetched (502 `NETWORK`).
 */
export function createPushRoute(
  options: PushRouteOptions,
  context: { clock: Clock; logger: SyncLogger },
): { source: string; handle(request: Request, getEngine: () => Promise<SyncEngine>): Promise<Response> } {
  if (typeof options.accountForEmail !== 'function') {
    throw new SyncError(
      'INVALID_INPUT',
      'push.accountForEmail must be a function from an email address to an account id.',
    );
  }
  const source = options.source ?? 'gmail';
  const debounceMs = checkDelay(options.debounceMs ?? DEFAULT_DEBOUNCE_MS, 'debounceMs');
  const recheckDelayMs = checkDelay(options.recheckDelayMs ?? DEFAULT_RECHECK_DELAY_MS, 'recheckDelayMs');
  const { clock, logger } = context;
  const verify = createPubSubTokenVerifier({ ...options, clock });
  let syncs: ReturnType<typeof createPushSyncs> | undefined;

  /**
   * A refused push is worth a line: a wrong `audience` or service account refuses every genuine
   * push, and nothing else would tell. At most one line a minute, so a flood of forgeries is not a
   * flood of logs.
   */
  let lastRefusalLogAt = Number.NEGATIVE_INFINITY;
  let refusalsNotLogged = 0;
  const reportRefusal = (reason: string) => {
    const now = clock.now();
    if (now - lastRefusalLogAt < REFUSAL_LOG_INTERVAL_MS) {
      refusalsNotLogged += 1;
      return;
    }
    const more = refusalsNotLogged > 0 ? ` (${refusalsNotLogged} more refused since the last line)` : '';
    logger.warn(
      `[syncjob/push] ${reason}${more} If genuine pushes are refused, check push.audience and push.serviceAccountEmail against the subscription.`,
    );
    lastRefusalLogAt = now;
    refusalsNotLogged = 0;
  };

  const handle = async (request: Request, getEngine: () => Promise<SyncEngine>): Promise<Response> => {
    if (request.method !== 'POST') {
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'Use POST on this route.', { allow: 'POST' });
    }
    try {
      await verify(request.headers.get('authorization'));
    } catch (cause) {
      if (cause instanceof HttpError && cause.status === 401) reportRefusal(cause.message);
      throw cause;
    }
    let notification: MailboxNotification;
    try {
      notification = parseNotification(await readJsonBody(request));
    } catch (cause) {
      if (!(cause instanceof HttpError) || cause.status >= 500) throw cause;
      logger.warn(`[syncjob/push] A signed push to ${source} was acknowledged and ignored: ${cause.message}`);
      return jsonResponse(200, { ignored: { code: 'INVALID_INPUT', message: cause.message } });
    }
    const accountId = await options.accountForEmail(notification.emailAddress);
    if (accountId === null || accountId === undefined || accountId === '') {
      logger.info?.(
        `[syncjob/push] A ${source} notification for an address with no account was acknowledged and ignored.`,
        { messageId: notification.messageId },
      );
      return new Response(null, { status: 204 });
    }
    syncs ??= createPushSyncs(getEngine, {
      source,
      debounceMs,
      recheckDelayMs,
      followPollMs: FOLLOW_POLL_MS,
      clock,
      logger,
    });
    await syncs.notify(accountId, notification.historyId);
    return new Response(null, { status: 204 });
  };
  return { source, handle };
}

function checkDelay(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new SyncError('INVALID_INPUT', `push.${name} must be a number of milliseconds, 0 or more.`);
  }
  return value;
}

const invalid = (message: string) => new HttpError(400, 'INVALID_INPUT', message);

/**
 * The Pub/Sub push envelope `{ message: { data, messageId, publishTime }, subscription }`, whose
 * `data` is base64 of Gmail's `{ emailAddress, historyId }`.
 */
function parseNotification(body: unknown): MailboxNotification {
  const message = (body as { message?: unknown } | null)?.message;
  if (typeof message !== 'object' || message === null) {
    throw invalid('The body is not a Pub/Sub push: { message: { data, messageId }, subscription }.');
  }
  const { data, messageId } = message as { data?: unknown; messageId?: unknown };
  if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) {
    throw invalid('The message data is not base64.');
  }
  let payload: unknown;
  try {
    const binary = atob(data);
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw invalid('The message data is not base64 of JSON.');
  }
  const { emailAddress, historyId } = (payload ?? {}) as { emailAddress?: unknown; historyId?: unknown };
  if (typeof emailAddress !== 'string' || !emailAddress.includes('@') || emailAddress.length > 320) {
    throw invalid('The notification has no emailAddress.');
  }
  const id =
    typeof historyId === 'number' && Number.isSafeInteger(historyId) && historyId > 0
      ? String(historyId)
      : historyId;
  if (typeof id !== 'string' || !/^\d{1,30}$/.test(id)) {
    throw invalid('The notification has no historyId (a positive integer).');
  }
  return {
    emailAddress,
    historyId: id,
    messageId: typeof messageId === 'string' ? messageId : null,
  };
}
