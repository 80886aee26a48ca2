import { gmail, type gmail_v1 } from '@googleapis/gmail';
import type { MailLabel, MailMessage, ProjectQuota } from '@syncjob/core';
import { SyncError } from '@syncjob/core';
import PQueue from 'p-queue';
import { type BatchResponsePart, encodeBatch, MAX_BATCH_PARTS, parseBatchResponse } from './batchCodec';
import type { FetchUnit } from './fetchPlanner';
import type { GmailAuthSession } from './gmailAuth';
import { errorOfResponse, errorOfThrown, statusOf } from './gmailErrors';
import type { QuotaLimiter } from './quotaLimiter';
import type { GmailMethod, GmailQuotaProfile } from './quotaProfiles';
import { type GmailMessageFormat, type GmailMessageResource, toMailMessage } from './toMailMessage';

/** How details are fetched: the batch endpoint, or one request per message or thread. */
export type GmailTransport = 'batch' | 'single';

export interface GmailApiOptions {
  /** Root of the REST API with a trailing slash (`https://gmail.googleapis.com/`). */
  rootUrl: string;
  session: GmailAuthSession;
  limiter: QuotaLimiter;
  profile: GmailQuotaProfile;
  format: GmailMessageFormat;
  metadataHeaders: readonly string[];
  includeSpamTrash: boolean;
  transport: GmailTransport;
  /** Inner requests per batch request. */
  partsPerRequest: number;
  /** HTTP requests in flight. */
  concurrency: number;
  requestTimeoutMs: number;
  signal: AbortSignal;
  /**
   * Told the server's wait when a rate-limit answer pauses the calls (the engine's ETA ignores it),
   * with Google's reason (`dailyLimitExceeded`, `rateLimitExceeded`, …) when the answer gave one.
   */
  onBackoff?: (ms: number, reason: string | undefined) => void;
  /** Told the units of calls Gmail answered (refused calls are not charged). */
  onUnits?: (units: number) => void;
  /** The Cloud project's budget shared by every worker (`ctx.projectQuota`), when the engine has one. */
  projectQuota?: ProjectQuota | undefined;
}

export interface GmailProfile {
  emailAddress: string;
  messagesTotal: number | null;
  historyId: string;
}

/** What one round of fetch calls achieved. */
export interface FetchRoundResult {
  messages: MailMessage[];
  /** Listed ids Gmail no longer has (deleted since they were listed). */
  gone: string[];
  /** Calls to send again after a back-off (rate limit, 5xx, cut connection). */
  retry: FetchUnit[];
  /** The most telling error among the `retry` calls. */
  error: SyncError | undefined;
  /** Set when calls answered 401: the token generation they used (they are in `retry`). */
  unauthorized: number | undefined;
  /** HTTP requests and calls (batch parts count one each) sent, and units spent. */
  requests: number;
  calls: number;
  units: number;
}

interface UnitAnswer {
  status: number;
  headers: Headers | Record<string, string> | undefined;
  body: unknown;
}

const HISTORY_TYPES = ['messageAdded', 'messageDeleted', 'labelAdded', 'labelRemoved'];

/**
 * Gmail calls for one run of the source: each spends its units through the quota limiter, carries
 * a fresh access token, refreshes once on a 401, and fails with a `SyncError` (never a raw gaxios
 * error). The client's own retry is off: the engine's `ctx.retry` does it, honouring `Retry-After`.
 */
export class GmailApi {
  readonly #options: GmailApiOptions;
  readonly #gmail: gmail_v1.Gmail;
  readonly #queue: PQueue;
  readonly #costs: Record<GmailMethod, number>;
  /** The query of every fetch call (format and headers), built once. */
  readonly #unitQuery: string;

  constructor(options: GmailApiOptions) {
    this.#options = options;
    this.#gmail = gmail({ version: 'v1', rootUrl: options.rootUrl, retry: false });
    this.#queue = new PQueue({ concurrency: Math.max(1, options.concurrency) });
    this.#costs = options.profile.costs;
    const query = new URLSearchParams({ format: options.format });
    if (options.format === 'metadata') {
      for (const name of options.metadataHeaders) query.append('metadataHeaders', name);
    }
    this.#unitQuery = query.toString();
  }

  #signal(): AbortSignal {
    return AbortSignal.any([this.#options.signal, AbortSignal.timeout(this.#options.requestTimeoutMs)]);
  }

  /**
   * Sends once the account's limiter granted the units and calls, then the project's budget (when
   * shared) the units: the per-user wait comes first, so a project grant is never held idle by it.
   * The project's units are taken once the call has its connection slot, right before it is sent:
   * a grant is counted in the governor's slice of that moment, and a call that waited in the queue
   * behind slow ones would otherwise reach Google slices later, where the project counts it against
   * the units of a later minute and refuses calls the governor believed fit.
   */
  #spend<T>(units: number, calls: number, send: () => Promise<T>): Promise<T> {
    const { limiter, signal, projectQuota } = this.#options;
    return limiter.run(
      units,
      calls,
      () =>
        this.#queue.add(async () => {
          await projectQuota?.take(units);
          return send();
        }),
      signal,
    );
  }

  /** One plain call: quota, token, a single refresh on 401, mapped errors. */
  async #call<T>(
    method: GmailMethod,
    operation: string,
    send: (headers: Record<string, string>, signal: AbortSignal) => Promise<{ data: T }>,
  ): Promise<T> {
    const { limiter, session, signal } = this.#options;
    for (let attempt = 0; ; attempt++) {
      const access = await session.token();
      try {
        const response = await this.#spend(this.#costs[method], 1, () =>
          send({ Authorization: `Bearer ${access.token}` }, this.#signal()),
        );
        this.#options.onUnits?.(this.#costs[method]);
        return response.data;
      } catch (thrown) {
        const error = errorOfThrown(operation, thrown, signal);
        if (statusOf(error) === 401 && attempt === 0) {
          await session.refresh(access.generation);
          continue;
        }
        if (error instanceof SyncError && error.code === 'RATE_LIMITED')
          limiter.rateLimited(error.retryAfterMs);
        throw error;
      }
    }
  }

  async getProfile(): Promise<GmailProfile> {
    const data = await this.#call('users.getProfile', 'users.getProfile', (headers, signal) =>
      this.#gmail.users.getProfile({ userId: 'me' }, { headers, signal }),
    );
    if (!data.emailAddress || !data.historyId) {
      throw new SyncError(
        'PROVIDER_ERROR',
        'Gmail answered users.getProfile without an address or historyId.',
      );
    }
    return {
      emailAddress: data.emailAddress,
      messagesTotal: typeof data.messagesTotal === 'number' ? data.messagesTotal : null,
      historyId: data.historyId,
    };
  }

  async listLabels(): Promise<MailLabel[]> {
    const data = await this.#call('users.labels.list', 'users.labels.list', (headers, signal) =>
      this.#gmail.users.labels.list({ userId: 'me' }, { headers, signal }),
    );
    return (data.labels ?? [])
      .filter((label) => label.id)
      .map((label) => ({
        id: label.id!,
        name: label.name ?? label.id!,
        type: label.type === 'system' ? 'system' : 'user',
        messagesTotal: label.messagesTotal ?? null,
        messagesUnread: label.messagesUnread ?? null,
      }));
  }

  async listMessages(
    pageToken: string | undefined,
    maxResults: number,
  ): Promise<{
    messages: Array<{ id: string; threadId: string | null }>;
    nextPageToken: string | undefined;
  }> {
    const data = await this.#call('users.messages.list', 'users.messages.list', (headers, signal) =>
      this.#gmail.users.messages.list(
        {
          userId: 'me',
          maxResults,
          includeSpamTrash: this.#options.includeSpamTrash,
          ...(pageToken ? { pageToken } : {}),
        },
        { headers, signal },
      ),
    );
    return {
      messages: (data.messages ?? [])
        .filter((message) => message.id)
        .map((message) => ({ id: message.id!, threadId: message.threadId ?? null })),
      nextPageToken: data.nextPageToken ?? undefined,
    };
  }

  /** One page of history; a 404 (the start is too old) throws `CURSOR_EXPIRED`. */
  async listHistory(
    startHistoryId: string,
    pageToken: string | undefined,
    maxResults: number,
  ): Promise<{
    history: gmail_v1.Schema$History[];
    nextPageToken: string | undefined;
    historyId: string | null;
  }> {
    try {
      const data = await this.#call('users.history.list', 'users.history.list', (headers, signal) =>
        this.#gmail.users.history.list(
          {
            userId: 'me',
            startHistoryId,
            maxResults,
            historyTypes: HISTORY_TYPES,
            ...(pageToken ? { pageToken } : {}),
          },
          { headers, signal },
        ),
      );
      return {
        history: data.history ?? [],
        nextPageToken: data.nextPageToken ?? undefined,
        historyId: data.historyId ?? null,
      };
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new SyncError(
          'CURSOR_EXPIRED',
          `Gmail no longer has the history since ${startHistoryId} (404); a full sync is needed.`,
          { retryable: false, details: { status: 404, startHistoryId } },
        );
      }
      throw error;
    }
  }

  /** `users.watch`: starts or replaces the mailbox's push watch; answers Gmail's historyId and expiration (ms). */
  async watch(request: {
    topicName: string;
    labelIds?: readonly string[];
    labelFilterBehavior?: 'include' | 'exclude';
  }): Promise<{ historyId: string; expiration: number }> {
    const data = await this.#call('users.watch', 'users.watch', (headers, signal) =>
      this.#gmail.users.watch(
        {
          userId: 'me',
          requestBody: {
            topicName: request.topicName,
            ...(request.labelIds?.length
              ? {
                  labelIds: [...request.labelIds],
                  labelFilterBehavior: request.labelFilterBehavior ?? 'include',
                }
              : {}),
          },
        },
        { headers, signal },
      ),
    );
    const expiration = Number(data.expiration);
    if (!data.historyId || !Number.isFinite(expiration)) {
      throw new SyncError('PROVIDER_ERROR', 'Gmail answered users.watch without a historyId or expiration.');
    }
    return { historyId: data.historyId, expiration };
  }

  /** `users.stop`: ends the mailbox's push watch (Gmail answers 204 whether or not one was set). */
  async stop(): Promise<void> {
    await this.#call('users.stop', 'users.stop', (headers, signal) =>
      this.#gmail.users.stop({ userId: 'me' }, { headers, signal }),
    );
  }

  /** One forced token refresh after calls with a token of `generation` answered 401. */
  refreshAfter(generation: number): Promise<void> {
    return this.#options.session.refresh(generation);
  }

  /** Sends every unit once (batched or one by one) and sorts the answers. */
  async fetchRound(units: readonly FetchUnit[]): Promise<FetchRoundResult> {
    const result: FetchRoundResult = {
      messages: [],
      gone: [],
      retry: [],
      error: undefined,
      unauthorized: undefined,
      requests: 0,
      calls: 0,
      units: 0,
    };
    const access = await this.#options.session.token();
    if (this.#options.transport === 'batch') {
      const size = Math.min(MAX_BATCH_PARTS, Math.max(1, this.#options.partsPerRequest));
      // Under a shared project budget a batch costs at most what the governor grants a call whole.
      const maxUnits = this.#options.projectQuota?.maxCallUnits ?? Number.POSITIVE_INFINITY;
      const chunks: FetchUnit[][] = [];
      let chunk: FetchUnit[] = [];
      let chunkUnits = 0;
      for (const unit of units) {
        const cost = this.#unitCost(unit);
        if (chunk.length > 0 && (chunk.length === size || chunkUnits + cost > maxUnits)) {
          chunks.push(chunk);
          chunk = [];
          chunkUnits = 0;
        }
        chunk.push(unit);
        chunkUnits += cost;
      }
      if (chunk.length > 0) chunks.push(chunk);
      await Promise.all(
        chunks.map((chunk) => this.#sendBatch(chunk, access.token, access.generation, result)),
      );
    } else {
      await Promise.all(units.map((unit) => this.#sendSingle(unit, access.token, access.generation, result)));
    }
    if (result.units > 0) this.#options.onUnits?.(result.units);
    return result;
  }

  #unitCost(unit: FetchUnit): number {
    return this.#costs[unit.kind === 'thread' ? 'users.threads.get' : 'users.messages.get'];
  }

  #unitPath(unit: FetchUnit): string {
    const id = encodeURIComponent(unit.kind === 'thread' ? unit.threadId : unit.id);
    return `/gmail/v1/users/me/${unit.kind === 'thread' ? 'threads' : 'messages'}/${id}?${this.#unitQuery}`;
  }

  async #sendBatch(chunk: FetchUnit[], token: string, generation: number, result: FetchRoundResult) {
    const { signal, rootUrl } = this.#options;
    const units = chunk.reduce((sum, unit) => sum + this.#unitCost(unit), 0);
    let parts: BatchResponsePart[];
    try {
      parts = await this.#spend(units, chunk.length, async () => {
        const { body, contentType } = encodeBatch(
          chunk.map((unit, index) => ({ id: String(index), path: this.#unitPath(unit) })),
        );
        const response = await fetch(`${rootUrl}batch/gmail/v1`, {
          method: 'POST',
          headers: { 'content-type': contentType, authorization: `Bearer ${token}` },
          body,
          signal: this.#signal(),
        });
        const text = await response.text();
        if (response.status !== 200) {
          throw errorOfResponse('a batch request', response.status, response.headers, text);
        }
        return parseBatchResponse(response.headers.get('content-type'), text);
      });
    } catch (thrown) {
      const error = errorOfThrown(`a batch of ${chunk.length} calls`, thrown, signal);
      if (!(error instanceof SyncError)) throw error;
      result.requests += 1;
      if (statusOf(error) === 401) result.unauthorized = generation;
      else if (!error.retryable) throw error;
      this.#noteRetry(result, error);
      result.retry.push(...chunk);
      return;
    }
    result.requests += 1;
    result.calls += chunk.length;
    const byId = new Map(parts.map((part) => [part.id, part]));
    chunk.forEach((unit, index) => {
      const part = byId.get(String(index)) ?? parts[index];
      if (!part) {
        const error = new SyncError('NETWORK', 'Gmail left a call of a batch unanswered.', {
          retryable: true,
        });
        this.#noteRetry(result, error);
        result.retry.push(unit);
        return;
      }
      this.#settle(unit, { status: part.status, headers: part.headers, body: part.body }, generation, result);
    });
  }

  async #sendSingle(unit: FetchUnit, token: string, generation: number, result: FetchRoundResult) {
    const { signal } = this.#options;
    const cost = this.#unitCost(unit);
    const headers = { Authorization: `Bearer ${token}` };
    const format = this.#options.format;
    const metadataHeaders = format === 'metadata' ? [...this.#options.metadataHeaders] : undefined;
    let answer: UnitAnswer;
    try {
      const response = await this.#spend(cost, 1, () =>
        unit.kind === 'thread'
          ? this.#gmail.users.threads.get(
              {
                userId: 'me',
                id: unit.threadId,
                format,
                ...(metadataHeaders ? { metadataHeaders } : {}),
              },
              { headers, signal: this.#signal() },
            )
          : this.#gmail.users.messages.get(
              { userId: 'me', id: unit.id, format, ...(metadataHeaders ? { metadataHeaders } : {}) },
              { headers, signal: this.#signal() },
            ),
      );
      answer = { status: response.status, headers: undefined, body: response.data };
    } catch (thrown) {
      const response = (thrown as { response?: { status?: unknown; headers?: Headers; data?: unknown } })
        ?.response;
      if (typeof response?.status === 'number' && !signal.aborted) {
        answer = { status: response.status, headers: response.headers, body: response.data };
      } else {
        const error = errorOfThrown(`${unit.kind === 'thread' ? 'threads' : 'messages'}.get`, thrown, signal);
        if (!(error instanceof SyncError) || !error.retryable) throw error;
        result.requests += 1;
        this.#noteRetry(result, error);
        result.retry.push(unit);
        return;
      }
    }
    result.requests += 1;
    result.calls += 1;
    this.#settle(unit, answer, generation, result);
  }

  /** Sorts one answer: stored, gone, to retry, or a failure that ends the job. */
  #settle(unit: FetchUnit, answer: UnitAnswer, generation: number, result: FetchRoundResult): void {
    const { format, metadataHeaders } = this.#options;
    // Gmail charges every call it answers except the ones it refused for quota.
    if (answer.status !== 429 && answer.status !== 403) result.units += this.#unitCost(unit);
    if (answer.status === 200) {
      const body = (typeof answer.body === 'string' ? JSON.parse(answer.body) : answer.body) as
        | (GmailMessageResource & { messages?: GmailMessageResource[] })
        | undefined;
      if (unit.kind === 'message') {
        result.messages.push(toMailMessage(body ?? {}, format, metadataHeaders));
        return;
      }
      const wanted = new Set(unit.ids);
      for (const message of body?.messages ?? []) {
        if (message.id && wanted.delete(message.id)) {
          result.messages.push(toMailMessage(message, format, metadataHeaders));
        }
      }
      result.gone.push(...wanted);
      return;
    }
    const operation = unit.kind === 'thread' ? 'threads.get' : 'messages.get';
    if (answer.status === 404) {
      // A thread answers 404 only once none of its messages remains (deleting its first message
      // keeps the thread and its id), so every listed member is gone.
      result.gone.push(...(unit.kind === 'thread' ? unit.ids : [unit.id]));
      return;
    }
    const error = errorOfResponse(operation, answer.status, answer.headers, answer.body);
    if (answer.status === 401) {
      result.unauthorized = generation;
      result.retry.push(unit);
      return;
    }
    if (!error.retryable) throw error;
    this.#noteRetry(result, error);
    result.retry.push(unit);
  }

  #rateLimited(error: SyncError): void {
    this.#options.limiter.rateLimited(error.retryAfterMs);
    if (error.retryAfterMs !== undefined) {
      const reason = error.details?.reason;
      this.#options.onBackoff?.(error.retryAfterMs, typeof reason === 'string' ? reason : undefined);
    }
  }

  #noteRetry(result: FetchRoundResult, error: SyncError): void {
    if (error.code === 'RATE_LIMITED') this.#rateLimited(error);
    const current = result.error;
    // The longest Retry-After wins: it is the one the retry must honour.
    if (
      !current ||
      (error.code === 'RATE_LIMITED' &&
        (current.code !== 'RATE_LIMITED' || (error.retryAfterMs ?? 0) > (current.retryAfterMs ?? 0)))
    ) {
      result.error = error;
    }
  }
}
