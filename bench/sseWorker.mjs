// The worker process of bench/sseLatency.mjs: an engine with DEFAULT settings on the given store,
// running the bench's sources. Prints `ready`, runs until stdin closes.
// `node bench/sseWorker.mjs sqlite <file> | postgres <url>`
import { createSyncEngine } from '@syncjob/core';
import { createPostgresStore } from '@syncjob/postgres';
import { createSqliteStore } from '@syncjob/sqlite';
import { benchSources } from './sseSources.mjs';

const [kind, target] = process.argv.slice(2);
const store =
  kind === 'postgres'
    ? await createPostgresStore({ connectionString: target })
    : createSqliteStore({ path: target });
const engine = createSyncEngine({ store, sources: benchSources });
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await engine.stop({ timeoutMs: 1000 });
  await store.close();
  process.exit(0);
});
