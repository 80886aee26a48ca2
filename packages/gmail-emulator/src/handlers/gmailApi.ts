import { googleErrors, jsonResponse } from '../http/googleError.js';
import type { HistoryKind, HistoryRecord, Mailbox } from '../mailbox/mailbox.js';
import { MESSAGE_FORMATS, type MessageFormat, messageResource } from '../mailbox/messageResource.js';
import { compileFilter, QueryError } from '../mailbox/searchQuery.js';
import type { PushHub } from '../push/pushHub.js';
import type { GmailMethod } from '../quota/costTables.js';
import { stop, watch } from './watchApi.js';

/** A Gmail REST route resolved from a path. */
export interface GmailRoute {
  method: GmailMethod;
  userId: string;
  resourceId?: string;
}

const USERS_PATH =
  /^\/gmail\/v1\/users\/([^/]+)\/(profile|labels|messages|threads|history|watch|stop)(?:\/([^/]+))?\/?$/;

/** The routes served on POST: the rest are GET. */
const POST_METHODS = { watch: 'users.watch', stop: 'users.stop' } as const;

/** Maps an HTTP method and path to a Gmail method, or undefined for paths the emulator does not serve. */
export function matchGmailRoute(httpMethod: string, pathname: string): GmailRoute | undefined {
  const match = USERS_PATH.exec(pathname);
  if (!match) return undefined;
  const userId = decodeURIComponent(match[1]!);
  const collection = match[2]!;
  if (collection in POST_METHODS) {
    return httpMethod === 'POST' && match[3] === undefined
      ? { method: POST_METHODS[collection as keyof typeof POST_METHODS], userId }
      : undefined;
  }
  if (httpMethod !== 'GET') return undefined;
  const resourceId = match[3] === undefined ? undefined : decodeURIComponent(match[3]);
  const method = (
    {
      profile: resourceId ? undefined : 'users.getProfile',
      labels: resourceId ? undefined : 'users.labels.list',
      messages: resourceId ? 'users.messages.get' : 'users.messages.list',
      threads: resourceId ? 'users.threads.get' : undefined,
      history: resourceId ? undefined : 'users.history.list',
    } as const
  )[collection as 'profile'];
  return method ? { method, userId, ...(resourceId ? { resourceId } : {}) } : undefined;
}

/** What a Gmail method handler gets: the caller's mailbox, the query and the time. */
export interface GmailCallContext {
  mailbox: Mailbox;
  route: GmailRoute;
  query: URLSearchParams;
  now: number;
  /** Counts message fetches for the stats. */
  onFetch: (index: number) => void;
  /** The parsed JSON body of a POST method (`undefined` for GET). */
  body: unknown;
  /** Watches and pushes. */
  push: PushHub;
}

const ID_PATTERN = /^[0-9a-f]{1,24}$/i;

function parseMaxResults(query: URLSearchParams, fallback: number, max: number): number | Response {
  const raw = query.get('maxResults');
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    return googleErrors.invalidArgument(`Invalid value at 'max_results' (TYPE_UINT32), "${raw}"`);
  }
  // Gmail treats 0 as the default and silently caps values above the maximum.
  return value === 0 ? fallback : Math.min(value, max);
}

function parseBoolean(raw: string | null): boolean {
  return raw === 'true' || raw === '1';
}

function parseFormat(query: URLSearchParams, allowed: readonly MessageFormat[]): MessageFormat | Response {
  const raw = query.get('format') ?? 'full';
  const format = raw.toLowerCase() as MessageFormat;
  if (!allowed.includes(format)) {
    return googleErrors.invalidArgument(
      `Invalid value at 'format' (type.googleapis.com/google.apps.gmail.v1.Format), "${raw}"`,
    );
  }
  return format;
}

/** Gmail encodes repeated parameters as repeated keys; a comma list is accepted too for convenience. */
function repeated(query: URLSearchParams, name: string): string[] {
  return query
    .getAll(name)
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
}

function getProfile({ mailbox }: GmailCallContext): Response {
  return jsonResponse({
    emailAddress: mailbox.address,
    messagesTotal: mailbox.messagesTotal,
    threadsTotal: mailbox.threadsTotal(),
    historyId: String(mailbox.historyId),
  });
}

function listLabels({ mailbox }: GmailCallContext): Response {
  return jsonResponse({ labels: mailbox.labels.resources() });
}

const estimates = new WeakMap<Mailbox, Map<string, { historyId: number; count: number }>>();

function estimate(mailbox: Mailbox, key: string, count: () => number): number {
  let cache = estimates.get(mailbox);
  if (!cache) {
    cache = new Map();
    estimates.set(mailbox, cache);
  }
  const hit = cache.get(key);
  if (hit && hit.historyId === mailbox.historyId) return hit.count;
  const value = count();
  if (cache.size > 256) cache.clear();
  cache.set(key, { historyId: mailbox.historyId, count: value });
  return value;
}

function listMessages({ mailbox, query, now }: GmailCallContext): Response {
  const maxResults = parseMaxResults(query, 100, 500);
  if (maxResults instanceof Response) return maxResults;
  const labelIds = repeated(query, 'labelIds');
  const q = query.get('q') ?? undefined;
  const includeSpamTrash = parseBoolean(query.get('includeSpamTrash'));
  let filter: ReturnType<typeof compileFilter>;
  try {
    filter = compileFilter(mailbox, { labelIds, q, includeSpamTrash, now });
  } catch (error) {
    if (error instanceof QueryError) return googleErrors.invalidArgument(error.message);
    throw error;
  }
  const pageToken = query.get('pageToken');
  let from: number | undefined;
  if (pageToken) {
    if (!/^\d{1,12}$/.test(pageToken)) return googleErrors.invalidArgument('Invalid pageToken');
    from = Number(pageToken);
  }
  const page = mailbox.scan(filter.accept, maxResults, from);
  const total = estimate(mailbox, JSON.stringify([labelIds, q, includeSpamTrash]), () =>
    mailbox.countMatching(filter.accept),
  );
  return jsonResponse({
    ...(page.indexes.length
      ? { messages: page.indexes.map((i) => ({ id: mailbox.idOf(i), threadId: mailbox.threadIdOf(i) })) }
      : {}),
    ...(page.next !== undefined && page.indexes.length === maxResults
      ? { nextPageToken: String(page.next).padStart(12, '0') }
      : {}),
    resultSizeEstimate: total,
  });
}

function resolveId(mailbox: Mailbox, id: string | undefined): number | Response {
  if (!id || !ID_PATTERN.test(id)) return googleErrors.invalidArgument('Invalid id value');
  const index = mailbox.indexOf(id.toLowerCase());
  return index === undefined || !mailbox.isLive(index) ? googleErrors.notFound() : index;
}

function getMessage({ mailbox, route, query, onFetch }: GmailCallContext): Response {
  const format = parseFormat(query, MESSAGE_FORMATS);
  if (format instanceof Response) return format;
  const index = resolveId(mailbox, route.resourceId);
  if (index instanceof Response) return index;
  onFetch(index);
  return jsonResponse(messageResource(mailbox, index, format, repeated(query, 'metadataHeaders')));
}

function getThread({ mailbox, route, query, onFetch }: GmailCallContext): Response {
  const format = parseFormat(query, ['minimal', 'metadata', 'full']);
  if (format instanceof Response) return format;
  const id = route.resourceId;
  if (!id || !ID_PATTERN.test(id)) return googleErrors.invalidArgument('Invalid id value');
  // A thread keeps its id (its first message's) after that message is deleted: Gmail answers with
  // the messages that remain, and 404 only once none does.
  const index = mailbox.indexOf(id.toLowerCase());
  if (index === undefined || mailbox.threadStartOf(index) !== index) return googleErrors.notFound();
  const members = mailbox.threadMembers(index);
  if (members.length === 0) return googleErrors.notFound();
  const headers = repeated(query, 'metadataHeaders');
  for (const member of members) onFetch(member);
  return jsonResponse({
    id: mailbox.idOf(index),
    historyId: String(Math.max(...members.map((m) => mailbox.historyIdOf(m)))),
    messages: members.map((m) => messageResource(mailbox, m, format, headers)),
  });
}

const HISTORY_TYPES: readonly HistoryKind[] = [
  'messageAdded',
  'messageDeleted',
  'labelAdded',
  'labelRemoved',
];

function historyEntry(mailbox: Mailbox, record: HistoryRecord): Record<string, unknown> {
  const ref = { id: mailbox.idOf(record.index), threadId: mailbox.threadIdOf(record.index) };
  const labelIds = mailbox.labels.idsOf(record.labelBits);
  const message = { ...ref, ...(labelIds.length ? { labelIds } : {}) };
  const entry: Record<string, unknown> = { id: String(record.id), messages: [ref] };
  switch (record.kind) {
    case 'messageAdded':
      entry.messagesAdded = [{ message }];
      break;
    case 'messageDeleted':
      entry.messagesDeleted = [{ message }];
      break;
    case 'labelAdded':
      entry.labelsAdded = [{ message, labelIds: mailbox.labels.idsOf(record.changedBits) }];
      break;
    case 'labelRemoved':
      entry.labelsRemoved = [{ message, labelIds: mailbox.labels.idsOf(record.changedBits) }];
      break;
  }
  return entry;
}

function listHistory({ mailbox, query, push }: GmailCallContext): Response {
  const rawStart = query.get('startHistoryId');
  if (!rawStart) return googleErrors.invalidArgument('Missing required parameter: startHistoryId');
  if (!/^\d+$/.test(rawStart)) return googleErrors.invalidArgument(`Invalid startHistoryId: ${rawStart}`);
  const start = Number(rawStart);
  // Gmail keeps history for a limited time; an older starting point means "do a full sync".
  if (start < mailbox.historyFloor) return googleErrors.notFound();
  const maxResults = parseMaxResults(query, 100, 500);
  if (maxResults instanceof Response) return maxResults;
  const types = repeated(query, 'historyTypes');
  for (const type of types) {
    if (!HISTORY_TYPES.includes(type as HistoryKind)) {
      return googleErrors.invalidArgument(`Invalid value at 'history_types', "${type}"`);
    }
  }
  const labelId = query.get('labelId');
  let labelBit = 0;
  if (labelId) {
    const bit = mailbox.labels.bitOfId(labelId);
    if (bit === undefined) return googleErrors.invalidArgument(`Invalid label: ${labelId}`);
    labelBit = bit;
  }
  const pageToken = query.get('pageToken');
  let after = start;
  if (pageToken) {
    if (!/^\d{1,12}$/.test(pageToken)) return googleErrors.invalidArgument('Invalid pageToken');
    after = Math.max(start, Number(pageToken));
  }
  // With `push.earlyByMs`, a change already notified is not in the history yet.
  const visible = push.visibleHistoryId(mailbox.address, mailbox.historyId);
  const matching = mailbox
    .historyAfter(after)
    .filter(
      (record) =>
        record.id <= visible &&
        (types.length === 0 || types.includes(record.kind)) &&
        (labelBit === 0 || ((record.labelBits | record.changedBits) & labelBit) !== 0),
    );
  const page = matching.slice(0, maxResults);
  const more = matching.length > maxResults;
  return jsonResponse({
    ...(page.length ? { history: page.map((record) => historyEntry(mailbox, record)) } : {}),
    ...(more ? { nextPageToken: String(page[page.length - 1]!.id) } : {}),
    historyId: String(visible),
  });
}

export const gmailMethodHandlers: Record<GmailMethod, (context: GmailCallContext) => Response> = {
  'users.getProfile': getProfile,
  'users.labels.list': listLabels,
  'users.messages.list': listMessages,
  'users.messages.get': getMessage,
  'users.threads.get': getThread,
  'users.history.list': listHistory,
  'users.watch': watch,
  'users.stop': stop,
};
