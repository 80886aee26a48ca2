// What a user does with the README's page, in Chromium: start, reload mid-sync, a second tab,
// cancel, sync again, completion. Checked against the server's API (`GET /api/sync/jobs`) too.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export interface BrowserScenarioOptions {
  app: string;
  baseUrl: string;
  account: string;
  messages: number;
  chromium: string;
  profileDir: string;
  artifacts: string;
  step: <T>(name: string, body: () => Promise<T>) => Promise<T>;
}

interface ServerJob {
  id: string;
  status: string;
  percent: number | null;
  counters: { stored: number; fetched: number };
}

const dialog = (page: Page) => page.locator('dialog.sj-modal[open]');
const syncButton = (page: Page) => page.locator('.sj-sync-button');
const action = (page: Page, name: string) =>
  dialog(page).locator('.sj-actions').getByRole('button', { name, exact: true });
const countOf = (text: string | null) => Number((text ?? '').replace(/[^\d]/g, '') || 0);
const storedShown = async (page: Page) =>
  countOf(await dialog(page).locator('[data-stat="stored"] dd').textContent());
const percentShown = async (page: Page) =>
  Number((await dialog(page).getByRole('progressbar').getAttribute('aria-valuenow')) ?? -1);

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // the element or the answer is not there yet
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export async function runBrowserScenario(options: BrowserScenarioOptions): Promise<void> {
  const { baseUrl, account, step } = options;
  mkdirSync(options.artifacts, { recursive: true });
  const context = await chromium.launchPersistentContext(options.profileDir, {
    executablePath: options.chromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1100, height: 850 },
  });
  const pageErrors: string[] = [];
  const watch = (page: Page) => {
    page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
    page.on('console', (message) => {
      // Failed requests are judged below, by URL ("Failed to load resource" does not say which).
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        pageErrors.push(`${page.url()}: console.error ${message.text()}`);
      }
    });
    page.on('response', (response) => {
      // The apps have no favicon; every other request must succeed.
      if (response.status() >= 400 && new URL(response.url()).pathname !== '/favicon.ico') {
        pageErrors.push(`${response.request().method()} ${response.url()} answered ${response.status()}`);
      }
    });
  };
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(options.artifacts, `${name}.png`) });
  const jobs = async (): Promise<ServerJob[]> => {
    const response = await fetch(
      `${baseUrl}/api/sync/jobs?source=gmail&accountId=${encodeURIComponent(account)}&limit=10`,
    );
    if (!response.ok) throw new Error(`GET /api/sync/jobs answered ${response.status}`);
    return ((await response.json()) as { jobs: ServerJob[] }).jobs;
  };
  const onlyJob = async (status: string): Promise<ServerJob> => {
    const all = await jobs();
    expect(all.length === 1, `expected exactly one job, the server has ${all.length}`);
    expect(all[0]!.status === status, `expected the job ${status}, it is ${all[0]!.status}`);
    return all[0]!;
  };

  try {
    const page = context.pages()[0] ?? (await context.newPage());
    watch(page);
    let jobId = '';

    await step('start a sync from the button', async () => {
      await page.goto(baseUrl);
      await syncButton(page).getByText('Sync now').waitFor({ timeout: 15_000 });
      await syncButton(page).click();
      await dialog(page).getByRole('progressbar').waitFor({ timeout: 5_000 });
    });

    await step('progress passes 5 %, one running job', async () => {
      await until(
        'percent > 5',
        () => percentShown(page),
        (percent) => percent > 5,
        30_000,
      );
      jobId = (await onlyJob('running')).id;
      await shot(page, '01-progress');
    });

    await step('reload: progress view back, counters never go backwards, one job', async () => {
      const before = await storedShown(page);
      expect(before > 0, 'no stored messages shown before the reload');
      await page.reload();
      await dialog(page).getByRole('progressbar').waitFor({ timeout: 5_000 });
      let last = await until(
        'stored after reload',
        () => storedShown(page),
        (n) => n > 0,
        5_000,
      );
      expect(last >= before, `stored went backwards across the reload: ${before} → ${last}`);
      for (let i = 0; i < 8; i++) {
        await page.waitForTimeout(250);
        const now = await storedShown(page);
        expect(now >= last, `stored went backwards: ${last} → ${now}`);
        last = now;
      }
      expect(last > before, `stored did not move after the reload (${before} → ${last})`);
      expect((await onlyJob('running')).id === jobId, 'the job changed across the reload');
      await shot(page, '02-reloaded');
    });

    await step('second tab shows the same job; its button joins, never starts another', async () => {
      const second = await context.newPage();
      watch(second);
      await second.goto(baseUrl);
      await dialog(second).getByRole('progressbar').waitFor({ timeout: 5_000 });
      await until(
        'second tab shows progress',
        () => storedShown(second),
        (n) => n > 0,
        5_000,
      );
      await action(second, 'Close (sync continues)').click();
      await until(
        'dialog closed',
        () => dialog(second).count(),
        (n) => n === 0,
        5_000,
      );
      await syncButton(second).click(); // "Show sync progress": brings the view back, starts nothing
      await dialog(second).getByRole('progressbar').waitFor({ timeout: 5_000 });
      expect((await onlyJob('running')).id === jobId, 'the second tab shows another job');
      await shot(second, '03-second-tab');
      await second.close();
    });

    await step('cancel (with confirmation)', async () => {
      await action(page, 'Cancel sync').click();
      await action(page, 'Stop sync').click();
      await dialog(page).getByText('Sync cancelled').first().waitFor({ timeout: 15_000 });
      const job = await onlyJob('cancelled');
      expect(job.counters.stored < options.messages, 'the sync finished before it could be cancelled');
      await shot(page, '04-cancelled');
    });

    await step('sync again: resumes and completes (100 %)', async () => {
      const retry = action(page, 'Retry');
      if ((await retry.count()) > 0) await retry.click();
      else {
        await action(page, 'Close').click();
        await syncButton(page).getByText('Sync now').click();
      }
      await dialog(page).getByRole('progressbar').waitFor({ timeout: 5_000 });
      await dialog(page).getByText('Sync complete').first().waitFor({ timeout: 90_000 });
      await until(
        'percent 100',
        () => percentShown(page),
        (percent) => percent === 100,
        5_000,
      );
      const all = await jobs();
      expect(all.length === 2, `expected the cancelled job and one more, the server has ${all.length}`);
      expect(
        all[0]!.status === 'completed' && all[0]!.percent === 100,
        `newest job: ${JSON.stringify(all[0])}`,
      );
      expect(all[1]!.id === jobId && all[1]!.status === 'cancelled', `older job: ${JSON.stringify(all[1])}`);
      await shot(page, '05-completed');
      expect(pageErrors.length === 0, `the page logged errors:\n${pageErrors.join('\n')}`);
    });
  } catch (error) {
    // What each tab showed when it failed, beside the other screenshots.
    await Promise.all(
      context.pages().map((page, index) => shot(page, `failure-tab${index + 1}`).catch(() => undefined)),
    );
    throw error;
  } finally {
    await context.close();
  }
}
