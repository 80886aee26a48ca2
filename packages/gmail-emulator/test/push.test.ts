import { createPublicKey, verify } from 'node:crypto';
import { GaxiosError } from 'gaxios';
import { OAuth2Client } from 'google-auth-library';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createPushSigningKey,
  GmailEmulator,
  GOOGLE_ISSUER,
  type PublicJwk,
  type RunningGmailEmulator,
  startGmailEmulator,
} from '../src/index.js';
import { fakeClock } from './fakeClock.js';
import { gmailClient, tokenFor } from './helpers.js';
import { startPushEndpoint } from './pushEndpoint.js';

const TOPIC = 'projects/syncjob-test/topics/gmail';
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(options: {
  statuses?: number[];
  clock?: ReturnType<typeof fakeClock>;
  push?: Record<string, unknown>;
}) {
  const endpoint = await startPushEndpoint(options.statuses);
  cleanups.push(endpoint.close);
  const running = await startGmailEmulator({
    users: [{ address: 'me@example.com', messages: 20 }],
    ...(options.clock ? { clock: options.clock } : {}),
    push: { endpoint: endpoint.url, ...options.push },
  });
  cleanups.push(running.close);
  const emulator = running.emulator;
  const gmail = gmailClient(running.url, tokenFor(emulator));
  return { endpoint, running, emulator, gmail };
}

async function status(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof GaxiosError) return error.response?.status ?? 0;
    throw error;
  }
}

/** google-auth-library's verifier, fetching the emulator's certificates instead of Google's. */
function verifier(running: RunningGmailEmulator) {
  return new OAuth2Client({
    endpoints: {
      oauth2FederatedSignonPemCertsUrl: `${running.url}/oauth2/v1/certs`,
      oauth2FederatedSignonJwkCertsUrl: `${running.url}/oauth2/v3/certs`,
    },
  });
}

describe('users.watch and users.stop', () => {
  it('answers the current historyId and an expiration seven days ahead, in ms as a string', async () => {
    const clock = fakeClock();
    const { gmail, emulator } = await setup({ clock });
    const { data } = await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    expect(data).toEqual({
      historyId: String(emulator.mailbox('me@example.com').historyId),
      expiration: String(clock.now() + WEEK_MS),
    });
    expect(emulator.stats().byMethod['users.watch']).toMatchObject({ requests: 1, units: 100 });
    expect((await gmail.users.stop({ userId: 'me' })).status).toBe(204);
    expect(emulator.stats().byMethod['users.stop']).toMatchObject({ requests: 1, units: 50 });
  });

  it('refuses a missing or malformed topic, an unknown label and an unknown filter behaviour with 400', async () => {
    const { gmail, emulator } = await setup({});
    const watch = (requestBody: Record<string, unknown>) =>
      status(gmail.users.watch({ userId: 'me', requestBody }));
    expect(await watch({})).toBe(400);
    expect(await watch({ topicName: 'gmail' })).toBe(400);
    expect(await watch({ topicName: 'projects/p/subscriptions/s' })).toBe(400);
    expect(await watch({ topicName: TOPIC, labelIds: ['NO_SUCH_LABEL'] })).toBe(400);
    expect(await watch({ topicName: TOPIC, labelIds: ['INBOX'], labelFilterBehavior: 'only' })).toBe(400);
    expect(emulator.push.watchOf('me@example.com')).toBeUndefined();
  });

  it('refuses watch without credentials, like every Gmail method', async () => {
    const { running } = await setup({});
    const response = await fetch(`${running.url}/gmail/v1/users/me/watch`, {
      method: 'POST',
      body: JSON.stringify({ topicName: TOPIC }),
    });
    expect(response.status).toBe(401);
  });
});

describe('push delivery', () => {
  it('POSTs { emailAddress, historyId } with a Google-verifiable OIDC token on every change', async () => {
    const { gmail, emulator, endpoint, running } = await setup({});
    await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    const added = emulator.addMessage('me@example.com');
    await emulator.pushesSettled();
    expect(endpoint.received).toHaveLength(1);
    const [push] = endpoint.received;
    expect(push!.data).toEqual({ emailAddress: 'me@example.com', historyId: Number(added.historyId) });
    expect(push!.body.subscription).toBe('projects/syncjob-test/subscriptions/gmail-push');
    expect(push!.body.message.messageId).toMatch(/^\d+$/);
    expect(Date.parse(push!.body.message.publishTime)).not.toBeNaN();

    const idToken = push!.authorization!.replace(/^Bearer /, '');
    const client = verifier(running);
    const ticket = await client.verifyIdToken({ idToken, audience: endpoint.url });
    expect(ticket.getPayload()).toMatchObject({
      iss: GOOGLE_ISSUER,
      aud: endpoint.url,
      email: 'gmail-push@emulator.iam.gserviceaccount.com',
      email_verified: true,
    });
    // The JWK form of the certificates verifies the same token.
    const { certs } = await client.getFederatedSignonCertsAsync();
    expect(Object.keys(certs)).toEqual([emulator.push.key.kid]);
    const jwks = (await (await fetch(`${running.url}/oauth2/v3/certs`)).json()) as { keys: PublicJwk[] };
    expect(jwks).toEqual({ keys: [emulator.push.key.publicJwk] });
    const [head, claims, signature] = idToken.split('.');
    const publicKey = createPublicKey({ key: { ...jwks.keys[0]! }, format: 'jwk' });
    const signed = Buffer.from(`${head}.${claims}`);
    expect(verify('sha256', signed, publicKey, Buffer.from(signature!, 'base64url'))).toBe(true);

    emulator.deleteMessage('me@example.com', added.id);
    emulator.modifyLabels('me@example.com', emulator.mailbox('me@example.com').idOf(0), { add: ['STARRED'] });
    await emulator.pushesSettled();
    expect(endpoint.received.map((p) => p.data.historyId)).toEqual([
      Number(added.historyId),
      Number(added.historyId) + 1,
      Number(added.historyId) + 2,
    ]);
    expect(emulator.stats().push).toMatchObject({ published: 3, attempts: 3, acked: 3, pending: 0 });
  });

  it('signs for the configured audience and service account; a token from another key does not verify', async () => {
    const { gmail, emulator, endpoint, running } = await setup({
      push: { audience: 'https://app.example/push', serviceAccountEmail: 'push@app.iam.gserviceaccount.com' },
    });
    await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    emulator.addMessage('me@example.com');
    await emulator.pushesSettled();
    const idToken = endpoint.received[0]!.authorization!.replace(/^Bearer /, '');
    const client = verifier(running);
    const ticket = await client.verifyIdToken({ idToken, audience: 'https://app.example/push' });
    expect(ticket.getPayload()?.email).toBe('push@app.iam.gserviceaccount.com');
    await expect(client.verifyIdToken({ idToken, audience: endpoint.url })).rejects.toThrow(/audience/i);

    const [head, claims] = idToken.split('.');
    const forged = createPushSigningKey().sign(JSON.parse(Buffer.from(claims!, 'base64url').toString()), {
      kid: JSON.parse(Buffer.from(head!, 'base64url').toString()).kid,
    });
    await expect(
      client.verifyIdToken({ idToken: forged, audience: 'https://app.example/push' }),
    ).rejects.toThrow(/signature/i);
  });

  it('follows the label filter: include only notifies changes touching the labels, exclude the others', async () => {
    const { gmail, emulator, endpoint } = await setup({});
    await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC, labelIds: ['INBOX'] } });
    emulator.addMessage('me@example.com', { sent: true });
    const inbox = emulator.addMessage('me@example.com', { labelIds: ['INBOX'] });
    await emulator.pushesSettled();
    expect(endpoint.received.map((p) => p.data.historyId)).toEqual([Number(inbox.historyId)]);

    await gmail.users.watch({
      userId: 'me',
      requestBody: { topicName: TOPIC, labelIds: ['SPAM'], labelFilterBehavior: 'exclude' },
    });
    emulator.addMessage('me@example.com', { labelIds: ['SPAM'] });
    const kept = emulator.addMessage('me@example.com', { labelIds: ['INBOX'] });
    await emulator.pushesSettled();
    expect(endpoint.received.map((p) => p.data.historyId)).toEqual([
      Number(inbox.historyId),
      Number(kept.historyId),
    ]);
  });

  it('stops notifying after users.stop, and once the watch expired', async () => {
    const clock = fakeClock();
    const { gmail, emulator, endpoint } = await setup({ clock });
    await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    await gmail.users.stop({ userId: 'me' });
    emulator.addMessage('me@example.com');
    await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    clock.advance(WEEK_MS - 1);
    const last = emulator.addMessage('me@example.com');
    clock.advance(1);
    emulator.addMessage('me@example.com');
    await emulator.pushesSettled();
    expect(endpoint.received.map((p) => p.data.historyId)).toEqual([Number(last.historyId)]);
    expect(emulator.stats().push.published).toBe(1);
  });

  it('redelivers with doubling back-off until acknowledged, and gives up after maxAttempts', async () => {
    const clock = fakeClock();
    const { gmail, emulator, endpoint } = await setup({
      clock,
      statuses: [500, 429, 503, 500, 204],
      push: { minBackoffMs: 1000, maxAttempts: 2 },
    });
    await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    emulator.addMessage('me@example.com');
    await emulator.pushesSettled();
    // maxAttempts 2: the first message is nacked twice and dropped.
    expect(emulator.stats().push).toMatchObject({ attempts: 2, acked: 0, redelivered: 1, failed: 1 });
    emulator.configurePush({ endpoint: endpoint.url, minBackoffMs: 1000, maxAttempts: 5 });
    const added = emulator.addMessage('me@example.com');
    await emulator.pushesSettled();
    expect(emulator.stats().push).toMatchObject({
      published: 2,
      attempts: 5,
      acked: 1,
      redelivered: 3,
      failed: 1,
      pending: 0,
    });
    expect(clock.sleeps).toEqual([1000, 1000, 2000]);
    expect(endpoint.received.slice(2).map((p) => p.data.historyId)).toEqual([
      Number(added.historyId),
      Number(added.historyId),
      Number(added.historyId),
    ]);
    // A redelivery is the same message: same id, same publish time.
    expect(new Set(endpoint.received.slice(2).map((p) => p.body.message.messageId)).size).toBe(1);
  });

  it('treats a refused connection as a nack', async () => {
    const clock = fakeClock();
    const endpoint = await startPushEndpoint();
    await endpoint.close();
    const emulator = new GmailEmulator({
      users: [{ address: 'me@example.com', messages: 5 }],
      clock,
      push: { endpoint: endpoint.url, maxAttempts: 3 },
    });
    emulator.push.watch('me@example.com', {
      topicName: TOPIC,
      labelIds: [],
      labelBits: 0,
      labelFilterBehavior: 'include',
    });
    emulator.addMessage('me@example.com');
    await emulator.pushesSettled();
    expect(emulator.stats().push).toMatchObject({ attempts: 3, redelivered: 2, failed: 1, acked: 0 });
  });

  it('with earlyByMs, delivers the push before history.list shows the change', async () => {
    const clock = fakeClock();
    const { gmail, emulator, endpoint } = await setup({ clock, push: { earlyByMs: 2000 } });
    const { data: watched } = await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    const added = emulator.addMessage('me@example.com');
    await emulator.pushesSettled();
    expect(endpoint.received[0]!.data.historyId).toBe(Number(added.historyId));
    const early = await gmail.users.history.list({ userId: 'me', startHistoryId: watched.historyId! });
    expect(early.data.history).toBeUndefined();
    expect(early.data.historyId).toBe(watched.historyId);
    clock.advance(2000);
    const later = await gmail.users.history.list({ userId: 'me', startHistoryId: watched.historyId! });
    expect(later.data.history?.[0]?.messagesAdded?.[0]?.message?.id).toBe(added.id);
    expect(later.data.historyId).toBe(added.historyId);
  });

  it('waits delayMs before the first delivery', async () => {
    const clock = fakeClock();
    const { gmail, emulator, endpoint } = await setup({ clock, push: { delayMs: 1500 } });
    await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    emulator.addMessage('me@example.com');
    await emulator.pushesSettled();
    expect(clock.sleeps).toEqual([1500]);
    expect(endpoint.received).toHaveLength(1);
  });

  it('counts notifications without sending any when no endpoint is configured, and can be pointed at one later', async () => {
    const endpoint = await startPushEndpoint();
    cleanups.push(endpoint.close);
    const running = await startGmailEmulator({ users: [{ address: 'me@example.com', messages: 5 }] });
    cleanups.push(running.close);
    const gmail = gmailClient(running.url, tokenFor(running.emulator));
    await gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } });
    running.emulator.addMessage('me@example.com');
    const configured = await fetch(`${running.url}/_emulator/push`, {
      method: 'POST',
      body: JSON.stringify({ endpoint: endpoint.url }),
    });
    expect(configured.status).toBe(200);
    await fetch(`${running.url}/_emulator/users/me@example.com/messages`, { method: 'POST', body: '{}' });
    await running.emulator.pushesSettled();
    const state = (await (await fetch(`${running.url}/_emulator/push`)).json()) as {
      stats: { published: number; acked: number };
    };
    expect(state.stats).toMatchObject({ published: 2, acked: 1 });
    expect(endpoint.received).toHaveLength(1);
    const refused = await fetch(`${running.url}/_emulator/push`, {
      method: 'POST',
      body: JSON.stringify({ endpoint: 'not a url' }),
    });
    expect(refused.status).toBe(400);
  });
});
