import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppProcess, exampleDir, freePort, runApp } from './runApp.ts';

const executablePath = process.env.SYNCJOB_CHROMIUM ?? '/usr/bin/chromium';
const hasBrowser = existsSync(executablePath);
if (!hasBrowser) {
  if (process.env.SYNCJOB_REQUIRE_BROWSER === '1') {
    throw new Error(
      `SYNCJOB_REQUIRE_BROWSER=1 but there is no Chromium at ${executablePath} (apt-get install chromium).`,
    );
  }
  console.warn(`
┌──────────────────────────────────────────────────────────────────────────┐
│  Example browser tests SKIPPED: no Chromium at ${executablePath.padEnd(26)}│
│  apt-get install chromium (or set SYNCJOB_CHROMIUM) to run them;         │
│  SYNCJOB_REQUIRE_BROWSER=1 turns this skip into a failure.               │
└──────────────────────────────────────────────────────────────────────────┘`);
}

const artifacts = join(exampleDir, '..', '..', '.artifacts', 'e2e');
const ACCOUNT = 'me@example.com';
const MESSAGES = 4_000;

const countOf = (text: string | null) => Number((text ?? '').replace(/[^\d]/g, '') || 0);

interface ServerJob {
  id: string;
  status: string;
  counters: { stored: number; fetched: number };
}

describe.skipIf(!hasBrowser)('the example app in Chromium', () => {
  let app: AppProcess;
  let baseUrl: string;
  let context: BrowserContext;
  let dataDir: string;
  let profileDir: string;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(exampleDir, 'dist', 'web', 'index.html'))) {
      const build = spawnSync('npx', ['vite', 'build'], { cwd: exampleDir, stdio: 'inherit' });
      if (build.status !== 0) throw new Error('vite build of the example page failed');
    }
    mkdirSync(artifacts, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'syncjob-e2e-data-'));
    profileDir = mkdtempSync(join(tmpdir(), 'syncjob-e2e-chromium-'));
    const port = await freePort();
    // About 20 s of sync: long enough to reload, close, open a second tab and cancel mid-way. The
    // 2026 profile's dear fetches keep the quota (not the CPU) the bottleneck, so the duration
    // holds on a slow machine too.
    app = await runApp({
      PORT: String(port),
      SYNCJOB_DATA_DIR: dataDir,
      SYNCJOB_DEMO_MESSAGES: String(MESSAGES),
      SYNCJOB_DEMO_QUOTA: '2026',
      SYNCJOB_DEMO_SPEED: '20',
      SESSION_SECRET: 'e2e-session-secret-of-at-least-32-characters',
    });
    baseUrl = `http://127.0.0.1:${port}`;
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1200, height: 900 },
    });
    // Whatever the page's Content-Security-Policy blocks, in any tab of the run.
    context.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await app?.stop();
    for (const dir of [dataDir, profileDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const shot = (page: Page, name: string, fullPage = false) =>
    page.screenshot({ path: join(artifacts, `${name}.png`), fullPage });
  const dialog = (page: Page) => page.locator('dialog.sj-modal[open]');
  const action = (page: Page, name: string) =>
    dialog(page).locator('.sj-actions').getByRole('button', { name, exact: true });
  const stat = (page: Page, key: string) => dialog(page).locator(`[data-stat="${key}"] dd`);
  const activeJob = async (page: Page): Promise<ServerJob | null> => {
    const response = await page.request.get(
      `${baseUrl}/api/sync/jobs/active?source=gmail&accountId=${ACCOUNT}`,
    );
    return ((await response.json()) as { job: ServerJob | null }).job;
  };
  const jobById = async (page: Page, id: string): Promise<ServerJob> =>
    ((await (await page.request.get(`${baseUrl}/api/sync/jobs/${id}`)).json()) as { job: ServerJob }).job;

  it('starts, re-attaches, keeps running, joins, cancels and completes a sync', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(baseUrl);
    const syncButton = page.getByRole('button', { name: 'Sync now' });
    await syncButton.waitFor();
    await shot(page, '01-home');

    // Sync → the dialog shows progress within 2 s.
    await syncButton.click();
    const clickedAt = Date.now();
    const bar = dialog(page).getByRole('progressbar');
    await bar.waitFor({ timeout: 2_000 });
    await expect.poll(() => bar.getAttribute('aria-valuetext'), { timeout: 2_000 }).toBeTruthy();
    expect(Date.now() - clickedAt).toBeLessThan(2_000);
    await shot(page, '02-progress');
    await expect
      .poll(async () => countOf(await stat(page, 'fetched').textContent()), { timeout: 10_000 })
      .toBeGreaterThan(0);

    // An ETA once there is enough signal, with the rate beside it.
    await expect.poll(async () => stat(page, 'eta').textContent(), { timeout: 15_000 }).toMatch(/\d/);
    await shot(page, '03-eta');
    const job = await activeJob(page);
    expect(job?.status).toBe('running');
    const jobId = job!.id;

    // Reload mid-sync: the dialog comes back by itself and the counters carry on, never backwards.
    const beforeReload = countOf(await stat(page, 'stored').textContent());
    await page.reload();
    await dialog(page).waitFor({ timeout: 5_000 });
    let last = 0;
    await expect
      .poll(async () => countOf(await stat(page, 'stored').textContent()), { timeout: 5_000 })
      .toBeGreaterThanOrEqual(beforeReload);
    for (let i = 0; i < 5; i++) {
      const now = countOf(await stat(page, 'stored').textContent());
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
      await page.waitForTimeout(200);
    }
    expect(last).toBeGreaterThan(beforeReload);
    await shot(page, '04-reloaded');

    // Close the dialog: the sync goes on on the server.
    await action(page, 'Close (sync continues)').click();
    await expect.poll(() => dialog(page).count()).toBe(0);
    const closedAt = (await jobById(page, jobId)).counters.stored;
    await page.waitForTimeout(1_500);
    const afterClose = await jobById(page, jobId);
    expect(afterClose.status).toBe('running');
    expect(afterClose.counters.stored).toBeGreaterThan(closedAt);
    // Closed stays closed while the sync runs; the button now leads back to it instead of being disabled.
    expect(await dialog(page).count()).toBe(0);
    const showProgress = page.getByRole('button', { name: 'Show sync progress' });
    await showProgress.waitFor();
    expect(await showProgress.getAttribute('aria-disabled')).toBeNull();
    expect(await page.locator('.sj-status').textContent()).toMatch(/^Syncing… \d+%$/);
    await shot(page, '05-closed-still-running');

    // A second tab: it shows the same job, and its start joins it instead of starting another.
    const second = await context.newPage();
    await second.goto(baseUrl);
    await dialog(second).waitFor({ timeout: 5_000 });
    const joined = await second.evaluate(async (account) => {
      const response = await fetch('/api/sync/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'gmail', accountId: account }),
      });
      return (await response.json()) as { started: boolean; job: { id: string } };
    }, ACCOUNT);
    expect(joined.started).toBe(false);
    expect(joined.job.id).toBe(jobId);
    await shot(second, '06-second-tab');
    await second.close();

    // The button opens the running job's dialog (no second job), then cancel (with its
    // confirmation): the job ends as cancelled, what was stored stays.
    await showProgress.click();
    await dialog(page).waitFor({ timeout: 2_000 });
    expect((await activeJob(page))?.id).toBe(jobId);
    await action(page, 'Cancel sync').click();
    await action(page, 'Stop sync').click();
    await expect.poll(async () => (await jobById(page, jobId)).status, { timeout: 15_000 }).toBe('cancelled');
    await dialog(page).getByText('Sync cancelled').first().waitFor({ timeout: 5_000 });
    const storedAtCancel = (await jobById(page, jobId)).counters.stored;
    expect(storedAtCancel).toBeLessThan(MESSAGES);
    await shot(page, '07-cancelled');
    await action(page, 'Close').click();

    // Sync again: it continues from the checkpoint and completes; history and messages show it.
    await page.getByRole('button', { name: 'Sync now' }).click();
    await dialog(page).getByText('Sync complete').first().waitFor({ timeout: 60_000 });
    await shot(page, '08-complete-dialog');
    await action(page, 'Close').click();
    const history = page.getByTestId('job-history');
    await history.locator('tr[data-status="completed"]').first().waitFor({ timeout: 5_000 });
    await expect.poll(() => history.locator('tr[data-status="cancelled"]').count()).toBe(1);
    await expect
      .poll(() => page.getByTestId('synced-count').textContent(), { timeout: 10_000 })
      .toBe(MESSAGES.toLocaleString('en-US'));
    await expect.poll(() => page.getByTestId('latest-messages').locator('tbody tr').count()).toBe(50);
    await shot(page, '09-history-and-messages', true);
  }, 120_000);

  it('ran the whole flow under the strict CSP without a single violation', async () => {
    const response = await context.request.get(baseUrl);
    expect(response.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(response.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(cspViolations).toEqual([]);
  });
});
