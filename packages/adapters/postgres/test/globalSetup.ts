import type { TestProject } from 'vitest/node';
import { findPostgresBinaries, startPgCluster } from './pgCluster';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string of the test database, `null` when PostgreSQL is unavailable (suites skip). */
    postgresUrl: string | null;
  }
}

const BANNER = `
┌──────────────────────────────────────────────────────────────────────────┐
│  PostgreSQL tests SKIPPED: no DATABASE_URL and no server binaries.       │
│  Enable them with  apt-get install postgresql  (a throwaway cluster is   │
│  started per run) or  DATABASE_URL=postgres://user@host/db  npm test.    │
│  CI sets SYNCJOB_REQUIRE_POSTGRES=1, which turns this into a failure.    │
└──────────────────────────────────────────────────────────────────────────┘
`;

/**
 * Gives the PostgreSQL suites a database: `DATABASE_URL` when set, otherwise a throwaway cluster
 * started here and deleted at teardown. Test files isolate themselves with a schema of their own.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const url = process.env.DATABASE_URL;
  if (url) {
    project.provide('postgresUrl', url);
    return undefined;
  }
  if (!findPostgresBinaries()) {
    if (process.env.SYNCJOB_REQUIRE_POSTGRES === '1') {
      throw new Error(
        'SYNCJOB_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: set DATABASE_URL or apt-get install postgresql.',
      );
    }
    console.warn(BANNER);
    project.provide('postgresUrl', null);
    return undefined;
  }
  const cluster = await startPgCluster();
  project.provide('postgresUrl', cluster.url);
  return () => cluster.stop();
}
