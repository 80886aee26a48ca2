import { describe, expect, it } from 'vitest';
import { extractMarkedFiles, filesForApp } from './markdownFiles.ts';

const doc = [
  '# Hosting',
  '',
  'Unmarked blocks are prose, and so is a marker quoted inline: `<!-- file: PATH -->`.',
  '```ts',
  'ignored();',
  '```',
  '',
  '<!-- file: lib/syncEngine.ts -->',
  '```ts',
  "export const a = '```';",
  '```',
  '',
  '<!-- file: app/api/sync/[...path]/route.ts app: next -->',
  '',
  '```ts title="route"',
  'export const GET = handler;',
  '```',
  '',
  '- In a list:',
  '  <!-- file: server.ts app: express, other -->',
  '  ````ts',
  '  const x = 1;',
  '    nested();',
  '  ````',
  '',
  '<!-- fragment: uses getSession -->',
  '<!-- file: app/page.tsx app: next -->',
  '',
  '<!-- file: src/page.tsx app: express -->',
  '```tsx',
  'page();',
  '```',
  '',
  '````md',
  '<!-- file: shown-in-a-code-block.ts -->',
  '```ts',
  'x();',
  '```',
  '````',
].join('\n');

describe('extractMarkedFiles', () => {
  it('returns the marked blocks only, with their path, apps, language, code and origin', () => {
    const files = extractMarkedFiles(doc, 'HOSTING.md');
    expect(files).toEqual([
      {
        path: 'lib/syncEngine.ts',
        apps: null,
        lang: 'ts',
        code: "export const a = '```';\n",
        origin: 'HOSTING.md:8',
      },
      {
        path: 'app/api/sync/[...path]/route.ts',
        apps: ['next'],
        lang: 'ts',
        code: 'export const GET = handler;\n',
        origin: 'HOSTING.md:13',
      },
      {
        path: 'server.ts',
        apps: ['express', 'other'],
        lang: 'ts',
        code: 'const x = 1;\n  nested();\n',
        origin: 'HOSTING.md:20',
      },
      { path: 'app/page.tsx', apps: ['next'], lang: 'tsx', code: 'page();\n', origin: 'HOSTING.md:27' },
      { path: 'src/page.tsx', apps: ['express'], lang: 'tsx', code: 'page();\n', origin: 'HOSTING.md:29' },
    ]);
  });

  it('refuses a marker without a fence, an unclosed fence, a malformed marker and a path outside the app', () => {
    expect(() => extractMarkedFiles('<!-- file: a.ts -->\nsome prose\n```ts\nx\n```', 'R.md')).toThrow(
      'R.md:1: the marker for a.ts is not followed by a code fence',
    );
    expect(() =>
      extractMarkedFiles('<!-- file: a.ts -->\n<!-- fragment: uses x -->\nprose\n```ts\nx\n```', 'R.md'),
    ).toThrow('R.md:1: the marker for a.ts is not followed by a code fence');
    expect(() => extractMarkedFiles('text\n<!-- file: a.ts -->\n', 'R.md')).toThrow(
      'R.md:2: the marker for a.ts is not followed by a code fence',
    );
    expect(() => extractMarkedFiles('<!-- file: a.ts -->\n```ts\nx\n', 'R.md')).toThrow('never closed');
    expect(() => extractMarkedFiles('<!-- file: -->\n```ts\nx\n```', 'R.md')).toThrow(
      'malformed file marker',
    );
    expect(() => extractMarkedFiles('<!-- file: ../a.ts -->\n```ts\nx\n```', 'R.md')).toThrow(
      'inside the app',
    );
    expect(() => extractMarkedFiles('<!-- file: /etc/a.ts -->\n```ts\nx\n```', 'R.md')).toThrow(
      'inside the app',
    );
  });
});

describe('filesForApp', () => {
  const files = extractMarkedFiles(doc, 'HOSTING.md');

  it('gives each app the shared blocks and its own', () => {
    expect([...filesForApp(files, 'next').keys()]).toEqual([
      'lib/syncEngine.ts',
      'app/api/sync/[...path]/route.ts',
      'app/page.tsx',
    ]);
    expect([...filesForApp(files, 'express').keys()]).toEqual([
      'lib/syncEngine.ts',
      'server.ts',
      'src/page.tsx',
    ]);
  });

  it('refuses two blocks for the same file of one app', () => {
    const twice = extractMarkedFiles(
      `${doc}\n<!-- file: lib/syncEngine.ts app: next -->\n\`\`\`ts\ny\n\`\`\``,
      'R.md',
    );
    expect(() => filesForApp(twice, 'express')).not.toThrow();
    expect(() => filesForApp(twice, 'next')).toThrow(
      'lib/syncEngine.ts (app next) is already defined at R.md:8',
    );
  });
});
