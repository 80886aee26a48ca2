import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkReadmeCode as check, extractBlocks, formatFailures } from './check-readme-code.mjs';

const fixtures = mkdtempSync(join(tmpdir(), 'syncjob-readme-check-'));
afterAll(() => rmSync(fixtures, { recursive: true, force: true }));

const readme = (name: string, text: string) => {
  const path = join(fixtures, name);
  writeFileSync(path, text);
  return path;
};

describe('README code', () => {
  it('every ts/tsx block of every README type-checks against the built packages', async () => {
    const result = await check();
    expect(result.checked).toBeGreaterThan(20);
    // On failure the message lists each block's README path and line with tsc's error.
    expect(formatFailures(result.failures), 'README blocks that do not compile').toBe('');
  });
});

describe('the README checker', () => {
  it('fails a broken block with the README path and the line of the error', async () => {
    const path = readme(
      'BROKEN.md',
      [
        '# Broken',
        '',
        '```ts',
        "import { createSyncEngine } from '@syncjob/core';",
        '',
        'const engine = createSyncEngine({ store: 42 });',
        '```',
        '',
      ].join('\n'),
    );
    const { failures } = await check({ readmes: [path] });
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatchObject({ line: 6 });
    expect(failures[0]?.readme).toMatch(/BROKEN\.md$/);
    expect(failures[0]?.message).toMatch(/error TS\d+/);
  });

  it('prepends the stubs a fragment names, skips not-checked blocks, and rejects bad markers', async () => {
    const path = readme(
      'MARKED.md',
      [
        '<!-- fragment: uses engine, getSession -->',
        '```ts',
        'const session = await getSession(new Request("http://x"));',
        'await engine.start({ source: "gmail", accountId: session?.userId ?? "nobody" });',
        '```',
        '<!-- not-checked: pseudo-code -->',
        '```ts',
        'this is not TypeScript',
        '```',
        '<!-- not-checked: -->',
        '```ts',
        'const a = 1;',
        '```',
        '<!-- fragment: uses nothingKnown -->',
        '```tsx',
        'export const b = <div />;',
        '```',
        '',
      ].join('\n'),
    );
    expect(extractBlocks(path).blocks).toHaveLength(4);
    const { failures, checked, skipped } = await check({ readmes: [path] });
    expect({ checked, skipped }).toEqual({ checked: 2, skipped: 2 });
    expect(failures.map((failure) => `${failure.line}: ${failure.message.split(' (')[0]}`)).toEqual([
      '10: not-checked needs a reason',
      '14: fragment uses "nothingKnown", which has no stub',
    ]);
  });

  it('checks file-marked blocks as the files of each app, beside each other and the glue stubs', async () => {
    const path = readme(
      'FILES.md',
      [
        '<!-- file: lib/syncEngine.ts app: next, express -->',
        '',
        '<!-- fragment: uses gmail -->',
        '```ts',
        "import { createMemoryStore, createSyncEngine, defineSyncEngine } from '@syncjob/core';",
        "import { gmailCredentials } from './auth';",
        'export const credentials = gmailCredentials;',
        'export const getSyncEngine = defineSyncEngine(() =>',
        '  createSyncEngine({ store: createMemoryStore(), sources: [gmail] }),',
        ');',
        '```',
        '<!-- file: server.ts app: express -->',
        '```ts',
        "import { getSyncEngine, notExported } from './lib/syncEngine';",
        'getSyncEngine();',
        '```',
        '<!-- file: server.ts app: express -->',
        '<!-- not-checked: shown twice -->',
        '```ts',
        'skipped();',
        '```',
        '<!-- fragment: uses engine -->',
        '<!-- not-checked: two kinds -->',
        '```ts',
        'engine;',
        '```',
        '',
      ].join('\n'),
    );
    const { blocks } = extractBlocks(path);
    expect(blocks[0]).toMatchObject({
      uses: ['gmail'],
      files: [{ path: 'lib/syncEngine.ts', apps: ['next', 'express'] }],
    });
    const { failures, checked, skipped } = await check({ readmes: [path] });
    expect({ checked, skipped }).toEqual({ checked: 2, skipped: 2 });
    // The server imports the README's own engine block: a name it does not export fails, once.
    expect(failures.map((failure) => `${failure.line}: ${failure.message.split(' (')[0]}`)).toEqual([
      '23: one fragment or not-checked marker per block',
      expect.stringMatching(
        /^14: error TS\d+: Module '".\/lib\/syncEngine"' has no exported member 'notExported'/,
      ),
    ]);
  });
});
