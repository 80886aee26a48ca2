import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Set by `npm run test:chaos` only, so `npm test` never picks up the chaos project.
// SYNCJOB_REACT_MODULES: a `node_modules` folder holding another React (`npm run test:react18`
// installs React 18 in a scratch folder); the React kit's projects then run against it.
const { SYNCJOB_CHAOS, SYNCJOB_REACT_MODULES } = process.env;

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * In-process tests import workspace packages from source, so a change in `@syncjob/core` is seen by
 * the adapters' tests without a rebuild. Tests that spawn child processes use the built `dist/`
 * (`npm test` builds first).
 */
const alias = [
  { find: /^@syncjob\/core$/, replacement: here('./packages/core/src/index.ts') },
  {
    find: /^@syncjob\/core\/(client|http|testing|metrics|notifications|store)$/,
    replacement: here('./packages/core/src/$1/index.ts'),
  },
  { find: /^@syncjob\/gmail-emulator$/, replacement: here('./packages/gmail-emulator/src/index.ts') },
  { find: /^@syncjob\/gmail-emulator\/msw$/, replacement: here('./packages/gmail-emulator/src/msw.ts') },
  { find: /^@syncjob\/sqlite$/, replacement: here('./packages/adapters/sqlite/src/index.ts') },
  { find: /^@syncjob\/postgres$/, replacement: here('./packages/adapters/postgres/src/index.ts') },
  { find: /^@syncjob\/gmail$/, replacement: here('./packages/adapters/gmail/src/index.ts') },
];

/**
 * With SYNCJOB_REACT_MODULES set, `react`, `react-dom` and every subpath of them (`react/jsx-runtime`,
 * `react-dom/client`, `react-dom/server`, `react-dom/test-utils`) resolve to that folder, in the
 * kit's source, in the tests and in @testing-library/react (inlined so that it goes through the
 * alias too instead of Node's own resolution).
 */
const reactAlias = SYNCJOB_REACT_MODULES
  ? [
      { find: /^(react|react-dom)(\/.*)?$/, replacement: `${SYNCJOB_REACT_MODULES}/$1$2` },
      // Its ESM build, which vite transforms (the CommonJS `main` would `require` React natively).
      {
        find: /^@testing-library\/react$/,
        replacement: createRequire(here('./packages/react/package.json')).resolve(
          '@testing-library/react/dist/@testing-library/react.esm.js',
        ),
      },
    ]
  : [];
const reactProject = (extra: Record<string, unknown>) =>
  SYNCJOB_REACT_MODULES ? { ...extra, server: { deps: { inline: [/@testing-library\/react/] } } } : extra;

const project = (name: string, root: string, extra: Record<string, unknown> = {}) => ({
  resolve: { alias: name.startsWith('react') ? [...reactAlias, ...alias] : alias },
  test: {
    name,
    root: here(root),
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    ...extra,
  },
});

export default defineConfig({
  test: {
    projects: [
      project('core', './packages/core'),
      project('sqlite', './packages/adapters/sqlite'),
      project('postgres', './packages/adapters/postgres', {
        globalSetup: [here('./packages/adapters/postgres/test/globalSetup.ts')],
      }),
      project('gmail', './packages/adapters/gmail'),
      project('gmail-emulator', './packages/gmail-emulator'),
      // Spawns the built CLI (and worker fixtures on the built packages): build first.
      project('cli', './packages/cli', { fileParallelism: false, testTimeout: 60_000 }),
      // The reliability suite (`npm run test:chaos`), not part of `npm test`: worker processes on the
      // BUILT packages are killed, databases restarted, faults injected; one file at a time so the
      // timings it asserts (takeover within lease + heartbeat) are not those of a starved machine.
      ...(SYNCJOB_CHAOS === '1'
        ? [
            project('chaos', './test/chaos', {
              include: ['**/*.test.ts'],
              fileParallelism: false,
              testTimeout: 600_000,
              hookTimeout: 120_000,
            }),
          ]
        : []),
      // The adversarial suite (issue 16): each attack against the RUNNING example app on the BUILT
      // packages (`npm test` builds first); one file at a time, it runs a whole app.
      project('security', './test/security', {
        include: ['**/*.test.ts'],
        fileParallelism: false,
        testTimeout: 120_000,
      }),
      // A serverless host simulated: one fresh process per work request, on the BUILT packages (build
      // first), on SQLite and on PostgreSQL (a throwaway cluster, like the postgres project's).
      project('serverless', './test/serverless', {
        include: ['**/*.test.ts'],
        globalSetup: [here('./packages/adapters/postgres/test/globalSetup.ts')],
        fileParallelism: false,
        testTimeout: 240_000,
        hookTimeout: 120_000,
      }),
      // Every ts/tsx block of every README, type-checked against the BUILT packages (build first).
      project('docs', './scripts', { include: ['**/*.test.ts'], testTimeout: 300_000 }),
      // The packed-package test's own helpers (the test itself is `npm run test:packed`).
      project('packed', './test/packed', { include: ['*.test.ts'] }),
      project('example', './examples/gmail-sync-app', {
        include: ['server/**/*.test.ts', 'test/**/*.test.ts'],
        // The browser and the compose tests each run a whole app; one at a time on small machines.
        fileParallelism: false,
        testTimeout: 60_000,
        hookTimeout: 120_000,
      }),
      // The React kit: components and hooks in jsdom, and the same modal in a real Chromium.
      project(
        'react',
        './packages/react',
        reactProject({
          environment: 'jsdom',
          include: ['src/**/*.test.tsx', 'test/**/*.test.tsx'],
          setupFiles: [here('./packages/react/test/setup.ts')],
        }),
      ),
      project('react-browser', './packages/react', {
        environment: 'node',
        include: ['test/browser/**/*.browser.test.ts'],
        testTimeout: 60_000,
      }),
    ],
  },
});
