import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  findPostgresBinaries,
  type PgBinaries,
  startPgCluster,
} from '../../packages/adapters/postgres/test/pgCluster';

const run = promisify(execFile);
const binaries = findPostgresBinaries();
const { DATABASE_URL, SYNCJOB_REQUIRE_POSTGRES } = process.env;

/** PostgreSQL chaos tests can run: server binaries for a throwaway cluster, or a DATABASE_URL. */
export const postgresAvailable = binaries !== null || Boolean(DATABASE_URL);
/** The restart test needs a server it may stop: a throwaway cluster, never someone's DATABASE_URL. */
export const restartableAvailable = binaries !== null;

const BANNER = (what: string) => `
┌──────────────────────────────────────────────────────────────────────────┐
│  PostgreSQL CHAOS TESTS SKIPPED (${what.padEnd(39)}) │
│  No PostgreSQL server binaries${DATABASE_URL ? '' : ' and no DATABASE_URL'}.${' '.repeat(DATABASE_URL ? 42 : 21)}│
│  apt-get install postgresql, or set DATABASE_URL (not for the restart).  │
│  SYNCJOB_REQUIRE_POSTGRES=1 turns this skip into a failure.              │
└──────────────────────────────────────────────────────────────────────────┘
`;

/** Says loudly that a PostgreSQL test is skipped, or fails when PostgreSQL is required. */
export function skipLoudly(what: string, available: boolean): boolean {
  if (available) return false;
  if (SYNCJOB_REQUIRE_POSTGRES === '1') {
    throw new Error(`SYNCJOB_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable for the chaos test "${what}".`);
  }
  console.warn(BANNER(what));
  return true;
}

/** A database for one chaos test file, and a fresh schema name per use. */
export interface ChaosDatabase {
  url: string;
  schema(): string;
  /** `pg_ctl stop` (fast) of the throwaway cluster. */
  stopServer(): Promise<void>;
  /** `pg_ctl start` of the throwaway cluster with the options it was started with. */
  startServer(): Promise<void>;
  /** `pg_ctl restart` (fast). */
  restartServer(): Promise<void>;
  dispose(): Promise<void>;
}

export async function openChaosDatabase(): Promise<ChaosDatabase> {
  const schema = () => `chaos_${randomBytes(5).toString('hex')}`;
  if (!binaries) {
    const refuse = () => Promise.reject(new Error('no throwaway cluster to restart (DATABASE_URL in use)'));
    return {
      url: DATABASE_URL!,
      schema,
      stopServer: refuse,
      startServer: refuse,
      restartServer: refuse,
      dispose: async () => {},
    };
  }
  const cluster = await startPgCluster({ binaries, maxConnections: 200 });
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  const dataDir: string = (await client.query('SHOW data_directory')).rows[0].data_directory;
  await client.end();
  // postmaster.opts holds the command line of the running server; `pg_ctl start` needs it again.
  const opts = readFileSync(join(dataDir, 'postmaster.opts'), 'utf8');
  const quoted = [...opts.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  const dashD = quoted.indexOf('-D');
  const serverOptions = quoted.filter((_, i) => dashD < 0 || (i !== dashD && i !== dashD + 1));
  const ctl = (args: string[]) => pgCtl(binaries, dataDir, args);
  // With no log file the server would keep pg_ctl's stdout open, and execFile would never return.
  const log = join(dirname(dataDir), 'server.log');
  return {
    url: cluster.url,
    schema,
    stopServer: () => ctl(['-m', 'fast', '-w', 'stop']),
    startServer: () => ctl(['-l', log, '-o', serverOptions.join(' '), '-w', '-t', '60', 'start']),
    restartServer: () => ctl(['-l', log, '-m', 'fast', '-w', '-t', '60', 'restart']),
    dispose: () => cluster.stop(),
  };
}

async function pgCtl(bins: PgBinaries, dataDir: string, args: string[]): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const argv = ['-D', dataDir, ...args];
  // The cluster belongs to the postgres user when the tests run as root (initdb refuses root).
  if (asRoot) await run('runuser', ['-u', 'postgres', '--', bins.pgCtl, ...argv]);
  else await run(bins.pgCtl, argv);
}
