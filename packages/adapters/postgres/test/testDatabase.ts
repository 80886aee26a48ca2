import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, inject } from 'vitest';

/** The test database, or `null` when PostgreSQL is unavailable (see `globalSetup.ts`). */
export const postgresUrl: string | null = inject('postgresUrl');

const SKIP_REASON = 'skipped: no PostgreSQL (apt-get install postgresql or set DATABASE_URL)';

/** `describe` that skips, with the reason in its name, when there is no database. */
export const describePostgres = (name: string, fn: () => void) =>
  postgresUrl ? describe(name, fn) : describe.skip(`${name} (${SKIP_REASON})`, fn);

/** A new, unused schema name: each test file or conformance test gets tables of its own. */
export const freshSchema = (prefix = 't'): string => `${prefix}_${randomBytes(6).toString('hex')}`;

/** Drops schemas created by a test run (needed with a long-lived DATABASE_URL database). */
export async function dropSchemas(url: string, schemas: Iterable<string>): Promise<void> {
  const names = [...schemas];
  if (names.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  } finally {
    await client.end();
  }
}
