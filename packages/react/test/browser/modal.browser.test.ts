import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyncError } from '@syncjob/core';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './testServer';

const CHROMIUM = process.env.SYNCJOB_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.SYNCJOB_REQUIRE_BROWSER === '1';
const available = existsSync(CHROMIUM);
const ARTIFACTS = fileURLToPath(new URL('../../../../.artifacts/react/', import.meta.url));
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

if (!available) {
  const message =
    `\n${'!'.repeat(78)}\n!! @syncjob/react real-browser tests SKIPPED: no Chromium at ${CHROMIUM}.\n` +
    '!! Install Chromium (apt-get install chromium) or point SYNCJOB_CHROMIUM at a Chrome/Chromium binary.\n' +
    `!! CI sets SYNCJOB_REQUIRE_BROWSER=1 so that a missing browser fails instead.\n${'!'.repeat(78)}\n`;
  if (REQUIRED) throw new Error(message);
  console.warn(message);
}

describe.skipIf(!available)('SyncProgressModal in Chromium', () => {
  let app: TestApp;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    app = await startTestApp();
    profile = await mkdtemp(join(tmpdir(), 'syncjob-chromium-'));
    await mkdir(ARTIFACTS, { recursive: true });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1000, height: 900 },
      reducedMotion: 'reduce',
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(app.url);
  });

  afterAll(async () => {
    await context?.close();
    await app?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  const dialog = () => page.getByRole('dialog');
  const syncButton = () => page.locator('.sj-sync-button');

  /** axe-core finds no violation in this state, and a screenshot of it is kept. */
  async function audit(state: string) {
    await page.screenshot({ path: join(ARTIFACTS, `${state}.png`) });
    if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
    const violations = await page.evaluate(async () => {
      const axe = (
        window as unknown as { axe: { run(context: Document): Promise<{ violations: unknown[] }> } }
      ).axe;
      return (await axe.run(document)).violations;
    });
    expect(violations, `axe violations in the ${state} state`).toEqual([]);
  }

  async function openFreshSync() {
    await syncButton().click();
    await expect.poll(() => dialog().isVisible()).toBe(true);
  }

  async function closeWithEscape() {
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog().isVisible()).toBe(false);
  }

  it('opens with focus inside, shows progress that matches the job, and passes axe', async () => {
    await expect.poll(() => syncButton().textContent()).toBe('Sync now');
    await audit('idle');
    app.source.control.hang({ call: 30 });
    await openFreshSync();
    expect(
      await page.evaluate(() => document.querySelector('dialog')?.contains(document.activeElement)),
    ).toBe(true);
    await app.source.control.whenHanging();
    const job = await app.engine.getActiveJob({ source: 'test', accountId: 'alice@example.com' });
    const bar = dialog().getByRole('progressbar');
    await expect
      .poll(async () => Number(await bar.getAttribute('aria-valuenow')))
      .toBe((await app.engine.getJob(job!.id))!.percent);
    const stored = (await app.engine.getJob(job!.id))!;
    expect(await bar.getAttribute('aria-valuetext')).toContain(`of ${stored.counters.total} messages`);
    expect(await dialog().getByRole('heading').textContent()).toBe('Syncing…');
    await audit('running');
    await page.emulateMedia({ colorScheme: 'dark' });
    await audit('running-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('pauses auto-scroll when the user scrolls up and resumes with the toggle', async () => {
    const panel = dialog().getByRole('log');
    const toggle = dialog().getByRole('button', { name: 'Auto-scroll' });
    const atBottom = () => panel.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight <= 8);
    await expect.poll(() => panel.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
    expect(await atBottom()).toBe(true);
    await panel.hover();
    await page.mouse.wheel(0, -2_000);
    await expect.poll(() => toggle.getAttribute('aria-pressed')).toBe('false');
    const pausedAt = await panel.evaluate((el) => el.scrollTop);

    app.source.control.release();
    await expect
      .poll(() => dialog().getByRole('heading').textContent(), { timeout: 20_000 })
      .toBe('Sync complete');
    expect(await panel.evaluate((el) => el.scrollTop)).toBe(pausedAt);
    await toggle.click();
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    await expect.poll(atBottom).toBe(true);
    await expect.poll(() => dialog().getByRole('status').textContent()).toMatch(/^Sync complete\./);
    await audit('completed');
  });

  it('closes on Escape and gives focus back to the button', async () => {
    await closeWithEscape();
    expect(await syncButton().evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await page.locator('.sj-status').textContent()).toBe('Last synced just now');
  });

  it('keeps a gap between the button and the status line beside it', async () => {
    const button = (await syncButton().boundingBox())!;
    const status = (await page.locator('.sj-status').boundingBox())!;
    expect(Math.abs(status.y + status.height / 2 - (button.y + button.height / 2))).toBeLessThan(4);
    expect(status.x - (button.x + button.width)).toBeGreaterThanOrEqual(8);
  });

  it('shows a failed sync with its error and a Retry action', async () => {
    app.source.control.failNext(
      new SyncError('REAUTH_REQUIRED', 'Gmail refused the token. Sign in again.', { retryable: false }),
    );
    await openFreshSync();
    await expect
      .poll(() => dialog().getByRole('heading').textContent(), { timeout: 10_000 })
      .toBe('Sync failed');
    expect(
      await dialog().getByText('Gmail refused the token. Sign in again.', { exact: true }).isVisible(),
    ).toBe(true);
    expect(await dialog().getByRole('button', { name: 'Retry' }).isVisible()).toBe(true);
    await audit('failed');
    await closeWithEscape();
  });

  it('cancels after a confirmation', async () => {
    app.source.control.hang();
    await openFreshSync();
    await app.source.control.whenHanging();
    await dialog().getByRole('button', { name: 'Cancel sync' }).click();
    await audit('cancel-confirm');
    await dialog().getByRole('button', { name: 'Stop sync' }).click();
    await expect
      .poll(() => dialog().getByRole('heading').textContent(), { timeout: 10_000 })
      .toBe('Sync cancelled');
    await audit('cancelled');
    await closeWithEscape();
  });

  it('gives the dialog back after a reload, joins from a second tab, and a click while running shows it', async () => {
    const account = { source: 'test', accountId: 'alice@example.com' };
    const jobCount = async () => (await app.engine.listJobs({ accountId: account.accountId })).length;
    app.source.control.hang();
    await openFreshSync();
    await app.source.control.whenHanging();
    const job = (await app.engine.getActiveJob(account))!;
    const jobs = await jobCount();

    // Reload mid-sync: the drop-in page (no app state) opens the progress view by itself.
    await page.reload();
    await expect.poll(() => dialog().isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await dialog().getByRole('heading').textContent()).toBe('Syncing…');
    expect(await page.locator('.sj-status').textContent()).toMatch(/^Syncing…/);
    await audit('reattached');

    // A second tab joins the same job.
    const second = await context.newPage();
    try {
      await second.goto(app.url);
      await expect.poll(() => second.getByRole('dialog').isVisible(), { timeout: 10_000 }).toBe(true);
      expect(await second.getByRole('dialog').getByRole('heading').textContent()).toBe('Syncing…');
      expect(await second.getByRole('dialog').getByRole('progressbar').getAttribute('aria-valuetext')).toBe(
        await dialog().getByRole('progressbar').getAttribute('aria-valuetext'),
      );
    } finally {
      await second.close();
    }

    // Closed, it stays closed; the button is not disabled and a click shows the running sync.
    await closeWithEscape();
    await page.waitForTimeout(300);
    expect(await dialog().isVisible()).toBe(false);
    expect(await syncButton().textContent()).toBe('Show sync progress');
    expect(await syncButton().getAttribute('aria-disabled')).toBeNull();
    await syncButton().click();
    await expect.poll(() => dialog().isVisible()).toBe(true);
    expect(await dialog().getByRole('heading').textContent()).toBe('Syncing…');
    expect(await jobCount()).toBe(jobs);
    expect((await app.engine.getActiveJob(account))?.id).toBe(job.id);

    app.source.control.release();
    await expect
      .poll(() => dialog().getByRole('heading').textContent(), { timeout: 20_000 })
      .toBe('Sync complete');
    await closeWithEscape();
  });
});
