import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock';
import type { Job } from '../job/job';
import { emptyCounters } from '../job/job';
import { createSmtpNotifier } from './smtpNotifier';
import type { WebhookPayload } from './webhookNotifier';
import { createWebhookNotifier, signWebhookBody, verifyWebhookSignature } from './webhookNotifier';

const SECRET = 'whsec-test-secret';

const finishedJob = (overrides: Partial<Job> = {}): Job => ({
  id: '0b8f8f0e-8c4a-4d7c-9d8e-3f1c2b7a9e11',
  source: 'gmail',
  accountId: 'alice@example.com',
  status: 'failed',
  phase: null,
  mode: 'full',
  trigger: 'schedule',
  counters: { ...emptyCounters(), total: 44_000, listed: 44_000, fetched: 38_000, stored: 38_000 },
  categoryCounts: { work: 10 },
  percent: 86.3,
  ratePerSec: null,
  etaSeconds: null,
  currentItem: 'Subject: Quarterly figures — SECRET CONTENT',
  waiting: null,
  createdAt: '2026-03-01T10:00:00.000Z',
  startedAt: '2026-03-01T10:00:01.000Z',
  updatedAt: '2026-03-01T10:15:01.000Z',
  heartbeatAt: null,
  leaseExpiresAt: null,
  finishedAt: '2026-03-01T10:15:01.000Z',
  attempt: 1,
  cancelRequested: false,
  error: { code: 'REAUTH_REQUIRED', message: 'Google refused the token; sign in again.', retryable: false },
  lastLogSeq: 40,
  ...overrides,
});

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A receiver on 127.0.0.1 that answers with the given statuses in turn (200 once they run out). */
async function receiver(statuses: number[]) {
  const received: Array<{ body: string; headers: IncomingMessage['headers']; verified: boolean }> = [];
  const server: Server = createServer(async (request, response) => {
    const body = await readBody(request);
    received.push({
      body,
      headers: request.headers,
      verified: verifyWebhookSignature(body, request.headers, SECRET),
    });
    response.statusCode = statuses.shift() ?? 200;
    response.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/sync`, received };
}

describe('createWebhookNotifier', () => {
  it('posts a signed summary the receiver can verify, retrying 5xx answers', async () => {
    const { url, received } = await receiver([503, 500]);
    const notify = createWebhookNotifier({ url, secret: SECRET, retries: 3, minDelayMs: 10, maxDelayMs: 20 });
    await notify(finishedJob());

    expect(received).toHaveLength(3);
    expect(received.every((r) => r.verified)).toBe(true);
    // One notification: the same body, signature and delivery id on every attempt.
    expect(new Set(received.map((r) => r.body)).size).toBe(1);
    expect(new Set(received.map((r) => r.headers['x-syncjob-delivery'])).size).toBe(1);
    const last = received[2]!;
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers['x-syncjob-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(Number(last.headers['x-syncjob-timestamp'])).toBeGreaterThan(1_700_000_000);

    const payload = JSON.parse(last.body) as WebhookPayload;
    expect(payload).toMatchObject({
      type: 'job.finished',
      job: {
        jobId: finishedJob().id,
        status: 'failed',
        accountId: 'alice@example.com',
        durationMs: 900_000,
        counters: { stored: 38_000, total: 44_000 },
        error: { code: 'REAUTH_REQUIRED' },
      },
    });
    expect(last.body).not.toContain('SECRET CONTENT');

    // A forged or altered body does not verify.
    expect(verifyWebhookSignature(last.body.replace('failed', 'completed'), last.headers, SECRET)).toBe(
      false,
    );
    expect(verifyWebhookSignature(last.body, last.headers, 'other-secret')).toBe(false);
    expect(
      verifyWebhookSignature(last.body, { ...last.headers, 'x-syncjob-signature': undefined }, SECRET),
    ).toBe(false);
    expect(
      verifyWebhookSignature(last.body, { ...last.headers, 'x-syncjob-signature': 'sha256=00' }, SECRET),
    ).toBe(false);
    // Fetch `Headers` work as well as Node's header object.
    expect(
      verifyWebhookSignature(last.body, new Headers(last.headers as Record<string, string>), SECRET),
    ).toBe(true);
  });

  it('signs the timestamp with the body and refuses stale, future-dated or re-stamped deliveries', async () => {
    const { url, received } = await receiver([]);
    const at = Date.UTC(2026, 2, 1, 10, 0, 0);
    const clock = { ...systemClock, now: () => at };
    await createWebhookNotifier({ url, secret: SECRET, clock })(finishedJob());
    const { body, headers } = received[0]!;
    const sent = at / 1000;
    expect(headers['x-syncjob-timestamp']).toBe(String(sent));
    expect(headers['x-syncjob-signature']).toBe(signWebhookBody(body, SECRET, sent));
    // The signature covers `<timestamp>.<body>`, not the body alone.
    expect(headers['x-syncjob-signature']).not.toBe(
      `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    );
    const verifyAt = (seconds: number, h = headers, options = {}) =>
      verifyWebhookSignature(body, h, SECRET, { now: () => seconds * 1000, ...options });
    expect(verifyAt(sent)).toBe(true);
    expect(verifyAt(sent + 300)).toBe(true);
    expect(verifyAt(sent - 300)).toBe(true);
    // A replay after the window, or a timestamp from the future, is refused.
    expect(verifyAt(sent + 301)).toBe(false);
    expect(verifyAt(sent - 301)).toBe(false);
    expect(verifyAt(sent + 3600, headers, { toleranceSeconds: 3600 })).toBe(true);
    expect(verifyAt(sent + 61, headers, { toleranceSeconds: 60 })).toBe(false);
    // Replaying the captured body and signature with a fresh timestamp does not verify.
    expect(verifyAt(sent + 3600, { ...headers, 'x-syncjob-timestamp': String(sent + 3600) })).toBe(false);
    expect(verifyAt(sent, { ...headers, 'x-syncjob-timestamp': undefined })).toBe(false);
    expect(verifyAt(sent, { ...headers, 'x-syncjob-timestamp': `${sent}.0` })).toBe(false);
    // Without an injected clock the system's is used: a delivery stamped 2026-03-01 is stale now.
    expect(verifyWebhookSignature(body, headers, SECRET)).toBe(Math.abs(Date.now() / 1000 - sent) <= 300);
  });

  it('does not follow a redirect: the signed body and custom headers never reach the other host', async () => {
    const elsewhere = await receiver([]);
    const redirected: string[] = [];
    let status = 307;
    const server = createServer((request, response) => {
      redirected.push(request.url ?? '');
      response.writeHead(status, { location: elsewhere.url });
      response.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    for (status of [307, 308]) {
      const notify = createWebhookNotifier({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/sync`,
        secret: SECRET,
        headers: { authorization: 'Bearer receiver-token' },
        retries: 3,
        minDelayMs: 5,
      });
      await expect(notify(finishedJob())).rejects.toMatchObject({
        code: 'PROVIDER_ERROR',
        retryable: false,
        message: expect.stringMatching(/redirect/),
      });
    }
    // One attempt each (a redirect is final), and nothing at all at the redirect's target.
    expect(redirected).toHaveLength(2);
    expect(elsewhere.received).toHaveLength(0);
  });

  it('names only the origin of the hook URL in its errors, whose path is often the secret', async () => {
    const failing = await receiver([500, 404]);
    const secretUrl = `${new URL(failing.url).origin}/services/T0000/B0000/XXXXsecretXXXX?token=abc`;
    const notify = createWebhookNotifier({ url: secretUrl, secret: SECRET, retries: 0 });
    const errors = [
      await notify(finishedJob()).catch((error: Error) => error),
      await notify(finishedJob()).catch((error: Error) => error),
      await createWebhookNotifier({
        url: 'http://127.0.0.1:9/services/XXXXsecretXXXX',
        secret: SECRET,
        retries: 0,
      })(finishedJob()).catch((error: Error) => error),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain('http://127.0.0.1:');
      expect((error as Error).message).not.toMatch(/secret|services|token/);
    }
    expect(() => createWebhookNotifier({ url: 'ftp://h/XXXXsecretXXXX', secret: SECRET })).toThrow(
      /^(?!.*secret).*http\(s\)/,
    );
  });

  it('gives up after its retries, does not retry a 4xx, and retries a refused connection', async () => {
    const failing = await receiver([500, 500, 500]);
    const notify = createWebhookNotifier({ url: failing.url, secret: SECRET, retries: 2, minDelayMs: 5 });
    await expect(notify(finishedJob())).rejects.toMatchObject({
      code: 'NETWORK',
      message: expect.stringMatching(/answered 500 after 3 attempts/),
    });
    expect(failing.received).toHaveLength(3);

    const refusing = await receiver([400]);
    const notifyBad = createWebhookNotifier({ url: refusing.url, secret: SECRET, minDelayMs: 5 });
    await expect(notifyBad(finishedJob())).rejects.toMatchObject({ code: 'PROVIDER_ERROR' });
    expect(refusing.received).toHaveLength(1);

    // Nothing listens on port 9 of 127.0.0.1: every attempt is a network error.
    const notifyNowhere = createWebhookNotifier({
      url: 'http://127.0.0.1:9/',
      secret: SECRET,
      retries: 1,
      minDelayMs: 5,
    });
    await expect(notifyNowhere(finishedJob())).rejects.toThrow(/failed \(.*\) after 2 attempts/);
  });

  it('times out a receiver that hangs, and skips statuses it was not asked for', async () => {
    const server = createServer(() => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(
      () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const notify = createWebhookNotifier({ url, secret: SECRET, timeoutMs: 100, retries: 0 });
    await expect(notify(finishedJob())).rejects.toThrow(/timed out after 100 ms after 1 attempts/);

    const { url: okUrl, received } = await receiver([]);
    const failuresOnly = createWebhookNotifier({ url: okUrl, secret: SECRET, statuses: ['failed'] });
    await failuresOnly(finishedJob({ status: 'completed', error: null }));
    expect(received).toHaveLength(0);
    expect(() => createWebhookNotifier({ url: 'ftp://x', secret: SECRET })).toThrow(/http\(s\)/);
    expect(() => createWebhookNotifier({ url: okUrl, secret: '' })).toThrow(/secret is required/);
  });
});

describe('createSmtpNotifier', () => {
  it('delivers the summary to an SMTP server, without message content', async () => {
    const mails: Array<{ from: string; to: string[]; data: string }> = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (chunk: Buffer) => {
          data += chunk.toString('utf8');
        });
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
          });
          callback();
        });
      },
    });
    server.listen(0, '127.0.0.1');
    await once(server.server, 'listening');
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const port = (server.server.address() as AddressInfo).port;

    const notify = createSmtpNotifier({
      transport: { host: '127.0.0.1', port, secure: false, ignoreTLS: true },
      from: 'syncjob@example.test',
      to: ['ops@example.test', 'alice@example.test'],
    });
    await notify(finishedJob());

    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.from).toBe('syncjob@example.test');
    expect(mail.to).toEqual(['ops@example.test', 'alice@example.test']);
    const text = mail.data.replace(/=\r\n/g, '');
    expect(text).toMatch(/Subject: \[syncjob\] Sync failed: alice@example.com \(gmail\)/);
    expect(text).toContain('Messages: 38,000 stored of 44,000, 0 skipped, 0 deleted, 0 failed');
    expect(text).toContain('Duration: 15 min');
    expect(text).toMatch(
      /Error: REAUTH_REQUIRED =E2=80=94 Google refused the token|Error: REAUTH_REQUIRED — Google refused the token/,
    );
    expect(text).not.toContain('SECRET CONTENT');
    expect(text).not.toContain('Quarterly');
  });

  it('uses a transporter it is given, mails only the statuses asked for, and checks its options', async () => {
    const sent: Array<{ subject: string; text: string }> = [];
    const notify = createSmtpNotifier({
      transporter: { sendMail: async (mail) => sent.push(mail) },
      from: 'a@example.test',
      to: 'b@example.test',
      statuses: ['failed', 'interrupted'],
      subject: (summary) => `Sync ${summary.status} for ${summary.accountId}`,
    });
    await notify(finishedJob({ status: 'completed', error: null }));
    await notify(finishedJob());
    expect(sent.map((m) => m.subject)).toEqual(['Sync failed for alice@example.com']);
    expect(() => createSmtpNotifier({ from: 'a@x', to: 'b@x' })).toThrow(/needs `transport`/);
    expect(() => createSmtpNotifier({ transport: 'smtp://x', from: '', to: 'b@x' })).toThrow(/from/);
  });
});
