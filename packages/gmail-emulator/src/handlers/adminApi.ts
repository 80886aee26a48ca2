import type { FaultRule } from '../faults/faultRule.js';
import type { EmulatorUserOptions, GmailEmulator } from '../gmailEmulator.js';
import { jsonResponse } from '../http/googleError.js';
import type { NewMessage } from '../mailbox/mailbox.js';
import type { PushOptions, Watch } from '../push/pushHub.js';
import type { QuotaSetting } from '../quota/costTables.js';

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson<T>(request: Request): Promise<T> {
  const text = await request.text();
  if (!text.trim()) return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new AdminError(400, 'The body is not valid JSON');
  }
}

function watchSummary(watch: Watch | undefined) {
  if (!watch) return null;
  const { topicName, labelIds, labelFilterBehavior, expiration } = watch;
  return { topicName, labelIds, labelFilterBehavior, expiration: String(expiration) };
}

function userSummary(emulator: GmailEmulator, address: string) {
  const mailbox = emulator.mailbox(address);
  return {
    address: mailbox.address,
    messagesTotal: mailbox.messagesTotal,
    historyId: String(mailbox.historyId),
    historyFloor: String(mailbox.historyFloor),
    refreshTokens: emulator.tokens.refreshTokensOf(mailbox.address),
    watch: watchSummary(emulator.push.watchOf(mailbox.address)),
  };
}

/**
 * The admin API under `/_emulator/`: JSON in, JSON out, no authentication. Every route maps to
 * one public method of {@link GmailEmulator}, so tests in-process and over HTTP see the same thing.
 */
export async function handleAdminRequest(
  emulator: GmailEmulator,
  request: Request,
  url: URL,
): Promise<Response> {
  const segments = url.pathname
    .slice('/_emulator/'.length)
    .split('/')
    .filter(Boolean)
    .map(decodeURIComponent);
  const method = request.method;
  // The user address and the message id are the only variable segments.
  const isParameter = (i: number) =>
    segments[0] === 'users' && (i === 1 || (i === 3 && segments[2] === 'messages'));
  const route = `${method} ${segments.map((s, i) => (isParameter(i) ? ':' : s)).join('/')}`;
  try {
    switch (route) {
      case 'GET stats':
        return jsonResponse(emulator.stats());
      case 'POST stats/reset':
        emulator.resetStats();
        return jsonResponse({ ok: true });
      case 'POST reset':
        emulator.reset();
        return jsonResponse({ ok: true });
      case 'GET config': {
        const quota = emulator.quota;
        return jsonResponse({
          ...quota,
          project: emulator.projectBudgets,
          users: emulator.userAddresses(),
          oauthClientId: emulator.tokens.client.clientId,
        });
      }
      case 'POST quota': {
        const body = await readJson<{ profile?: QuotaSetting; speed?: number }>(request);
        emulator.setQuota(body.profile ?? emulator.quota.setting, body.speed);
        return jsonResponse(emulator.quota);
      }
      case 'GET users':
        return jsonResponse({
          users: emulator.userAddresses().map((address) => userSummary(emulator, address)),
        });
      case 'POST users': {
        const body = await readJson<EmulatorUserOptions>(request);
        if (typeof body.address !== 'string' || !body.address.includes('@')) {
          throw new AdminError(400, 'address (an email address) is required');
        }
        const mailbox = emulator.addUser(body);
        return jsonResponse(userSummary(emulator, mailbox.address), 201);
      }
      case 'GET users/:': {
        return jsonResponse(userSummary(emulator, segments[1]!));
      }
      case 'POST users/:/messages': {
        const body = await readJson<NewMessage & { count?: number }>(request);
        const count = Math.max(1, Math.min(10_000, Math.floor(body.count ?? 1)));
        const messages = Array.from({ length: count }, () => emulator.addMessage(segments[1]!, body));
        return jsonResponse({ messages, historyId: messages[messages.length - 1]!.historyId }, 201);
      }
      case 'DELETE users/:/messages/:':
        return jsonResponse(emulator.deleteMessage(segments[1]!, segments[3]!));
      case 'POST users/:/messages/:/labels': {
        const body = await readJson<{ add?: string[]; remove?: string[] }>(request);
        return jsonResponse(emulator.modifyLabels(segments[1]!, segments[3]!, body));
      }
      case 'POST users/:/history/expire': {
        const body = await readJson<{ before?: number | string }>(request);
        const before = body.before === undefined ? undefined : Number(body.before);
        return jsonResponse(emulator.expireHistory(segments[1]!, before));
      }
      case 'POST users/:/tokens': {
        const body = await readJson<{ lifetimeSeconds?: number }>(request);
        const token = emulator.issueAccessToken(segments[1]!, body.lifetimeSeconds);
        return jsonResponse(
          { access_token: token.accessToken, expires_in: token.expiresIn, token_type: 'Bearer' },
          201,
        );
      }
      case 'POST users/:/tokens/revoke': {
        const body = await readJson<{ refreshToken?: string }>(request);
        return jsonResponse(emulator.revokeRefreshTokens(segments[1]!, body.refreshToken));
      }
      case 'POST users/:/tokens/expire':
        emulator.expireAccessTokens(segments[1]!);
        return jsonResponse({ ok: true });
      case 'GET push':
        return jsonResponse({ config: emulator.push.config ?? null, stats: emulator.push.stats() });
      case 'POST push': {
        const body = await readJson<PushOptions | { endpoint?: null }>(request);
        if (body.endpoint === null || body.endpoint === undefined) emulator.configurePush(null);
        else if (typeof body.endpoint !== 'string' || !URL.canParse(body.endpoint)) {
          throw new AdminError(400, 'endpoint must be an absolute URL, or null to stop pushing');
        } else emulator.configurePush(body as PushOptions);
        return jsonResponse({ config: emulator.push.config ?? null });
      }
      case 'GET faults':
        return jsonResponse({ faults: emulator.faults.list() });
      case 'POST faults': {
        const body = await readJson<FaultRule>(request);
        return jsonResponse(emulator.addFault(body), 201);
      }
      case 'DELETE faults':
        emulator.clearFaults();
        return jsonResponse({ ok: true });
      default:
        if (segments[0] === 'faults' && segments.length === 2 && method === 'DELETE') {
          const removed = emulator.removeFault(Number(segments[1]));
          if (!removed) throw new AdminError(404, `No fault rule ${segments[1]}`);
          return jsonResponse({ ok: true });
        }
        throw new AdminError(404, `No admin route ${method} ${url.pathname}`);
    }
  } catch (error) {
    if (error instanceof AdminError) return jsonResponse({ error: error.message }, error.status);
    if (error instanceof RangeError) {
      return jsonResponse({ error: error.message }, error.message.startsWith('Unknown') ? 404 : 400);
    }
    throw error;
  }
}
