#!/usr/bin/env node
// Runs the React kit's jsdom and Chromium tests against React 18.3: installs react, react-dom and
// their types (18) into a scratch folder (`npm install --prefix`, the lockfile is not touched) and
// runs the vitest projects `react` and `react-browser` with SYNCJOB_REACT_MODULES pointing there
// (vitest.config.ts and the browser test's esbuild bundle alias React to it). First it typechecks
// the kit's source against @types/react 18. First it typechecks
// the kit's source against @types/react 18.
// Extra arguments go to vitest. The folder is $TMPDIR/syncjob-react18,
// reused across runs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(tmpdir(), 'syncjob-react18');
const SPECS = ['react@~18.3.1', 'react-dom@~18.3.1', '@types/react@^18.3.0', '@types/react-dom@^18.3.0'];

mkdirSync(dir, { recursive: true });
const manifest = join(dir, 'package.json');
const wanted = JSON.stringify(SPECS);
const installed = existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).description === wanted;
if (!installed || !existsSync(join(dir, 'node_modules', 'react-dom', 'client.js'))) {
  writeFileSync(
    manifest,
    `${JSON.stringify({ name: 'syncjob-react18', private: true, description: wanted })}\n`,
  );
  process.stdout.write(`==> npm install --prefix ${dir} ${SPECS.join(' ')}\n`);
  execFileSync(
    'npm',
    ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-package-lock', ...SPECS],
    {
      stdio: 'inherit',
    },
  );
}
const modules = join(dir, 'node_modules');
const version = (name) => JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')).version;
process.stdout.write(`==> react ${version('react')}, react-dom ${version('react-dom')} from ${modules}\n`);

// The kit's source typechecks against @types/react 18 (what a React 18 user compiles against).
process.stdout.write('==> tsc: packages/react/src against @types/react 18\n');
const kit = join(root, 'packages', 'react');
const tsconfig = {
  extends: join(kit, 'tsconfig.json'),
  compilerOptions: {
    noEmit: true,
    typeRoots: [join(root, 'node_modules', '@types')],
    paths: {
      react: [join(modules, '@types', 'react')],
      'react/*': [join(modules, '@types', 'react', '*')],
      'react-dom': [join(modules, '@types', 'react-dom')],
      'react-dom/*': [join(modules, '@types', 'react-dom', '*')],
      '@syncjob/core': [join(root, 'packages', 'core', 'src', 'index.ts')],
      '@syncjob/core/*': [join(root, 'packages', 'core', 'src', '*', 'index.ts')],
    },
  },
  include: [join(kit, 'src')],
  exclude: [join(kit, 'src', '**', '*.test.tsx')],
};
writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
execFileSync('npx', ['tsc', '-p', join(dir, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });

process.stdout.write('==> vitest: projects react and react-browser\n');
execFileSync(
  'npx',
  ['vitest', 'run', '--project', 'react', '--project', 'react-browser', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, SYNCJOB_REACT_MODULES: modules, SYNCJOB_REACT_MAJOR: '18' },
  },
);
