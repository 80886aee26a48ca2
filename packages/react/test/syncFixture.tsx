import { createMemoryStore, createSyncEngine, type SyncEngine } from '@syncjob/core';
import { createSyncClient, engineTransport, type SyncClient, type SyncTransport } from '@syncjob/core/client';
import { createTestSource, type TestSource } from '@syncjob/core/testing';
import type { ReactNode } from 'react';
import { SyncProvider } from '../src/SyncProvider';

export const ACCOUNT = { source: 'test', accountId: 'alice@example.com' } as const;

export interface SyncFixture {
  engine: SyncEngine;
  source: TestSource;
  client: SyncClient;
  wrapper(props: { children?: ReactNode }): ReactNode;
  stop(): Promise<void>;
}

/** A real engine on the memory store running the deterministic test source, seen through `engineTransport`. */
export function createSyncFixture(
  options: { messages?: number; delayMs?: number; transport?: (engine: SyncEngine) => SyncTransport } = {},
): SyncFixture {
  const source = createTestSource({
    id: 'test',
    messages: options.messages ?? 40,
    pageSize: 20,
    batchSize: 10,
  });
  source.control.setDelay(options.delayMs ?? 0);
  const engine = createSyncEngine({
    store: createMemoryStore(),
    sources: [source],
    pollIntervalMs: 20,
    progress: { emitIntervalMs: 10, writeIntervalMs: 10 },
    retry: { retries: 0 },
  });
  const transport = options.transport?.(engine) ?? engineTransport(engine, { pollIntervalMs: 20 });
  const client = createSyncClient({ transport });
  return {
    engine,
    source,
    client,
    wrapper: ({ children }) => <SyncProvider client={client}>{children}</SyncProvider>,
    stop: () => engine.stop({ timeoutMs: 1_000 }),
  };
}

/** Runs one sync of the account to its end, straight on the engine (another tab or device did it). */
export async function syncToEnd(fixture: SyncFixture): Promise<void> {
  const { job } = await fixture.engine.start(ACCOUNT);
  for (let i = 0; i < 500; i++) {
    const current = await fixture.engine.getJob(job.id);
    if (current && !['queued', 'running'].includes(current.status)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('The sync did not end.');
}
