// The worker process of bench/sseLatency.mjs: an engine with DEFAULT settings on the given store,
// running the bench's sources. Prints `ready`, runs until stdin closes.
// `node bench/sseWorker.mjs sqlite <file> | postgres <url>, then <events> <gapMs>`
import { createSyncEngine } from '@syncjob/core';
import { createPostgresStore } from '@syncjob/postgres';
import { createSqliteStore } from '@syncjob/sqlite';
import { benchSourcesFor } from './sseSources.mjs';

const [kind, target, events, gapMs] = process.argv.slice(2);
const store =
  kind === 'postgres'
    ? await createPostgresStore({ connectionString: target })
    : createSqliteStore({ path: target });
const engine = createSyncEngine({
  store,
  sources: benchSourcesFor({ events: Number(events), gapMs: Number(gapMs) }),
});
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await engine.stop({ timeoutMs: 1000 });
  await store.close();
  process.exit(0);
});
