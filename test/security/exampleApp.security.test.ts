import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSseParser, SseLineTooLongError } from '@syncjob/core/client';
import {
  SIGNATURE_HEADER,
  signWebhookBody,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from '@syncjob/core/notifications';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret } from '../../examples/gmail-sync-app/server/tokenVault.ts';
import { type AppProcess, freePort, openPage, runApp } from '../../examples/gmail-sync-app/test/runApp.ts';

/**
 * The adversarial suite: each attack of issue 16 played against the RUNNING example app (the real
 * `node server/main.ts` on the built packages, with the Gmail emulator), and each must fail. The
 * figures (memory with idle streams, parser time) are printed, not asserted tightly: see the report.
 */

const ACCOUNT = 'me@example.com';
const EVIL = 'http://evil.localhost:1234';
const figures: Record<string, string> = {};

/** Resident memory of a process, from /proc (Linux), in MiB. */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

describe('attacks on the running example app', () => {
  let app: AppProcess;
  let baseUrl: string;
  let port: number;
  let cookie: string;
  let dataDir: string;
  let jobId: string;
  const open: ClientRequest[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncjob-security-'));
    port = await freePort();
    // A slow sync (low quota, slow emulator) that is still running while the streams are tested.
    app = await runApp({
      PORT: String(port),
      SYNCJOB_DATA_DIR: dataDir,
      SYNCJOB_DEMO_MESSAGES: '20000',
      SYNCJOB_DEMO_QUOTA: '2026',
      SYNCJOB_DEMO_SPEED: '1',
      SYNCJOB_SCHEDULE_EVERY: 'off',
      SESSION_SECRET: 'security-suite-session-secret-of-32-chars',
    });
    baseUrl = `http://127.0.0.1:${port}`;
    cookie = await openPage(baseUrl);
  }, 120_000);

  afterAll(async () => {
    for (const request of open) request.destroy();
    await app?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    console.log(
      `\nsecurity suite figures:\n${Object.entries(figures)
        .map(([name, value]) => `  ${name.padEnd(48)} ${value}`)
        .join('\n')}\n`,
    );
  });

  const activeJob = async () =>
    (
      (await (
        await fetch(`${baseUrl}/api/sync/jobs/active?source=gmail&accountId=${ACCOUNT}`, {
          headers: { cookie },
        })
      ).json()) as { job: { id: string } | null }
    ).job;

  const startBody = JSON.stringify({ source: 'gmail', accountId: ACCOUNT });

  it('a cross-site <form> POST (urlencoded, Sec-Fetch-Site: cross-site, with the cookie) starts nothing', async () => {
    const form = await fetch(`${baseUrl}/api/sync/jobs`, {
      method: 'POST',
      headers: {
        cookie,
        origin: EVIL,
        'sec-fetch-site': 'cross-site',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ source: 'gmail', accountId: ACCOUNT }),
    });
    expect(form.status).toBe(403);
    // Even a form that hides where it comes from (no Origin, no Sec-Fetch-Site) is not JSON.
    const bare = await fetch(`${baseUrl}/api/sync/jobs`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ source: 'gmail', accountId: ACCOUNT }),
    });
    expect(bare.status).toBe(415);
    expect(await activeJob()).toBeNull();
  });

  it('a cross-origin fetch with cookies (Origin: http://evil.localhost:1234) starts nothing', async () => {
    const response = await fetch(`${baseUrl}/api/sync/jobs`, {
      method: 'POST',
      headers: { cookie, origin: EVIL, 'content-type': 'application/json' },
      body: startBody,
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('CROSS_SITE_REQUEST');
    expect(await activeJob()).toBeNull();
  });

  it('a same-site page on another port (SameSite=Lax sends the cookie) starts nothing', async () => {
    for (const headers of [
      { origin: `http://127.0.0.1:${port + 1}`, 'sec-fetch-site': 'same-site' },
      { origin: `http://127.0.0.1:${port + 1}` },
    ]) {
      const response = await fetch(`${baseUrl}/api/sync/jobs`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: startBody,
      });
      expect(response.status).toBe(403);
    }
    expect(await activeJob()).toBeNull();
  });

  it('the app’s own page still starts a sync (same origin)', async () => {
    const response = await fetch(`${baseUrl}/api/sync/jobs`, {
      method: 'POST',
      headers: {
        cookie,
        origin: baseUrl,
        'sec-fetch-site': 'same-origin',
        'content-type': 'application/json',
      },
      body: startBody,
    });
    expect(response.status).toBe(202);
    jobId = ((await response.json()) as { job: { id: string } }).job.id;
  });

  /** Opens an SSE request with the raw Node client and never reads its body. */
  const openIdleStream = () =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const request = httpRequest(`${baseUrl}/api/sync/jobs/${jobId}/events`, {
        headers: { cookie, accept: 'text/event-stream' },
        agent: false,
      });
      request.on('response', (response) => {
        response.pause();
        resolve(response);
      });
      request.on('error', reject);
      request.end();
      open.push(request);
    });

  it('200 idle SSE connections from one user: only the cap is served, the rest get 429; memory stays flat', async () => {
    const before = rssMiB(app.child.pid!);
    const responses = await Promise.all(Array.from({ length: 200 }, openIdleStream));
    const statuses = responses.map((response) => response.statusCode);
    const served = statuses.filter((status) => status === 200).length;
    const refused = responses.filter((response) => response.statusCode === 429);
    expect(served).toBe(8);
    expect(refused).toHaveLength(192);
    expect(refused[0]?.headers['retry-after']).toBe('10');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const withStreams = rssMiB(app.child.pid!);
    figures['RSS before / with 8 idle streams (+192 refused)'] =
      `${before.toFixed(1)} MiB / ${withStreams.toFixed(1)} MiB (Δ ${(withStreams - before).toFixed(1)} MiB)`;
    expect(withStreams - before).toBeLessThan(64);
    for (const request of open.splice(0)) request.destroy();
    // Closed streams free their slots.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await openIdleStream();
    expect(again.statusCode).toBe(200);
    for (const request of open.splice(0)) request.destroy();
  });

  it('a slow reader (never reads) holds bounded memory while the job writes to it', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = rssMiB(app.child.pid!);
    const readers = await Promise.all(Array.from({ length: 8 }, openIdleStream));
    expect(readers.every((response) => response.statusCode === 200)).toBe(true);
    // Let the running job write progress and log frames that nobody reads.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const after = rssMiB(app.child.pid!);
    figures['RSS with 8 never-reading streams, 5 s of a running job'] =
      `${before.toFixed(1)} → ${after.toFixed(1)} MiB (Δ ${(after - before).toFixed(1)} MiB)`;
    // Each stream may hold at most 1 MiB unread before the server drops it.
    expect(after - before).toBeLessThan(8 + 32);
    for (const request of open.splice(0)) request.destroy();
  });

  it('a start/cancel loop is rate-limited (429 RATE_LIMITED with Retry-After)', async () => {
    const json = { cookie, 'content-type': 'application/json' };
    let refusal: Response | undefined;
    let actions = 0;
    for (let i = 0; i < 30 && !refusal; i++) {
      const active = await activeJob();
      const response = active
        ? await fetch(`${baseUrl}/api/sync/jobs/${active.id}/cancel`, { method: 'POST', headers: { cookie } })
        : await fetch(`${baseUrl}/api/sync/jobs`, { method: 'POST', headers: json, body: startBody });
      if (response.status === 429) refusal = response;
      else {
        expect([202, 409]).toContain(response.status);
        actions += 1;
      }
    }
    expect(refusal).toBeDefined();
    expect(Number(refusal!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refusal!.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    figures['start/cancel actions before 429'] = String(actions + 1); // + the first start above
    expect(actions).toBeLessThanOrEqual(10);
  });
});

describe('attacks on the browser kit and the notifications', () => {
  it('a 4 MB SSE line is rejected by the browser parser, quickly', () => {
    const parser = createSseParser(() => {});
    const chunk = 'x'.repeat(64 * 1024);
    const started = performance.now();
    let error: unknown;
    try {
      parser('data: ');
      for (let sent = 0; sent < 4 * 1024 * 1024; sent += chunk.length) parser(chunk);
      parser('\n\n');
    } catch (cause) {
      error = cause;
    }
    const ms = performance.now() - started;
    figures['browser parser, 4 MB line'] = `rejected after ${ms.toFixed(1)} ms`;
    console.log(`browser parser: a 4 MB line rejected after ${ms.toFixed(1)} ms`);
    expect(error).toBeInstanceOf(SseLineTooLongError);
    expect(ms).toBeLessThan(1000);
  });

  it('a forged or replayed webhook fails verification', () => {
    const secret = 'webhook-secret';
    const body = JSON.stringify({ jobId: 'j1', status: 'completed' });
    const now = Math.floor(Date.now() / 1000);
    const signed = (timestamp: number, payload = body) => ({
      [SIGNATURE_HEADER]: signWebhookBody(payload, secret, timestamp),
      [TIMESTAMP_HEADER]: String(timestamp),
    });
    expect(verifyWebhookSignature(body, signed(now), secret)).toBe(true);
    // Forged: another body under a captured signature, or signed with a guessed secret.
    expect(verifyWebhookSignature(body.replace('completed', 'failed'), signed(now), secret)).toBe(false);
    expect(
      verifyWebhookSignature(
        body,
        { ...signed(now), [SIGNATURE_HEADER]: signWebhookBody(body, 'guess', now) },
        secret,
      ),
    ).toBe(false);
    // Replayed: a delivery captured 10 minutes ago, and one with its timestamp swapped for a fresh one.
    expect(verifyWebhookSignature(body, signed(now - 600), secret)).toBe(false);
    expect(
      verifyWebhookSignature(body, { ...signed(now - 600), [TIMESTAMP_HEADER]: String(now) }, secret),
    ).toBe(false);
  });

  it('a token sealed by the vault with a truncated GCM tag does not decrypt', () => {
    const key = Buffer.alloc(32, 7);
    const sealed = encryptSecret(key, 'refresh-token', 'me@example.com');
    expect(decryptSecret(key, sealed, 'me@example.com')).toBe('refresh-token');
    const [version, iv, tag, ciphertext] = sealed.split('.') as [string, string, string, string];
    const short = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => decryptSecret(key, [version, iv, short, ciphertext].join('.'), 'me@example.com')).toThrow();
  });
});
