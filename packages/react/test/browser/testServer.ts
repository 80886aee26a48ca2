import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMemoryStore, createSyncEngine, type SyncEngine } from '@syncjob/core';
import { createSyncHandler, toNodeHandler } from '@syncjob/core/http';
import { createTestSource, type TestSource } from '@syncjob/core/testing';
import { build } from 'esbuild';

const from = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export interface TestApp {
  url: string;
  engine: SyncEngine;
  source: TestSource;
  close(): Promise<void>;
}

/** Bundles the test page with esbuild (the kit and the core client from source). */
async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [from('./page.tsx')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    alias: {
      '@syncjob/core/client': from('../../../core/src/client/index.ts'),
      // `npm run test:react18`: React from that folder (esbuild applies an alias to subpaths too).
      ...(process.env.SYNCJOB_REACT_MODULES
        ? {
            react: `${process.env.SYNCJOB_REACT_MODULES}/react`,
            'react-dom': `${process.env.SYNCJOB_REACT_MODULES}/react-dom`,
          }
        : {}),
    },
    logLevel: 'error',
  });
  const text = result.outputFiles[0]!.text;
  const major = process.env.SYNCJOB_REACT_MAJOR;
  // React's production build embeds its version string: make sure the aliased React was bundled.
  if (major && !new RegExp(`"${major}\\.\\d+\\.\\d+"`).test(text))
    throw new Error(`expected React ${major} in the test page bundle`);
  return text;
}

/** The page, its stylesheet and the real HTTP API (handler + engine + memory store + test source) on 127.0.0.1. */
export async function startTestApp(): Promise<TestApp> {
  const [script, styles] = await Promise.all([bundlePage(), readFile(from('../../src/styles.css'), 'utf8')]);
  const source = createTestSource({ id: 'test', messages: 400, pageSize: 20, batchSize: 10 });
  const engine = createSyncEngine({
    store: createMemoryStore(),
    sources: [source],
    pollIntervalMs: 50,
    progress: { emitIntervalMs: 20, writeIntervalMs: 20 },
    retry: { retries: 0 },
  });
  const api = toNodeHandler(
    createSyncHandler(engine, {
      basePath: '/api/sync',
      authenticate: () => 'tester',
      authorizeAccount: () => true,
      pollIntervalMs: 50,
    }),
  );
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>syncjob test page</title>' +
    '<link rel="stylesheet" href="/styles.css"></head><body><div id="root"></div>' +
    '<script type="module" src="/page.js"></script></body></html>';
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    if (path.startsWith('/api/sync')) return void api(request, response);
    const file =
      path === '/page.js'
        ? { type: 'text/javascript', body: script }
        : path === '/styles.css'
          ? { type: 'text/css', body: styles }
          : { type: 'text/html', body: html };
    response.writeHead(200, { 'content-type': `${file.type}; charset=utf-8` }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    engine,
    source,
    async close() {
      source.control.release();
      await engine.stop({ timeoutMs: 1_000 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
