import type { BatchCommit, Job, MailMessage, SyncEngine, SyncEngineOptions, SyncStore } from '@syncjob/core';
import { createMemoryStore, createSyncEngine } from '@syncjob/core';
import {
  DEFAULT_OAUTH_CLIENT,
  defaultRefreshToken,
  type RunningGmailEmulator,
  type StartGmailEmulatorOptions,
  startGmailEmulator,
} from '@syncjob/gmail-emulator';
import { afterAll, beforeAll } from 'vitest';
import { type GmailSourceOptions, gmailSource } from '../src/index';

export const ADDRESS = 'me@example.com';
export const STORED_HEADERS = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID'];

export async function startEmulator(options: StartGmailEmulatorOptions = {}): Promise<RunningGmailEmulator> {
  return startGmailEmulator({ quota: 'legacy', speed: 100, ...options });
}

/**
 * The emulator of one test file: started in `beforeAll` with `options`, closed in `afterAll`. The
 * handle can be kept from the start and reads the started emulator, so tests use it as the real one.
 */
export function emulatorForFile(options: StartGmailEmulatorOptions): RunningGmailEmulator {
  let started: RunningGmailEmulator | undefined;
  beforeAll(async () => {
    started = await startEmulator(options);
  });
  afterAll(() => started?.close());
  const current = () => {
    if (!started) throw new Error('The emulator starts in beforeAll: use it inside a test or a hook.');
    return started;
  };
  return {
    get url() {
      return current().url;
    },
    get port() {
      return current().port;
    },
    get emulator() {
      return current().emulator;
    },
    close: () => current().close(),
  };
}

/** A Gmail source pointed at the emulator, with the emulator's OAuth client and the user's refresh token. */
export function emulatorSource(running: RunningGmailEmulator, options: Partial<GmailSourceOptions> = {}) {
  return gmailSource({
    auth: (accountId) => ({
      clientId: DEFAULT_OAUTH_CLIENT.clientId,
      clientSecret: DEFAULT_OAUTH_CLIENT.clientSecret,
      refreshToken: defaultRefreshToken(accountId),
      tokenUrl: `${running.url}/token`,
    }),
    rootUrl: running.url,
    quotaSpeed: running.emulator.quota.speed,
    quota: running.emulator.quota.profile.name === '2026' ? '2026' : 'legacy',
    ...options,
  });
}

/** Engine options that keep tests fast: short polls and back-offs. */
export const FAST_ENGINE: Partial<SyncEngineOptions> = {
  pollIntervalMs: 20,
  retry: { retries: 8, minDelayMs: 10, maxDelayMs: 300 },
};

export function createEngine(
  store: SyncStore,
  source: ReturnType<typeof gmailSource>,
  extra: Partial<SyncEngineOptions> = {},
) {
  return createSyncEngine({ store, sources: [source], ...FAST_ENGINE, ...extra });
}

export { createMemoryStore };

/** Resolves with the job once it reaches a terminal status. */
export function waitForEnd(engine: SyncEngine, jobId: string, timeoutMs = 25_000): Promise<Job> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`job ${jobId} did not end within ${timeoutMs} ms`));
    }, timeoutMs);
    const poll = setInterval(async () => {
      const job = await engine.store.getJob(jobId);
      if (job && ['completed', 'failed', 'cancelled', 'interrupted'].includes(job.status)) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(job);
      }
    }, 20);
  });
}

/** Starts a sync and waits for its end. */
export async function syncOnce(
  engine: SyncEngine,
  accountId = ADDRESS,
  mode?: 'full' | 'incremental' | 'auto',
) {
  const started = await engine.start({ source: 'gmail', accountId, ...(mode ? { mode } : {}) });
  return waitForEnd(engine, started.job.id);
}

export interface ExpectedMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  headers: Record<string, string>;
}

/** The mailbox as the emulator holds it, in the shape the store should hold (id order). */
export function mailboxState(running: RunningGmailEmulator, address = ADDRESS): ExpectedMessage[] {
  const mailbox = running.emulator.mailbox(address);
  const wanted = new Set(STORED_HEADERS.map((name) => name.toLowerCase()));
  const out: ExpectedMessage[] = [];
  for (let index = 0; index < mailbox.size; index++) {
    if (!mailbox.isLive(index)) continue;
    const headers: Record<string, string> = {};
    for (const header of mailbox.content(index).headers) {
      const name = STORED_HEADERS.find((n) => n.toLowerCase() === header.name.toLowerCase());
      if (name && wanted.has(header.name.toLowerCase()) && !(name in headers)) headers[name] = header.value;
    }
    out.push({
      id: mailbox.idOf(index),
      threadId: mailbox.threadIdOf(index),
      labelIds: mailbox.labels.idsOf(mailbox.labelsOf(index)).sort(),
      headers,
    });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** What the store holds for the account, in the same shape. */
export async function storedState(store: SyncStore, accountId = ADDRESS): Promise<ExpectedMessage[]> {
  const rows: MailMessage[] = [];
  let afterId: string | undefined;
  while (true) {
    const page = await store.data.listMessages(
      { source: 'gmail', accountId },
      { limit: 10_000, ...(afterId ? { afterId } : {}) },
    );
    rows.push(...page);
    if (page.length < 10_000) break;
    afterId = page[page.length - 1]!.id;
  }
  return rows.map((row) => ({
    id: row.id,
    threadId: row.threadId ?? '',
    labelIds: [...row.labelIds].sort(),
    headers: row.headers,
  }));
}

/**
 * The store as a worker process sees it, until the process freezes: from then on every call hangs
 * (no heartbeat, no commit, no claim), like a process that was SIGKILLed mid-commit. `thaw` ends
 * the hung calls so the test can clean up.
 */
export function freezableStore(store: SyncStore, freezeWhen: (commit: BatchCommit) => boolean) {
  let frozen = false;
  const hung: Array<(reason: unknown) => void> = [];
  const hang = () =>
    new Promise<never>((_resolve, reject) => {
      hung.push(reject);
    });
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (frozen) return hang();
        if (property === 'commitBatch' && freezeWhen(args[1] as BatchCommit)) {
          frozen = true;
          return hang();
        }
        return value.apply(target, args);
      };
    },
  });
  return {
    store: proxy,
    get frozen() {
      return frozen;
    },
    thaw() {
      for (const reject of hung.splice(0)) reject(new Error('worker process is gone'));
    },
  };
}
