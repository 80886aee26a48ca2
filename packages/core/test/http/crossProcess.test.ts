import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createSyncClient } from '../../src/client/syncClient';
import { sseTransport } from '../../src/client/transports/sseTransport';
import type { Job } from '../../src/job/job';

/**
 * The worker runs in one process, the HTTP server in another, both on one SQLite file; this test
 * process is the browser. SQLite has no cross-process notices, so the server's SSE stream polls the
 * store. The fixtures import the BUILT packages (`npm test` builds first).
 */

const children: ChildProcess[] = [];
const directory = mkdtempSync(join(tmpdir(), 'syncjob-http-'));

function spawnFixture(name: string, args: string[]): Promise<{ port?: number }> {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${stderr}`)));
  });
}

describe('cross-process SSE', () => {
  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve(undefined);
            child.once('exit', resolve);
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
    rmSync(directory, { recursive: true, force: true });
  });

  it('a client of the web process sees the progress and completion of a job run by a worker process', async () => {
    const path = join(directory, 'sync.db');
    const [server] = await Promise.all([
      spawnFixture('syncServer.mjs', [path]),
      spawnFixture('syncWorker.mjs', [path]),
    ]);
    const client = createSyncClient({
      transport: sseTransport({
        baseUrl: `http://127.0.0.1:${server.port}/api/sync`,
        headers: { authorization: 'alice' },
      }),
    });
    const watcher = client.watchAccount({ source: 'test', accountId: 'alice-1' });
    const seen: Job[] = [];
    const leave = watcher.subscribe((snapshot) => {
      if (snapshot.job && seen.at(-1) !== snapshot.job) seen.push(snapshot.job);
    });
    const started = await watcher.start();
    expect(started?.started).toBe(true);
    const start = Date.now();
    while (!watcher.getSnapshot().view?.isFinished) {
      if (Date.now() - start > 30_000)
        throw new Error(`No completion: ${JSON.stringify(watcher.getSnapshot().job)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    leave();
    const final = watcher.getSnapshot();
    expect(final.job?.status).toBe('completed');
    expect(final.job?.counters.stored).toBe(120);
    const stored = seen.map((job) => job.counters.stored);
    expect(stored.some((count) => count > 0 && count < 120)).toBe(true);
    expect(seen.some((job) => job.status === 'running')).toBe(true);
    const seqs = final.logs.map((entry) => entry.seq);
    expect(seqs).toEqual(Array.from({ length: final.job!.lastLogSeq }, (_, i) => i + 1));
  });
});
