import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PythonBackend,
  pythonAvailable,
  startPythonBackend,
} from '../../../../examples/python-backend/startPythonBackend';

const CHROMIUM = process.env.SYNCJOB_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.SYNCJOB_REQUIRE_BROWSER === '1';
const from = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const browser = existsSync(CHROMIUM);
const python = pythonAvailable();
if (!browser || !python) {
  const why = !browser ? `no Chromium at ${CHROMIUM}` : 'no python3 on PATH';
  if ((REQUIRED && !browser) || (process.env.SYNCJOB_REQUIRE_PYTHON === '1' && !python)) {
    throw new Error(`The React kit against the Python backend: ${why}.`);
  }
  console.warn(`The React kit against the Python reference backend SKIPPED: ${why}.`);
}

/** The test page and the kit's stylesheet on one origin, /api/sync proxied to the Python server (streams too). */
async function startPageServer(backend: PythonBackend): Promise<{ url: string; server: Server }> {
  const bundle = await build({
    entryPoints: [from('./pythonPage.tsx')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    alias: { '@syncjob/core/client': from('../../../core/src/client/index.ts') },
    logLevel: 'error',
  });
  const script = bundle.outputFiles[0]!.text;
  const styles = await readFile(from('../../src/styles.css'), 'utf8');
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>syncjob on Python</title>' +
    '<link rel="stylesheet" href="/styles.css"></head><body><div id="root"></div>' +
    '<script type="module" src="/page.js"></script></body></html>';
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    if (path.startsWith('/api/')) {
      const upstream = httpRequest(
        { host: '127.0.0.1', port: backend.port, path, method: request.method, headers: request.headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on('error', () => response.destroy());
      response.on('close', () => upstream.destroy());
      request.pipe(upstream);
      return;
    }
    const file =
      path === '/page.js'
        ? { type: 'text/javascript', body: script }
        : path === '/styles.css'
          ? { type: 'text/css', body: styles }
          : { type: 'text/html', body: html };
    response.writeHead(200, { 'content-type': `${file.type}; charset=utf-8` }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

describe.skipIf(!browser || !python)(
  'the React kit (sseTransport) against the Python reference backend',
  () => {
    let backend: PythonBackend;
    let pageServer: Server;
    let url: string;
    let context: BrowserContext;
    let page: Page;
    let profile: string;

    beforeAll(async () => {
      // 3 listing pages + 15 batches of 0.5 s: about 9 s, time to reload in the middle.
      backend = await startPythonBackend(['--step', '0.5', '--keepalive', '1', '--messages', '300']);
      ({ url, server: pageServer } = await startPageServer(backend));
      profile = await mkdtemp(join(tmpdir(), 'syncjob-chromium-python-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
        ],
      });
      page = context.pages()[0] ?? (await context.newPage());
      await page.goto(url);
    });

    afterAll(async () => {
      await context?.close();
      pageServer?.closeAllConnections();
      await new Promise<void>((resolve) => (pageServer ? pageServer.close(() => resolve()) : resolve()));
      await backend?.stop();
      if (profile) await rm(profile, { recursive: true, force: true });
    });

    const state = async () => {
      const element = page.getByTestId('job-state');
      return {
        id: (await element.getAttribute('data-job-id')) ?? '',
        status: (await element.getAttribute('data-status')) ?? '',
        percent: Number((await element.getAttribute('data-percent')) || 0),
        logs: Number((await element.getAttribute('data-logs')) || 0),
      };
    };

    it('starts, shows progress, reattaches after a reload, and completes', async () => {
      await expect.poll(() => page.locator('.sj-sync-button').textContent()).toBe('Sync now');
      await page.locator('.sj-sync-button').click();
      await expect.poll(async () => (await state()).status, { timeout: 10_000 }).toBe('running');
      const { id } = await state();
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      // Progress arrives over SSE: percent moves, and the modal's bar shows it.
      await expect.poll(async () => (await state()).percent, { timeout: 10_000 }).toBeGreaterThan(0);
      const bar = page.getByRole('dialog').getByRole('progressbar');
      expect(await bar.getAttribute('aria-valuetext')).toMatch(/of 300 messages/);
      const before = await state();

      // Reload mid-sync: the page asks jobs/active and re-attaches to the same running job.
      await page.reload();
      await expect.poll(async () => (await state()).id, { timeout: 10_000 }).toBe(id);
      const after = await state();
      expect(after.status).toBe('running');
      expect(after.percent).toBeGreaterThanOrEqual(before.percent);
      await expect.poll(() => page.locator('.sj-sync-button').textContent()).toBe('Show sync progress');

      // It runs to its end with every log line, once.
      await expect.poll(async () => (await state()).status, { timeout: 20_000 }).toBe('completed');
      const done = await state();
      expect(done.id).toBe(id);
      expect(done.percent).toBe(100);
      const logs = (await (await fetch(`${backend.origin}/api/sync/jobs/${id}/logs`)).json()) as {
        logs: unknown[];
      };
      expect(done.logs).toBe(logs.logs.length);
      await expect.poll(() => page.locator('.sj-sync-button').textContent()).toBe('Sync now');
    });
  },
);
