#!/usr/bin/env node
/**
 * Type-checks every ```ts / ```tsx / ```typescript block of every README.md in the repository
 * against the BUILT packages (`npm run build` first): "docs are code" (STYLE.md). Each block becomes
 * its own module in a temporary folder under `node_modules/.cache`, so `@syncjob/*` imports resolve
 * through the workspace's symlinks to each package's `dist/` exactly as they would in an app.
 *
 * A block may be marked by an HTML comment on the line right before its fence:
 *
 *   <!-- fragment: uses engine, getSession, db -->
 *     The block uses names it does not declare (the app's own things, or an engine from an earlier
 *     block). Each name must be one of `STUBS` below; its `declare` is put before the block.
 *   <!-- not-checked: the reason -->
 *     The block is not TypeScript that can stand alone (a reason is required; use sparingly).
 *   <!-- file: lib/syncEngine.ts app: next, express -->
 *     The packed-package test's marker (`test/packed/markdownFiles.ts`): the block is a file of an
 *     app. It is checked as that file, beside the app's other marked files (so `./lib/syncEngine`
 *     imports the README's own engine block) and the glue the README leaves to the reader
 *     (`FILE_STUBS`). `app:` lists the apps (default: every app named by a marker).
 *
 * Several markers may precede one fence, one per line (blank lines between them are allowed).
 *
 * Usage: `node scripts/check-readme-code.mjs [README.md …]` (default: every README). Prints one line
 * per error, `path/README.md:LINE: message`, and exits 1 when a block fails.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Declarations a fragment may ask for by name. Each stands for something the reader's app has (a
 * session check, a database) or that an earlier block of the same README created (an engine).
 */
export const STUBS = {
  engine: "declare const engine: import('@syncjob/core').SyncEngine;",
  store: "declare const store: import('@syncjob/core').SyncStore;",
  sources: "declare const sources: import('@syncjob/core').SyncSource[];",
  gmail: "declare const gmail: import('@syncjob/core').SyncSource;",
  getSyncEngine: "declare const getSyncEngine: () => import('@syncjob/core').SyncEngine;",
  getSession: 'declare function getSession(request: Request): Promise<{ userId: string } | null>;',
  getUserId: 'declare function getUserId(request: Request): Promise<string | null>;',
  ownsMailbox: 'declare function ownsMailbox(userId: string, accountId: string): Promise<boolean>;',
  db: 'declare const db: { refreshTokenOf(accountId: string): Promise<string> };',
  jobId: 'declare const jobId: string;',
  token: 'declare function token(): Promise<string>;',
  render: 'declare function render(...values: unknown[]): void;',
  secret: 'declare const secret: string;',
  auth: 'declare const auth: { user: string; pass: string };',
  from: 'declare const from: string;',
  to: 'declare const to: string;',
  user: 'declare const user: { email: string };',
  legacyRoutesTransport:
    "declare function legacyRoutesTransport(options: { baseUrl: string; accountId: string; intervalMs?: number }): import('@syncjob/core/client').SyncTransport;",
};

/**
 * Files of the reader's app that file-marked blocks import by relative path and no README block
 * shows: the glue the README leaves to the reader (`./auth` from `lib/syncEngine.ts`). Each app
 * gets them unless one of its marked blocks is that file.
 */
export const FILE_STUBS = {
  'lib/auth.ts': `
export declare function getSession(request: Request): Promise<{ userId: string } | null>;
export declare function gmailCredentials(accountId: string): Promise<import('@syncjob/gmail').GmailOAuthCredentials>;
`,
};

/**
 * Modules blocks import that the repository does not hold: a file of the reader's app that an
 * earlier block shows (`@/lib/syncEngine`, Next.js's default `@/` alias), and frameworks the repo
 * does not install (only the surface the READMEs use).
 */
export const MODULE_STUBS = `
declare module '*.css';
declare module '@/lib/syncEngine' {
  export const getSyncEngine: () => import('@syncjob/core').SyncEngine;
}
declare module '@/lib/syncHandler' {
  export function getSyncHandler(): Promise<import('@syncjob/core/http').SyncHandler>;
}
declare module '@/lib/auth' {
  export function getSession(request: Request): Promise<{ userId: string } | null>;
  export function gmailCredentials(accountId: string): Promise<import('@syncjob/gmail').GmailOAuthCredentials>;
}
declare module 'express' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => unknown;
  interface Application {
    use(...handlers: Array<string | Middleware>): Application;
    listen(port: number, callback?: () => void): unknown;
  }
  interface Express {
    (): Application;
    json(): Middleware;
    static(root: string): Middleware;
  }
  const express: Express;
  export default express;
}
`;

const FENCE_OPEN = /^(\s*)```(ts|tsx|typescript)\s*$/;
/** Any other fence (```sh, ````md…): skipped whole, so a block shown inside it is not checked. */
const OTHER_FENCE = /^(\s*)(`{3,}|~{3,})/;
const MARKER = /^\s*<!--\s*(fragment|not-checked)\s*:(.*?)-->\s*$/;
const FILE_MARKER = /^\s*<!--\s*file:\s*(\S+)(?:\s+app:\s*([\w-]+(?:\s*,\s*[\w-]+)*))?\s*-->\s*$/;
const COMMENT = /^\s*<!--.*-->\s*$/;

/** The one-line comments in the run of comment and blank lines right before line `index`. */
function markerLinesBefore(lines, index) {
  const found = [];
  for (let at = index - 1; at >= 0; at -= 1) {
    const text = lines[at];
    if (text.trim() === '') continue;
    if (!COMMENT.test(text)) break;
    found.unshift({ text, line: at + 1 });
  }
  return found;
}

/** Every README.md of the repository (root, packages, adapters, examples…), node_modules excluded. */
export function findReadmes(root = REPO_ROOT) {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === 'README.md') found.push(path);
    }
  };
  walk(root);
  return found.sort();
}

/**
 * The TypeScript blocks of one Markdown file: `{ readme, line (of the first code line), lang, code,
 * marker }`, plus `problems` for bad markers.
 */
export function extractBlocks(readme) {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const blocks = [];
  const problems = [];
  for (let index = 0; index < lines.length; index += 1) {
    const open = FENCE_OPEN.exec(lines[index]);
    if (!open) {
      const other = OTHER_FENCE.exec(lines[index]);
      if (other) {
        const [, indent, fence] = other;
        const closes = (text) =>
          text.startsWith(indent) && text.trim().startsWith(fence) && text.trim().replace(/[`~]/g, '') === '';
        index += 1;
        while (index < lines.length && !closes(lines[index])) index += 1;
      }
      continue;
    }
    const indent = open[1];
    const close = new RegExp(`^${indent}\`\`\`\\s*$`);
    const body = [];
    let end = index + 1;
    while (end < lines.length && !close.test(lines[end])) {
      body.push(lines[end].startsWith(indent) ? lines[end].slice(indent.length) : lines[end]);
      end += 1;
    }
    const block = {
      readme,
      line: index + 2,
      lang: open[2] === 'tsx' ? 'tsx' : 'ts',
      code: body.join('\n'),
      uses: [],
      skip: false,
      files: [],
    };
    let kinds = 0;
    for (const { text, line } of markerLinesBefore(lines, index)) {
      const file = FILE_MARKER.exec(text);
      if (file) {
        const apps = file[2] ? file[2].split(',').map((app) => app.trim()) : null;
        if (file[1].startsWith('/') || file[1].split('/').includes('..')) {
          problems.push({
            readme,
            line,
            message: `the file path must be relative, inside the app: ${file[1]}`,
          });
        } else block.files.push({ path: file[1], apps });
        continue;
      }
      const match = MARKER.exec(text);
      if (!match) {
        if (/<!--\s*(fragment|not-checked|check|file)\b/.test(text)) {
          problems.push({ readme, line, message: `unreadable marker: ${text.trim()}` });
        }
        continue;
      }
      kinds += 1;
      if (kinds > 1) problems.push({ readme, line, message: 'one fragment or not-checked marker per block' });
      const [, kind, rest] = match;
      const reason = rest.trim();
      if (kind === 'not-checked') {
        if (reason === '') problems.push({ readme, line, message: 'not-checked needs a reason' });
        block.skip = true;
      } else {
        const names = reason
          .replace(/^uses\s+/, '')
          .split(/[\s,]+/)
          .filter(Boolean);
        for (const name of names) {
          if (!Object.hasOwn(STUBS, name)) {
            problems.push({
              readme,
              line,
              message: `fragment uses "${name}", which has no stub (known: ${Object.keys(STUBS).join(', ')})`,
            });
          }
        }
        block.uses = names.filter((name) => Object.hasOwn(STUBS, name));
      }
    }
    blocks.push(block);
    index = end;
  }
  return { blocks, problems };
}

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    target: 'ES2022',
    module: 'ESNext',
    moduleResolution: 'bundler',
    jsx: 'react-jsx',
    lib: ['ES2023', 'DOM', 'DOM.Iterable'],
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
    isolatedModules: true,
    esModuleInterop: true,
  },
};

function runTsc(cwd, repoRoot) {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((done) => {
    execFile(
      process.execPath,
      [tsc, '-p', join(cwd, 'tsconfig.json'), '--pretty', 'false'],
      { cwd, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => done({ code: error ? (error.code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

/**
 * Checks the blocks of `readmes` (default: every README of the repository). Resolves to
 * `{ checked, skipped, failures: [{ readme, line, message }] }`; `readme` is relative to `repoRoot`.
 */
export async function checkReadmeCode({ repoRoot = REPO_ROOT, readmes = findReadmes(repoRoot) } = {}) {
  const failures = [];
  const files = new Map();
  const workDir = join(
    repoRoot,
    'node_modules',
    '.cache',
    'syncjob-readme-code',
    `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
  );
  mkdirSync(workDir, { recursive: true });
  let checked = 0;
  let skipped = 0;
  try {
    const fileBlocks = [];
    const write = (name, block, prelude) => {
      mkdirSync(dirname(join(workDir, name)), { recursive: true });
      // `export {}` makes every block a module: its top-level names never clash with another's.
      writeFileSync(join(workDir, name), `${[...prelude, block.code].join('\n')}\nexport {};\n`);
      files.set(name, { block, preludeLines: prelude.length });
    };
    for (const readme of readmes) {
      const { blocks, problems } = extractBlocks(readme);
      failures.push(...problems);
      for (const block of blocks) {
        if (block.skip) {
          skipped += 1;
          continue;
        }
        checked += 1;
        if (block.files.length > 0) {
          fileBlocks.push(block);
          continue;
        }
        const prelude = block.uses.map((name) => STUBS[name]);
        write(`block${String(files.size + 1).padStart(3, '0')}.${block.lang}`, block, prelude);
      }
    }
    // File-marked blocks: each app's files side by side (`apps/<app>/<path>`), with the glue stubs.
    const named = fileBlocks.flatMap((block) => block.files.flatMap((file) => file.apps ?? []));
    const allApps = named.length > 0 ? [...new Set(named)] : ['app'];
    for (const app of fileBlocks.length > 0 ? allApps : []) {
      const own = new Set();
      for (const block of fileBlocks) {
        for (const file of block.files) {
          if (file.apps && !file.apps.includes(app)) continue;
          const name = `apps/${app}/${file.path}`;
          if (files.has(name)) {
            failures.push({
              readme: block.readme,
              line: block.line - 1,
              message: `${file.path} (app ${app}) is marked twice`,
            });
            continue;
          }
          own.add(file.path);
          write(
            name,
            block,
            block.uses.map((stub) => STUBS[stub]),
          );
        }
      }
      for (const [path, text] of Object.entries(FILE_STUBS)) {
        if (own.has(path)) continue;
        mkdirSync(dirname(join(workDir, 'apps', app, path)), { recursive: true });
        writeFileSync(join(workDir, 'apps', app, path), text);
      }
    }
    writeFileSync(join(workDir, 'assets.d.ts'), MODULE_STUBS);
    writeFileSync(
      join(workDir, 'tsconfig.json'),
      JSON.stringify({ ...TSCONFIG, files: ['assets.d.ts', ...files.keys()] }, null, 2),
    );
    if (files.size > 0) {
      const { code, output } = await runTsc(workDir, repoRoot);
      const diagnostic = /^(.*?)\((\d+),(\d+)\): (error TS\d+: .*)$/;
      let last = null;
      for (const text of output.split('\n')) {
        const match = diagnostic.exec(text);
        if (match) {
          const file = relative(workDir, resolve(workDir, match[1]));
          const entry = files.get(file);
          if (entry) {
            const codeLine = Number(match[2]) - entry.preludeLines;
            last = {
              readme: entry.block.readme,
              line: entry.block.line + Math.max(0, codeLine - 1),
              message: match[4],
            };
          } else {
            last = { readme: file, line: Number(match[2]), message: match[4] };
          }
          failures.push(last);
        } else if (text.startsWith(' ') && last) {
          last.message += `\n${text}`; // a continuation of the previous message
        } else if (text.trim() !== '') {
          failures.push({ readme: '(tsc)', line: 0, message: text });
          last = null;
        }
      }
      if (code !== 0 && failures.length === 0) {
        failures.push({ readme: '(tsc)', line: 0, message: `tsc exited with ${code}` });
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  for (const failure of failures) {
    if (failure.readme.startsWith('/')) failure.readme = relative(repoRoot, failure.readme);
  }
  // A block shared by several apps is compiled once per app: report each error once.
  const seen = new Set();
  const unique = failures.filter((failure) => {
    const key = `${failure.readme}:${failure.line}: ${failure.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { checked, skipped, failures: unique };
}

/** `path:line: message`, one failure per entry. */
export const formatFailures = (failures) =>
  failures.map((failure) => `${failure.readme}:${failure.line}: ${failure.message}`).join('\n');

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const args = process.argv.slice(2).map((path) => resolve(path));
  for (const path of args) statSync(path);
  const result = await checkReadmeCode(args.length > 0 ? { readmes: args } : {});
  if (result.failures.length > 0) {
    console.error(formatFailures(result.failures));
    console.error(`\n${result.failures.length} error(s) in README code (${result.checked} blocks checked).`);
    process.exit(1);
  }
  console.log(`README code: ${result.checked} blocks type-check (${result.skipped} not checked).`);
}
