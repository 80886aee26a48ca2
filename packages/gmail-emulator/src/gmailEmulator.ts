import {
  BatchFormatError,
  MAX_BATCH_PARTS,
  parseBatchRequest,
  serializeBatchResponse,
} from './batch/multipart.js';
import { type Clock, systemClock } from './clock.js';
import { FaultInjector } from './faults/faultInjector.js';
import type { DropStage, FaultRule, FaultRuleEntry } from './faults/faultRule.js';
import { handleAdminRequest } from './handlers/adminApi.js';
import { type GmailRoute, gmailMethodHandlers, matchGmailRoute } from './handlers/gmailApi.js';
import { handleTokenRequest } from './handlers/tokenEndpoint.js';
import { droppedResponse } from './http/droppedConnection.js';
import { googleErrors, jsonResponse } from './http/googleError.js';
import { Mailbox, type MailboxOptions, type NewMessage } from './mailbox/mailbox.js';
import { hash32, Random } from './mailbox/prng.js';
import {
  DEFAULT_OAUTH_CLIENT,
  defaultRefreshToken,
  type IssuedToken,
  type OAuthClientCredentials,
  TokenIssuer,
} from './oauth/tokenIssuer.js';
import { PushHub, type PushOptions, type PushStats } from './push/pushHub.js';
import { PushSigningKey } from './push/signingKey.js';
import { type GmailMethod, type QuotaProfile, type QuotaSetting, resolveQuota } from './quota/costTables.js';
import { ProjectQuota, type ProjectQuotaStats } from './quota/projectQuota.js';
import { QuotaWindow } from './quota/quotaWindow.js';
import { type CallCounters, type CallOutcome, StatsRecorder } from './stats/statsRecorder.js';

/** One emulated account. */
export interface EmulatorUserOptions extends MailboxOptions {
  /** The refresh token accepted for this user. Default `1//emulator-refresh-<address>`. */
  refreshToken?: string;
}

export interface GmailEmulatorOptions {
  /** Accounts to create. Default one account, `me@example.com`, 1,000 messages, seed 1. */
  users?: EmulatorUserOptions[];
  /** Cost profile: `legacy`, `2026`, `off` (charged at legacy costs, never refused) or a custom profile. Default `legacy`. */
  quota?: QuotaSetting;
  /**
   * Time compression of the quota: at speed N the 60 s window lasts 60/N s with the same units, so
   * the unit rate is N times Google's, and every `Retry-After` is divided by N. Default 1.
   */
  speed?: number;
  /**
   * The Cloud project's budget per (scaled) minute, shared by every user: past it calls answer 429
   * `rateLimitExceeded` "Queries per minute" with `Retry-After`. Google's is 1,200,000. Enforced
   * even with `quota: 'off'`. Default: not limited.
   */
  projectUnitsPerMinute?: number;
  /**
   * The project's budget per (scaled) day, from 00:00 UTC, shared by every user: past it calls
   * answer 403 `dailyLimitExceeded` until the day ends (projects created from May 2026: 80,000,000).
   * Default: not limited.
   */
  projectDailyUnits?: number;
  /** How per-user quota refusals are answered: 429 `rateLimitExceeded`, 403 `userRateLimitExceeded`, or a seeded mix. Default 429. */
  overQuotaStatus?: 429 | 403 | 'mixed';
  /**
   * `Retry-After` as whole seconds rounded up (what HTTP allows) instead of fractional seconds
   * with millisecond precision. Default: true at speed 1, false at any other speed, where whole
   * seconds would be far longer than the scaled wait.
   */
  integerRetryAfter?: boolean;
  /** Calls one user may have in flight before the 429 "Too many concurrent requests for user"; batch parts count one each. Default 50. */
  maxConcurrentPerUser?: number;
  /** Lifetime of issued access tokens, in seconds (`expires_in`). Default 3600. */
  tokenLifetimeSeconds?: number;
  /** The OAuth client the token endpoint accepts. Default {@link DEFAULT_OAUTH_CLIENT}. */
  oauthClient?: OAuthClientCredentials;
  /** Require a valid access token on Gmail calls. When false, `me` is the first user. Default true. */
  requireAuth?: boolean;
  /** Fault rules active from the start. Default none. */
  faults?: FaultRule[];
  /** Seed of the fault and 429/403-mix draws. Default 1. */
  seed?: number;
  /** Time source. Default the system clock. */
  clock?: Clock;
  /** Called with unexpected errors (answered as 500 `backendError`). Default `console.error`. */
  onError?: (error: unknown) => void;
  /**
   * The Pub/Sub push subscription behind `users.watch`: where notifications of watched mailboxes
   * are POSTed. Default none: watches are kept and notifications counted, but nothing is sent.
   */
  push?: PushOptions;
}

export const DEFAULT_USER: EmulatorUserOptions = { address: 'me@example.com', messages: 1000, seed: 1 };

export interface FetchStats {
  /** Messages fetched at least once (messages.get, or as part of threads.get). */
  distinctMessages: number;
  totalFetches: number;
  maxFetchesPerMessage: number;
  /** Messages fetched more than once. */
  refetchedMessages: number;
  /** Up to 1,000 of those, id → fetch count. */
  refetched: Record<string, number>;
}

export interface UserStats extends CallCounters {
  byMethod: Partial<Record<GmailMethod, CallCounters>>;
  fetches: FetchStats;
}

export interface EmulatorStats {
  totals: CallCounters;
  byMethod: Partial<Record<GmailMethod, CallCounters>>;
  byUser: Record<string, UserStats>;
  batches: { requests: number; parts: number };
  tokens: { requests: number; refused: number };
  push: PushStats;
  /** The project's units per window and per day, shared by all users, and its refusals. */
  project: ProjectQuotaStats;
}

/** What an added message looks like to the caller. */
export interface AddedMessage {
  id: string;
  threadId: string;
  historyId: string;
}

type CallResult = { response: Response; drop?: DropStage | undefined };

/**
 * The emulator's state and its one Fetch-API handler. The Node server, the msw handlers and the
 * CLI all call {@link GmailEmulator.handle}; tests may also call the admin methods directly.
 */
export class GmailEmulator {
  readonly clock: Clock;
  readonly tokens: TokenIssuer;
  readonly faults: FaultInjector;
  readonly statsRecorder = new StatsRecorder();
  /** Watches and push deliveries; its `key` signs the push tokens and is served at `/oauth2/v3/certs`. */
  readonly push: PushHub;
  private readonly users = new Map<string, Mailbox>();
  private readonly windows = new Map<string, QuotaWindow>();
  private readonly inFlight = new Map<string, number>();
  private quotaSetting!: QuotaSetting;
  private quotaProfile!: QuotaProfile;
  private quotaEnforced!: boolean;
  private speedFactor!: number;
  private projectQuota!: ProjectQuota;
  private mix: Random;

  constructor(private readonly options: GmailEmulatorOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.tokens = new TokenIssuer(
      this.clock,
      options.oauthClient ?? DEFAULT_OAUTH_CLIENT,
      options.tokenLifetimeSeconds ?? 3600,
    );
    this.faults = new FaultInjector(options.seed ?? 1);
    this.push = new PushHub(this.clock, new PushSigningKey(), options.push);
    this.mix = new Random(hash32(options.seed ?? 1, 0x403));
    this.setQuota(options.quota ?? 'legacy', options.speed ?? 1);
    this.reset();
  }

  /**
   * Restores the state the options describe: regenerated mailboxes, fresh tokens, faults and stats.
   * Watches are forgotten and pending pushes stop retrying; the push configuration and key stay.
   */
  reset(): void {
    this.push.reset();
    this.users.clear();
    this.windows.clear();
    this.resetProjectQuota();
    this.inFlight.clear();
    this.tokens.clearAccessTokens();
    this.faults.clear();
    this.statsRecorder.reset();
    for (const user of this.options.users ?? [DEFAULT_USER]) this.addUser(user);
    for (const rule of this.options.faults ?? []) this.faults.add(rule);
  }

  /** Changes the quota profile and speed; spent units (the user's and the project's) are forgotten. */
  setQuota(setting: QuotaSetting, speed = this.speedFactor): void {
    if (!(speed > 0)) throw new RangeError('speed must be a positive number');
    const { profile, enforced } = resolveQuota(setting);
    this.quotaSetting = setting;
    this.quotaProfile = profile;
    this.quotaEnforced = enforced;
    this.speedFactor = speed;
    this.windows.clear();
    this.resetProjectQuota();
  }

  private resetProjectQuota(): void {
    this.projectQuota = new ProjectQuota({
      unitsPerMinute: this.options.projectUnitsPerMinute,
      dailyUnits: this.options.projectDailyUnits,
      speed: this.speedFactor,
    });
  }

  get quota(): {
    setting: QuotaSetting;
    profile: QuotaProfile;
    enforced: boolean;
    speed: number;
    windowMs: number;
  } {
    return {
      setting: this.quotaSetting,
      profile: this.quotaProfile,
      enforced: this.quotaEnforced,
      speed: this.speedFactor,
      windowMs: 60_000 / this.speedFactor,
    };
  }

  /** The project's budgets, shared by every user (null: not limited). */
  get projectBudgets(): { unitsPerMinute: number | null; dailyUnits: number | null } {
    return {
      unitsPerMinute: this.options.projectUnitsPerMinute ?? null,
      dailyUnits: this.options.projectDailyUnits ?? null,
    };
  }

  /** Creates (or replaces) an account and returns its mailbox. */
  addUser(options: EmulatorUserOptions): Mailbox {
    const mailbox = new Mailbox(options, this.clock);
    this.users.set(mailbox.address, mailbox);
    this.tokens.addRefreshToken(
      mailbox.address,
      options.refreshToken ?? defaultRefreshToken(mailbox.address),
    );
    return mailbox;
  }

  userAddresses(): string[] {
    return [...this.users.keys()];
  }

  /** The mailbox of an address (case-insensitive); throws a `RangeError` for an unknown user. */
  mailbox(address: string): Mailbox {
    const mailbox = this.users.get(address.toLowerCase());
    if (!mailbox) throw new RangeError(`Unknown user: ${address}`);
    return mailbox;
  }

  private messageIndex(mailbox: Mailbox, id: string): number {
    const index = mailbox.indexOf(id.toLowerCase());
    if (index === undefined || !mailbox.isLive(index)) throw new RangeError(`Unknown message: ${id}`);
    return index;
  }

  /** Publishes a push for the records a mutation wrote after `before`, when the mailbox is watched. */
  private changed(mailbox: Mailbox, before: number): void {
    if (mailbox.historyId === before) return;
    this.push.changed(mailbox.address, mailbox.historyId, before + 1, mailbox.historyAfter(before));
  }

  addMessage(user: string, message: NewMessage = {}): AddedMessage {
    const mailbox = this.mailbox(user);
    const before = mailbox.historyId;
    const index = mailbox.addMessage(message);
    this.changed(mailbox, before);
    return {
      id: mailbox.idOf(index),
      threadId: mailbox.threadIdOf(index),
      historyId: String(mailbox.historyId),
    };
  }

  deleteMessage(user: string, id: string): { historyId: string } {
    const mailbox = this.mailbox(user);
    const before = mailbox.historyId;
    mailbox.deleteMessage(this.messageIndex(mailbox, id));
    this.changed(mailbox, before);
    return { historyId: String(mailbox.historyId) };
  }

  /** Adds then removes label ids on a message, as messages.modify would. */
  modifyLabels(
    user: string,
    id: string,
    change: { add?: string[]; remove?: string[] },
  ): { labelIds: string[]; historyId: string } {
    const mailbox = this.mailbox(user);
    const index = this.messageIndex(mailbox, id);
    const before = mailbox.historyId;
    mailbox.modifyLabels(index, mailbox.bitsOfIds(change.add ?? []), mailbox.bitsOfIds(change.remove ?? []));
    this.changed(mailbox, before);
    return { labelIds: mailbox.labels.idsOf(mailbox.labelsOf(index)), historyId: String(mailbox.historyId) };
  }

  /** Forgets history before `historyId` (default now); returns the oldest accepted `startHistoryId`. */
  expireHistory(user: string, historyId?: number): { historyFloor: string } {
    return { historyFloor: String(this.mailbox(user).expireHistory(historyId)) };
  }

  /** Revokes the user's refresh tokens (or one of them): refreshing then fails with `invalid_grant`. */
  revokeRefreshTokens(user: string, refreshToken?: string): { revoked: number } {
    return { revoked: this.tokens.revoke(this.mailbox(user).address, refreshToken) };
  }

  /** Issues an access token without the OAuth dance. */
  issueAccessToken(user: string, lifetimeSeconds?: number): IssuedToken {
    return this.tokens.issue(this.mailbox(user).address, lifetimeSeconds);
  }

  /** Makes the user's access tokens expired now, so the next call answers 401. */
  expireAccessTokens(user: string): void {
    this.tokens.expireAccessTokens(this.mailbox(user).address);
  }

  addFault(rule: FaultRule): FaultRuleEntry {
    return this.faults.add(rule);
  }

  removeFault(id: number): boolean {
    return this.faults.remove(id);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Points pushes at another endpoint (or none with `null`), e.g. once the app's server listens. */
  configurePush(options: PushOptions | null): void {
    this.push.configure(options);
  }

  /** Resolves once every push published so far is acknowledged or given up. */
  pushesSettled(): Promise<void> {
    return this.push.settled();
  }

  stats(): EmulatorStats {
    const recorder = this.statsRecorder;
    const byUser: Record<string, UserStats> = {};
    for (const [address, mailbox] of this.users) {
      byUser[address] = { ...recorder.userCounters(address), fetches: fetchStats(mailbox) };
    }
    return {
      totals: { ...recorder.totals },
      byMethod: Object.fromEntries(recorder.byMethod),
      byUser,
      batches: { requests: recorder.batches, parts: recorder.batchParts },
      tokens: { requests: recorder.tokenRequests, refused: recorder.tokenRefusals },
      push: this.push.stats(),
      project: this.projectQuota.stats(this.clock.now()),
    };
  }

  /** Zeroes call counters and per-message fetch counts (quota windows are kept). */
  resetStats(): void {
    this.statsRecorder.reset();
    this.projectQuota.resetStats();
    for (const mailbox of this.users.values()) mailbox.resetFetchCounts();
  }

  /** The one entry point: a Fetch-API request in, a response out. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    try {
      if (path.startsWith('/_emulator/')) return await handleAdminRequest(this, request, url);
      if (path === '/token' || path === '/oauth2/v4/token') return await handleTokenRequest(this, request);
      if (path === '/batch/gmail/v1' || path === '/batch') return await this.handleBatch(request);
      if (path === '/oauth2/v3/certs' || path === '/oauth2/v1/certs') return this.certificates(path);
      const route = matchGmailRoute(request.method, path);
      if (!route) return googleErrors.methodNotFound(request.method, path);
      const body = request.method === 'POST' ? parseJsonBody(await request.text()) : undefined;
      if (body instanceof Response) return body;
      const call = await this.callGmail(
        route,
        url.searchParams,
        request.headers.get('authorization'),
        false,
        body,
      );
      return call.drop ? await droppedResponse(call.response, call.drop) : call.response;
    } catch (error) {
      (this.options.onError ?? console.error)(error);
      return googleErrors.backendError(500);
    }
  }

  /**
   * The public half of the push key, where Google publishes its own: `/oauth2/v3/certs` as a JWK
   * set, `/oauth2/v1/certs` as a map of key id to PEM (an SPKI public key where Google has an X.509
   * certificate; verifiers that take a PEM key accept both).
   */
  private certificates(path: string): Response {
    const key = this.push.key;
    const body = path === '/oauth2/v3/certs' ? { keys: [key.publicJwk] } : { [key.kid]: key.publicPem };
    return jsonResponse(body, 200, { 'cache-control': 'public, max-age=3600, must-revalidate' });
  }

  /** The user a call will run as, or undefined when it will be refused before reaching a mailbox. */
  private userOf(authorization: string | null, route: GmailRoute): string | undefined {
    if (this.options.requireAuth === false) {
      const address = route.userId === 'me' ? this.userAddresses()[0] : route.userId.toLowerCase();
      return address && this.users.has(address) ? address : undefined;
    }
    const check = this.tokens.check(authorization);
    return check.ok ? check.user : undefined;
  }

  private record(user: string | undefined, method: GmailMethod, outcome: CallOutcome, units = 0): void {
    this.statsRecorder.record(user, method, outcome, units);
  }

  private acquire(user: string, method: GmailMethod): boolean {
    const limit = Math.min(
      this.options.maxConcurrentPerUser ?? 50,
      this.faults.concurrencyLimit(method, user),
    );
    const current = this.inFlight.get(user) ?? 0;
    if (current >= limit) return false;
    this.inFlight.set(user, current + 1);
    return true;
  }

  private release(user: string): void {
    this.inFlight.set(user, Math.max(0, (this.inFlight.get(user) ?? 1) - 1));
  }

  private formatRetryAfter(ms: number): string {
    const integer = this.options.integerRetryAfter ?? this.speedFactor === 1;
    return integer ? String(Math.max(1, Math.ceil(ms / 1000))) : String(Math.max(1, Math.ceil(ms)) / 1000);
  }

  private rateLimited(status: 429 | 403, waitMs: number): Response {
    const retryAfter = this.formatRetryAfter(waitMs);
    return status === 403
      ? googleErrors.userRateLimitExceeded(retryAfter, new Date(this.clock.now() + waitMs))
      : googleErrors.rateLimitExceeded(retryAfter);
  }

  private quotaWindow(user: string): QuotaWindow {
    let window = this.windows.get(user);
    if (!window) {
      window = new QuotaWindow(this.quotaProfile.unitsPerUserPerMinute, 60_000 / this.speedFactor);
      this.windows.set(user, window);
    }
    return window;
  }

  /**
   * One Gmail call through the same steps as Google's front end: authentication, the caller's
   * mailbox, injected bursts, the concurrency limit, quota, latency, injected 5xx, the method, and
   * last a possible dropped connection. `reserved` means a batch already holds a concurrency slot.
   */
  private async callGmail(
    route: GmailRoute,
    query: URLSearchParams,
    authorization: string | null,
    reserved: boolean,
    body?: unknown,
  ): Promise<CallResult> {
    const { method } = route;
    let user: string;
    if (this.options.requireAuth === false) {
      const address = route.userId === 'me' ? this.userAddresses()[0] : route.userId.toLowerCase();
      if (!address || !this.users.has(address)) {
        this.record(undefined, method, 'clientError');
        return { response: googleErrors.notFound() };
      }
      user = address;
    } else {
      const check = this.tokens.check(authorization);
      if (!check.ok) {
        this.record(undefined, method, 'unauthorized');
        const response =
          check.reason === 'missing' ? googleErrors.missingCredentials() : googleErrors.invalidCredentials();
        return { response };
      }
      user = check.user;
      if (route.userId !== 'me' && route.userId.toLowerCase() !== user) {
        this.record(user, method, 'clientError');
        return { response: googleErrors.delegationDenied(route.userId) };
      }
    }
    const mailbox = this.users.get(user);
    if (!mailbox) {
      this.record(user, method, 'clientError');
      return { response: googleErrors.notFound() };
    }
    const burst = this.faults.takeBurst(method, user);
    if (burst) {
      this.record(user, method, 'rateLimited');
      const waitMs = ((burst.retryAfterSeconds ?? 1) * 1000) / this.speedFactor;
      return { response: this.rateLimited(burst.status, waitMs) };
    }
    if (!reserved && !this.acquire(user, method)) {
      this.record(user, method, 'concurrencyLimited');
      return { response: googleErrors.tooManyConcurrent() };
    }
    try {
      const cost = this.quotaProfile.costs[method];
      const now = this.clock.now();
      // Both budgets are checked before either is charged: a refused call costs nothing.
      if (this.quotaEnforced) {
        const waitMs = this.quotaWindow(user).waitFor(cost, now);
        if (waitMs > 0) {
          this.record(user, method, 'rateLimited');
          const setting = this.options.overQuotaStatus ?? 429;
          const status = setting === 'mixed' ? (this.mix.chance(0.5) ? 429 : 403) : setting;
          return { response: this.rateLimited(status, waitMs) };
        }
      }
      const refusal = this.projectQuota.check(cost, now);
      if (refusal) {
        this.record(user, method, 'rateLimited');
        const retryAfter = this.formatRetryAfter(refusal.waitMs);
        const response =
          refusal.limit === 'daily'
            ? googleErrors.dailyLimitExceeded(retryAfter)
            : googleErrors.projectRateLimitExceeded(retryAfter);
        return { response };
      }
      if (this.quotaEnforced) this.quotaWindow(user).charge(cost, now);
      this.projectQuota.charge(cost, now);
      const latency = this.faults.latencyMs(method, user);
      if (latency > 0) await this.clock.sleep(latency);
      const failure = this.faults.serverError(method, user);
      if (failure) {
        this.record(user, method, 'serverError', cost);
        return { response: googleErrors.backendError(failure) };
      }
      const response = gmailMethodHandlers[method]({
        mailbox,
        route,
        query,
        now: this.clock.now(),
        onFetch: (index) => mailbox.recordFetch(index),
        body,
        push: this.push,
      });
      const drop = this.faults.drop(method, user);
      const outcome: CallOutcome = drop ? 'dropped' : response.status < 400 ? 'ok' : 'clientError';
      this.record(user, method, outcome, cost);
      return { response, drop };
    } finally {
      if (!reserved) this.release(user);
    }
  }

  /**
   * `POST /batch/gmail/v1`. Google runs the parts in parallel, so they hold concurrency slots
   * together: parts past the per-user limit answer the concurrency 429. Each part is charged and
   * rate-limited on its own; a drop drawn by any part cuts the whole batch connection.
   */
  private async handleBatch(request: Request): Promise<Response> {
    if (request.method !== 'POST')
      return googleErrors.methodNotFound(request.method, new URL(request.url).pathname);
    let parts: ReturnType<typeof parseBatchRequest>;
    try {
      parts = parseBatchRequest(request.headers.get('content-type'), await request.text());
    } catch (error) {
      if (error instanceof BatchFormatError) return googleErrors.badRequest(error.message);
      throw error;
    }
    if (parts.length === 0) return googleErrors.badRequest('Batch request contains no parts');
    if (parts.length > MAX_BATCH_PARTS) {
      return googleErrors.badRequest(`A batch request cannot contain more than ${MAX_BATCH_PARTS} requests`);
    }
    this.statsRecorder.batches += 1;
    this.statsRecorder.batchParts += parts.length;
    const outerAuthorization = request.headers.get('authorization');
    const held: string[] = [];
    const pending = parts.map((part) => {
      const target = new URL(part.target, 'http://batch.invalid');
      const route = matchGmailRoute(part.method, target.pathname);
      if (!route)
        return Promise.resolve<CallResult>({
          response: googleErrors.methodNotFound(part.method, target.pathname),
        });
      const body = part.method === 'POST' ? parseJsonBody(part.body) : undefined;
      if (body instanceof Response) return Promise.resolve<CallResult>({ response: body });
      const authorization = part.headers.get('authorization') ?? outerAuthorization;
      const user = this.userOf(authorization, route);
      if (user !== undefined) {
        if (!this.acquire(user, route.method)) {
          this.record(user, route.method, 'concurrencyLimited');
          return Promise.resolve<CallResult>({ response: googleErrors.tooManyConcurrent() });
        }
        held.push(user);
      }
      return this.callGmail(route, target.searchParams, authorization, user !== undefined, body);
    });
    let results: CallResult[];
    try {
      results = await Promise.all(pending);
    } finally {
      for (const user of held) this.release(user);
    }
    const boundary = `batch_${hash32(this.statsRecorder.batches, parts.length).toString(36)}${this.clock.now().toString(36)}`;
    const body = await serializeBatchResponse(
      results.map((result, i) => ({ contentId: parts[i]!.contentId, response: result.response })),
      boundary,
    );
    const response = new Response(body, {
      status: 200,
      headers: { 'content-type': `multipart/mixed; boundary=${boundary}` },
    });
    const drop = results.find((result) => result.drop)?.drop;
    return drop ? droppedResponse(response, drop) : response;
  }
}

/** The JSON body of a POST method (`undefined` when empty), or the 400 Google answers for bad JSON. */
function parseJsonBody(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return googleErrors.badRequest('Invalid JSON payload received.');
  }
}

function fetchStats(mailbox: Mailbox): FetchStats {
  const stats: FetchStats = {
    distinctMessages: 0,
    totalFetches: 0,
    maxFetchesPerMessage: 0,
    refetchedMessages: 0,
    refetched: {},
  };
  let listed = 0;
  for (let i = 0; i < mailbox.size; i++) {
    const count = mailbox.fetchCount(i);
    if (count === 0) continue;
    stats.distinctMessages += 1;
    stats.totalFetches += count;
    stats.maxFetchesPerMessage = Math.max(stats.maxFetchesPerMessage, count);
    if (count > 1) {
      stats.refetchedMessages += 1;
      if (listed++ < 1000) stats.refetched[mailbox.idOf(i)] = count;
    }
  }
  return stats;
}

/** Creates an emulator; the same as `new GmailEmulator(options)`. */
export function createGmailEmulator(options?: GmailEmulatorOptions): GmailEmulator {
  return new GmailEmulator(options);
}
