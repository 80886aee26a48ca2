import { GaxiosError } from 'gaxios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningGmailEmulator, startGmailEmulator } from '../src/index.js';
import { gmailClient, tokenFor } from './helpers.js';

let running: RunningGmailEmulator;
let gmail: ReturnType<typeof gmailClient>;

beforeAll(async () => {
  running = await startGmailEmulator({
    users: [
      { address: 'me@example.com', messages: 2000, seed: 7 },
      { address: 'other@example.com', messages: 50, seed: 8 },
    ],
    quota: 'off',
  });
  gmail = gmailClient(running.url, tokenFor(running.emulator));
});

afterAll(() => running.close());

async function gaxiosErrorOf(promise: Promise<unknown>): Promise<GaxiosError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GaxiosError);
  return error as GaxiosError;
}

describe('users.getProfile and labels.list', () => {
  it('returns the profile with string historyId and totals', async () => {
    const { data } = await gmail.users.getProfile({ userId: 'me' });
    expect(data.emailAddress).toBe('me@example.com');
    expect(data.messagesTotal).toBe(2000);
    expect(typeof data.historyId).toBe('string');
    expect(data.threadsTotal).toBeGreaterThan(500);
    expect(data.threadsTotal).toBeLessThan(1200);
  });

  it('accepts the address as userId and refuses another user', async () => {
    const { data } = await gmail.users.getProfile({ userId: 'me@example.com' });
    expect(data.emailAddress).toBe('me@example.com');
    const error = await gaxiosErrorOf(gmail.users.getProfile({ userId: 'other@example.com' }));
    expect(error.status).toBe(403);
    expect(error.response?.data.error.status).toBe('PERMISSION_DENIED');
  });

  it('lists system and user labels', async () => {
    const { data } = await gmail.users.labels.list({ userId: 'me' });
    const ids = data.labels?.map((label) => label.id) ?? [];
    expect(ids).toEqual(
      expect.arrayContaining(['INBOX', 'SENT', 'SPAM', 'TRASH', 'UNREAD', 'CATEGORY_SOCIAL', 'Label_1']),
    );
    expect(data.labels?.find((label) => label.id === 'Label_1')).toMatchObject({
      name: 'Work',
      type: 'user',
    });
    expect(data.labels?.find((label) => label.id === 'INBOX')?.type).toBe('system');
  });
});

describe('users.messages.list', () => {
  it('pages through every non-spam, non-trash message newest first', async () => {
    const ids: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const { data } = await gmail.users.messages.list({ userId: 'me', maxResults: 500, pageToken });
      expect(typeof data.resultSizeEstimate).toBe('number');
      for (const message of data.messages ?? []) {
        expect(message.id).toMatch(/^[0-9a-f]{16}$/);
        expect(message.threadId).toMatch(/^[0-9a-f]{16}$/);
        ids.push(message.id!);
      }
      pageToken = data.nextPageToken ?? undefined;
      pages++;
    } while (pageToken);
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages).toBe(Math.ceil(ids.length / 500));
    const all = await gmail.users.messages.list({ userId: 'me', includeSpamTrash: true, maxResults: 1 });
    expect(all.data.resultSizeEstimate).toBe(2000);
    expect(ids.length).toBeLessThan(2000);
    expect(ids.length).toBeGreaterThan(1900);
  });

  it('defaults maxResults to 100 and caps it at 500', async () => {
    expect((await gmail.users.messages.list({ userId: 'me' })).data.messages).toHaveLength(100);
    expect((await gmail.users.messages.list({ userId: 'me', maxResults: 5000 })).data.messages).toHaveLength(
      500,
    );
  });

  it('filters by labelIds and q', async () => {
    const inbox = await gmail.users.messages.list({
      userId: 'me',
      labelIds: ['INBOX', 'UNREAD'],
      maxResults: 20,
    });
    for (const m of inbox.data.messages ?? []) {
      const { data } = await gmail.users.messages.get({ userId: 'me', id: m.id!, format: 'minimal' });
      expect(data.labelIds).toEqual(expect.arrayContaining(['INBOX', 'UNREAD']));
    }
    const inq = await gmail.users.messages.list({ userId: 'me', q: 'in:inbox is:unread' });
    expect(inq.data.resultSizeEstimate).toBe(inbox.data.resultSizeEstimate);

    const work = await gmail.users.messages.list({ userId: 'me', q: 'label:work' });
    expect(work.data.resultSizeEstimate).toBeGreaterThan(0);
    const workById = await gmail.users.messages.list({ userId: 'me', labelIds: ['Label_1'] });
    expect(workById.data.resultSizeEstimate).toBe(work.data.resultSizeEstimate);

    const dated = await gmail.users.messages.list({
      userId: 'me',
      q: 'after:2020/01/01 before:2021/01/01',
      maxResults: 500,
    });
    for (const m of (dated.data.messages ?? []).slice(0, 10)) {
      const { data } = await gmail.users.messages.get({ userId: 'me', id: m.id!, format: 'minimal' });
      const date = Number(data.internalDate);
      expect(date).toBeGreaterThanOrEqual(Date.UTC(2020, 0, 1));
      expect(date).toBeLessThan(Date.UTC(2021, 0, 1));
    }
    expect(dated.data.resultSizeEstimate).toBeGreaterThan(100);

    const sent = await gmail.users.messages.list({ userId: 'me', q: 'from:me@example.com', maxResults: 5 });
    for (const m of sent.data.messages ?? []) {
      const { data } = await gmail.users.messages.get({ userId: 'me', id: m.id!, format: 'minimal' });
      expect(data.labelIds).toContain('SENT');
    }

    const spam = await gmail.users.messages.list({ userId: 'me', q: 'in:spam' });
    expect(spam.data.resultSizeEstimate).toBeGreaterThan(0);
  });

  it('answers a bad query or page token with INVALID_ARGUMENT', async () => {
    const error = await gaxiosErrorOf(gmail.users.messages.list({ userId: 'me', pageToken: 'nonsense' }));
    expect(error.status).toBe(400);
    expect(error.response?.data.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(error.response?.data.error.errors[0].reason).toBe('invalidArgument');
  });
});

describe('users.messages.get', () => {
  let id: string;
  beforeAll(async () => {
    const { data } = await gmail.users.messages.list({ userId: 'me', maxResults: 1 });
    id = data.messages![0]!.id!;
  });

  it('minimal has ids, labels, snippet, sizes and string dates but no payload', async () => {
    const { data } = await gmail.users.messages.get({ userId: 'me', id, format: 'minimal' });
    expect(data).toMatchObject({ id, threadId: expect.any(String), snippet: expect.any(String) });
    expect(data.internalDate).toMatch(/^\d{13}$/);
    expect(data.historyId).toMatch(/^\d+$/);
    expect(data.sizeEstimate).toBeGreaterThan(100);
    expect(data.payload).toBeUndefined();
  });

  it('metadata returns only the asked headers', async () => {
    const { data } = await gmail.users.messages.get({
      userId: 'me',
      id,
      format: 'metadata',
      metadataHeaders: ['From', 'subject'],
    });
    expect(data.payload?.headers?.map((h) => h.name).sort()).toEqual(['From', 'Subject']);
    expect(data.payload?.headers?.find((h) => h.name === 'From')?.value).toMatch(/<[^@]+@[^>]+>/);
  });

  it('full has a MIME payload with base64url bodies', async () => {
    const { data } = await gmail.users.messages.get({ userId: 'me', id });
    const headers = data.payload?.headers?.map((h) => h.name) ?? [];
    expect(headers).toEqual(expect.arrayContaining(['From', 'To', 'Subject', 'Date', 'Message-ID']));
    const textPart = data.payload?.mimeType === 'text/plain' ? data.payload : data.payload?.parts?.[0];
    expect(textPart?.mimeType).toBe('text/plain');
    const text = Buffer.from(textPart!.body!.data!, 'base64url').toString('utf8');
    expect(text).toMatch(/^Hi /);
    expect(textPart!.body!.size).toBe(Buffer.byteLength(text));
  });

  it('raw is a base64url RFC 822 message whose headers match full', async () => {
    const [raw, full] = await Promise.all([
      gmail.users.messages.get({ userId: 'me', id, format: 'raw' }),
      gmail.users.messages.get({ userId: 'me', id, format: 'full' }),
    ]);
    expect(raw.data.raw).toMatch(/^[A-Za-z0-9_-]+$/);
    const text = Buffer.from(raw.data.raw!, 'base64url').toString('utf8');
    const [head] = text.split('\r\n\r\n');
    const subject = full.data.payload?.headers?.find((h) => h.name === 'Subject')?.value;
    expect(head).toContain(`Subject: ${subject}`);
    expect(head).toMatch(/^MIME-Version: 1\.0\r\nDate: \w{3}, \d{2} \w{3} \d{4} [\d:]{8} \+0000/);
    expect(raw.data.sizeEstimate).toBe(Buffer.byteLength(text));
  });

  it('is deterministic across emulators with the same seed', async () => {
    const other = await startGmailEmulator({
      users: [{ address: 'me@example.com', messages: 2000, seed: 7 }],
    });
    try {
      const client = gmailClient(other.url, tokenFor(other.emulator));
      const [a, b] = await Promise.all([
        gmail.users.messages.get({ userId: 'me', id, format: 'raw' }),
        client.users.messages.get({ userId: 'me', id, format: 'raw' }),
      ]);
      expect(b.data.raw).toBe(a.data.raw);
    } finally {
      await other.close();
    }
  });

  it('answers unknown ids 404 notFound and bad formats 400', async () => {
    const missing = await gaxiosErrorOf(gmail.users.messages.get({ userId: 'me', id: 'ffffffffffffffff' }));
    expect(missing.status).toBe(404);
    expect(missing.response?.data).toEqual({
      error: {
        code: 404,
        message: 'Requested entity was not found.',
        errors: [{ message: 'Requested entity was not found.', domain: 'global', reason: 'notFound' }],
        status: 'NOT_FOUND',
      },
    });
    const bad = await gaxiosErrorOf(gmail.users.messages.get({ userId: 'me', id, format: 'bogus' }));
    expect(bad.status).toBe(400);
  });
});

describe('users.threads.get', () => {
  it('returns every message of the thread, oldest first, in the asked format', async () => {
    const list = await gmail.users.messages.list({ userId: 'me', maxResults: 500 });
    const counts = new Map<string, number>();
    for (const m of list.data.messages ?? []) counts.set(m.threadId!, (counts.get(m.threadId!) ?? 0) + 1);
    const [threadId] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    const { data } = await gmail.users.threads.get({
      userId: 'me',
      id: threadId,
      format: 'metadata',
      metadataHeaders: ['Subject'],
    });
    expect(data.id).toBe(threadId);
    expect(data.historyId).toMatch(/^\d+$/);
    expect(data.messages!.length).toBeGreaterThan(1);
    const dates = data.messages!.map((m) => Number(m.internalDate));
    expect([...dates].sort((a, b) => a - b)).toEqual(dates);
    for (const message of data.messages!) {
      expect(message.threadId).toBe(threadId);
      expect(message.payload?.headers).toHaveLength(1);
    }
    expect(data.messages![1]!.payload!.headers![0]!.value).toMatch(/^Re: /);
  });

  it('still returns a thread whose first message was deleted, and 404 once none of it remains', async () => {
    const emulator = running.emulator;
    const mailbox = emulator.mailbox('me@example.com');
    let start = -1;
    for (let i = 0; i < mailbox.size && start < 0; i++) {
      if (mailbox.threadStartOf(i) === i && mailbox.threadMembers(i).length >= 3) start = i;
    }
    expect(start).toBeGreaterThanOrEqual(0);
    const threadId = mailbox.idOf(start);
    const [first, ...rest] = mailbox.threadMembers(start).map((i) => mailbox.idOf(i));
    emulator.deleteMessage('me@example.com', first!);

    const { data } = await gmail.users.threads.get({ userId: 'me', id: threadId, format: 'minimal' });
    expect(data.id).toBe(threadId);
    expect(data.messages!.map((m) => m.id)).toEqual(rest);
    for (const message of data.messages!) expect(message.threadId).toBe(threadId);

    for (const id of rest) emulator.deleteMessage('me@example.com', id);
    const error = await gaxiosErrorOf(gmail.users.threads.get({ userId: 'me', id: threadId }));
    expect(error.status).toBe(404);
  });

  it('answers 404 for a message id that does not start a thread', async () => {
    const mailbox = running.emulator.mailbox('me@example.com');
    let reply = -1;
    for (let i = 0; i < mailbox.size && reply < 0; i++) {
      if (mailbox.threadStartOf(i) !== i && mailbox.isLive(i)) reply = i;
    }
    const error = await gaxiosErrorOf(gmail.users.threads.get({ userId: 'me', id: mailbox.idOf(reply) }));
    expect(error.status).toBe(404);
  });

  it('has a realistic thread-size distribution', () => {
    const mailbox = running.emulator.mailbox('me@example.com');
    let threads = 0;
    let largest = 0;
    for (let i = 0; i < mailbox.size; i++) {
      if (mailbox.threadStartOf(i) !== i) continue;
      threads++;
      largest = Math.max(largest, mailbox.threadMembers(i).length);
    }
    const mean = mailbox.size / threads;
    expect(mean).toBeGreaterThan(2);
    expect(mean).toBeLessThan(3);
    expect(largest).toBeGreaterThan(5);
  });
});

describe('users.history.list and mutations', () => {
  it('reports additions, deletions and label changes after a historyId, paged', async () => {
    const emulator = running.emulator;
    const start = (await gmail.users.getProfile({ userId: 'me' })).data.historyId!;
    const added = emulator.addMessage('me@example.com', { content: { subject: 'Fresh one' } });
    const list = await gmail.users.messages.list({ userId: 'me', maxResults: 3 });
    expect(list.data.messages![0]!.id).toBe(added.id);
    const victim = list.data.messages![2]!.id!;
    emulator.deleteMessage('me@example.com', victim);
    emulator.modifyLabels('me@example.com', added.id, { add: ['STARRED'], remove: ['UNREAD'] });

    const { data } = await gmail.users.history.list({ userId: 'me', startHistoryId: start });
    expect(data.historyId).toBe((await gmail.users.getProfile({ userId: 'me' })).data.historyId);
    const history = data.history!;
    expect(history.map((h) => Object.keys(h).filter((k) => k !== 'id' && k !== 'messages'))).toEqual([
      ['messagesAdded'],
      ['messagesDeleted'],
      ['labelsAdded'],
      ['labelsRemoved'],
    ]);
    expect(history[0]!.messagesAdded![0]!.message).toMatchObject({
      id: added.id,
      labelIds: expect.arrayContaining(['INBOX']),
    });
    expect(history[1]!.messagesDeleted![0]!.message!.id).toBe(victim);
    expect(history[2]!.labelsAdded![0]!.labelIds).toEqual(['STARRED']);
    expect(history[3]!.labelsRemoved![0]!.labelIds).toEqual(['UNREAD']);
    for (const record of history) expect(Number(record.id)).toBeGreaterThan(Number(start));

    const labelOnly = await gmail.users.history.list({
      userId: 'me',
      startHistoryId: start,
      historyTypes: ['labelAdded'],
    });
    expect(labelOnly.data.history).toHaveLength(1);

    const page1 = await gmail.users.history.list({ userId: 'me', startHistoryId: start, maxResults: 3 });
    expect(page1.data.history).toHaveLength(3);
    const page2 = await gmail.users.history.list({
      userId: 'me',
      startHistoryId: start,
      maxResults: 3,
      pageToken: page1.data.nextPageToken!,
    });
    expect(page2.data.history?.map((h) => h.id)).toEqual([history[3]!.id]);
    expect(page2.data.nextPageToken).toBeUndefined();

    const deleted = await gaxiosErrorOf(gmail.users.messages.get({ userId: 'me', id: victim }));
    expect(deleted.status).toBe(404);
  });

  it('answers 404 once the starting point is older than the kept history', async () => {
    const start = (await gmail.users.getProfile({ userId: 'me' })).data.historyId!;
    running.emulator.addMessage('me@example.com');
    const res = await fetch(`${running.url}/_emulator/users/me@example.com/history/expire`, {
      method: 'POST',
      body: JSON.stringify({}),
    });
    expect(res.status).toBe(200);
    const error = await gaxiosErrorOf(gmail.users.history.list({ userId: 'me', startHistoryId: start }));
    expect(error.status).toBe(404);
    expect(error.response?.data.error.errors[0].reason).toBe('notFound');
    const now = (await gmail.users.getProfile({ userId: 'me' })).data.historyId!;
    const fresh = await gmail.users.history.list({ userId: 'me', startHistoryId: now });
    expect(fresh.data.history).toBeUndefined();
    expect(fresh.data.historyId).toBe(now);
  });
});

describe('admin API over HTTP', () => {
  it('creates users, adds, relabels and deletes messages', async () => {
    const post = (path: string, body: unknown = {}) =>
      fetch(`${running.url}/_emulator/${path}`, { method: 'POST', body: JSON.stringify(body) });
    const created = await post('users', { address: 'new@example.com', messages: 10, seed: 3 });
    expect(created.status).toBe(201);
    const summary = (await created.json()) as { refreshTokens: string[]; historyId: string };
    expect(summary.refreshTokens).toHaveLength(1);
    const added = (await (
      await post('users/new@example.com/messages', { count: 2, labelIds: ['INBOX'] })
    ).json()) as {
      messages: Array<{ id: string }>;
    };
    expect(added.messages).toHaveLength(2);
    const relabel = await post(`users/new@example.com/messages/${added.messages[0]!.id}/labels`, {
      add: ['Label_2'],
    });
    expect(((await relabel.json()) as { labelIds: string[] }).labelIds).toEqual(['INBOX', 'Label_2']);
    const del = await fetch(
      `${running.url}/_emulator/users/new@example.com/messages/${added.messages[1]!.id}`,
      {
        method: 'DELETE',
      },
    );
    expect(del.status).toBe(200);
    const client = gmailClient(running.url, tokenFor(running.emulator, 'new@example.com'));
    expect((await client.users.getProfile({ userId: 'me' })).data.messagesTotal).toBe(11);
    const unknown = await post('users/nobody@example.com/messages');
    expect(unknown.status).toBe(404);
    const badLabel = await post(`users/new@example.com/messages/${added.messages[0]!.id}/labels`, {
      add: ['Nope'],
    });
    expect(badLabel.status).toBe(400);
  });
});
