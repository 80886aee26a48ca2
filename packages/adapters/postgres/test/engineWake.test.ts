import { createSyncEngine, type SyncEngine } from '@syncjob/core';
import { createTestSource } from '@syncjob/core/testing';
import { afterAll, expect, it } from 'vitest';
import { createPostgresStore, type PostgresStore } from '../src/index';
import { describePostgres, dropSchemas, freshSchema, postgresUrl } from './testDatabase';

const url = postgresUrl ?? '';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describePostgres('engine wake-up on PostgreSQL notices', () => {
  const schemas = new Set<string>();
  const stores: PostgresStore[] = [];
  const engines: SyncEngine[] = [];
  afterAll(async () => {
    await Promise.all(engines.map((engine) => engine.stop({ timeoutMs: 2_000 })));
    await Promise.all(stores.map((store) => store.close()));
    await dropSchemas(url, schemas);
  });

  it("a worker on one store instance claims another instance's new job at once, not at its 60 s poll", async () => {
    const schema = freshSchema('wake');
    schemas.add(schema);
    // Two instances, two pools, two LISTEN connections: what two processes have.
    const workerStore = await createPostgresStore({ connectionString: url, schema, maxConnections: 3 });
    const controlStore = await createPostgresStore({ connectionString: url, schema, maxConnections: 3 });
    stores.push(workerStore, controlStore);
    const source = createTestSource({ messages: 20 });
    const worker = createSyncEngine({ store: workerStore, sources: [source], pollIntervalMs: 60_000 });
    const control = createSyncEngine({ store: controlStore, sources: [source], worker: false });
    engines.push(worker, control);
    // The worker subscribed when it started; wait for its LISTEN and its first (empty) poll.
    const deadline = Date.now() + 5_000;
    while (!workerStore.isListening && Date.now() < deadline) await sleep(20);
    expect(workerStore.isListening).toBe(true);
    await sleep(100);

    const account = { source: 'test', accountId: 'wake@example.test' };
    const startedAt = Date.now();
    const { job } = await control.start(account);
    let seen = await controlStore.getJob(job.id);
    while (seen?.status !== 'completed' && Date.now() - startedAt < 8_000) {
      await sleep(25);
      seen = await controlStore.getJob(job.id);
    }
    expect(seen).toMatchObject({ status: 'completed', attempt: 1 });
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(await workerStore.data.countMessages(account)).toBe(20);
  }, 30_000);
});
