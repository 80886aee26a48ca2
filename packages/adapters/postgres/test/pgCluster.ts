import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A throwaway PostgreSQL server for tests and benchmarks. */
export interface PgCluster {
  /** Connection string of the database created in it. */
  url: string;
  /** Stops the server and deletes its files. */
  stop(): Promise<void>;
}

export interface PgBinaries {
  initdb: string;
  pgCtl: string;
}

/**
 * The newest installed server binaries (`/usr/lib/postgresql/<version>/bin`), or `null`.
 * `SYNCJOB_POSTGRES_ROOT` points elsewhere (set it to a missing directory to try the "no server" path).
 */
export function findPostgresBinaries(
  root = process.env.SYNCJOB_POSTGRES_ROOT ?? '/usr/lib/postgresql',
): PgBinaries | null {
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    const initdb = join(bin, 'initdb');
    const pgCtl = join(bin, 'pg_ctl');
    if (existsSync(initdb) && existsSync(pgCtl)) return { initdb, pgCtl };
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Starts a cluster in a fresh temp directory on a free port, with trust auth on 127.0.0.1 only,
 * durability off (it is thrown away) and one database created. initdb refuses to run as root, so
 * as root the binaries run as the `postgres` user through `runuser`, on a directory it owns.
 */
export async function startPgCluster(
  options: { binaries?: PgBinaries; database?: string; maxConnections?: number } = {},
): Promise<PgCluster> {
  const binaries = options.binaries ?? findPostgresBinaries();
  if (!binaries) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql).');
  const dir = mkdtempSync(join(tmpdir(), 'syncjob-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const exec = (file: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', file, ...args]) : run(file, args);
  const data = join(dir, 'data');
  const port = await freePort();
  const settings = [
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    `-p ${port}`,
    `-c max_connections=${options.maxConnections ?? 300}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
  ].join(' ');
  const stop = async () => {
    await exec(binaries.pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await exec(binaries.initdb, [
      '-D',
      data,
      '-U',
      'postgres',
      '-A',
      'trust',
      '--no-locale',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    await exec(binaries.pgCtl, [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-o',
      settings,
      '-w',
      '-t',
      '60',
      'start',
    ]);
    const database = options.database ?? 'syncjob_test';
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${database}"`);
    } finally {
      await admin.end();
    }
    return { url: `postgres://postgres@127.0.0.1:${port}/${database}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
