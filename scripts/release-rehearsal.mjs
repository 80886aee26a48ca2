#!/usr/bin/env node
// Release rehearsal: what `changeset version` + `npm publish` would do, without touching this
// checkout or the registry.
//
// 1. Builds every package here (turbo; cached when nothing changed).
// 2. Copies the repository (tracked and untracked-but-not-ignored files, plus each package's built
//    `dist/`) to a scratch folder; `node_modules` there is a link to this checkout's.
// 3. Adds a throwaway changeset (a minor bump of the fixed `@syncjob/*` group) and runs
//    `changeset version` in the scratch copy.
// 4. Checks that every package got the same new version and that every sibling dependency is a
//    `^<new version>` range.
// 5. For every public package: `npm pack --dry-run --json` (prints the file list and fails on any
//    file outside `package.json`, `README.md`, `LICENSE`, `dist/**` and the core's `protocol/*.json`), then `npm publish --dry-run`.
//
// `--keep` leaves the scratch folder in place for inspection.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');

/**
 * Files a published tarball may hold: the manifest, the README, the licence and the build, plus the
 * core's wire protocol as data (`@syncjob/core/openapi.json`, `@syncjob/core/events.schema.json`).
 */
const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^dist\/.+/,
  /^protocol\/(openapi\.json|events\.schema\.json)$/,
];

const run = (cmd, args, cwd, options = {}) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
const started = Date.now();
const log = (line = '') => process.stdout.write(`${line}\n`);
const step = (line) => log(`==> ${line} (${Math.round((Date.now() - started) / 1000)} s)`);
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

/** The workspace package folders (the root's `workspaces` globs are `dir/*`). */
function workspaceDirs(base) {
  const dirs = [];
  for (const pattern of readJson(join(base, 'package.json')).workspaces) {
    const parent = join(base, pattern.replace(/\/\*$/, ''));
    const entries = run('ls', ['-1', parent], base).split('\n').filter(Boolean);
    for (const entry of entries) {
      if (existsSync(join(parent, entry, 'package.json'))) dirs.push(join(parent, entry));
    }
  }
  return dirs;
}

const failures = [];
const fail = (message) => {
  failures.push(message);
  log(`  FAIL ${message}`);
};

step('build');
run('npx', ['turbo', 'run', 'build', '--filter=./packages/**', '--output-logs=errors-only'], root, {
  stdio: ['ignore', 'inherit', 'inherit'],
});

const scratch = mkdtempSync(join(tmpdir(), 'syncjob-release-'));
step(`scratch copy in ${scratch}`);
try {
  const files = run('git', ['ls-files', '-co', '--exclude-standard', '-z'], root).split('\0').filter(Boolean);
  for (const file of files) {
    const from = join(root, file);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(join(scratch, file)), { recursive: true });
    cpSync(from, join(scratch, file));
  }
  for (const dir of workspaceDirs(root)) {
    const dist = join(dir, 'dist');
    if (existsSync(dist)) cpSync(dist, join(scratch, relative(root, dist)), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');

  const packages = workspaceDirs(scratch).map((dir) => ({
    dir,
    manifest: readJson(join(dir, 'package.json')),
  }));
  const publishable = packages.filter((p) => !p.manifest.private);
  const before = publishable[0].manifest.version;

  step('throwaway changeset + changeset version');
  writeFileSync(
    join(scratch, '.changeset', 'release-rehearsal.md'),
    `---\n"@syncjob/core": minor\n---\n\nRelease rehearsal (throwaway).\n`,
  );
  log(run(join(root, 'node_modules', '.bin', 'changeset'), ['version'], scratch).trim());

  const bumped = packages.map(({ dir }) => ({ dir, manifest: readJson(join(dir, 'package.json')) }));
  const versions = new Set(bumped.filter((p) => !p.manifest.private).map((p) => p.manifest.version));
  const after = [...versions][0];
  log(`  version ${before} -> ${[...versions].join(', ')}`);
  if (versions.size !== 1) fail(`the fixed group should share one version, got ${[...versions].join(', ')}`);
  if (after === before) fail(`changeset version did not bump ${before}`);
  for (const { manifest } of bumped) {
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies']) {
      for (const [name, range] of Object.entries(manifest[field] ?? {})) {
        if (!name.startsWith('@syncjob/')) continue;
        if (range !== `^${after}`)
          fail(`${manifest.name} ${field}.${name} is "${range}", expected "^${after}"`);
      }
    }
  }

  for (const { dir, manifest } of bumped.filter((p) => !p.manifest.private)) {
    step(`${manifest.name}@${manifest.version} (${relative(scratch, dir)})`);
    const [pack] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], dir));
    const paths = pack.files.map((f) => f.path).sort();
    for (const path of paths) log(`  ${ALLOWED.some((re) => re.test(path)) ? ' ' : '!'} ${path}`);
    for (const path of paths) {
      if (!ALLOWED.some((re) => re.test(path))) fail(`${manifest.name} ships ${path}`);
    }
    for (const required of ['package.json', 'README.md', 'LICENSE']) {
      if (!paths.includes(required)) fail(`${manifest.name} does not ship ${required}`);
    }
    if (!paths.some((p) => p.startsWith('dist/'))) fail(`${manifest.name} ships no dist/`);
    log(`  ${paths.length} files, ${pack.size} B packed, ${pack.unpackedSize} B unpacked`);

    try {
      const out = run('npm', ['publish', '--dry-run', '--ignore-scripts', '--tag', 'rehearsal'], dir);
      const line = `${out}`.split('\n').find((l) => l.startsWith('+ ')) ?? '(published, dry run)';
      log(`  npm publish --dry-run: ${line.trim()}`);
    } catch (error) {
      fail(`${manifest.name}: npm publish --dry-run failed\n${error.stderr ?? error.message}`);
    }
  }
} finally {
  if (keep) log(`(kept ${scratch})`);
  else rmSync(scratch, { recursive: true, force: true });
}

if (failures.length > 0) {
  log(`\nrelease rehearsal FAILED (${failures.length}):`);
  for (const message of failures) log(`- ${message}`);
  process.exit(1);
}
step('release rehearsal passed');
