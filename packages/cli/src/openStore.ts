import type { SyncStore } from '@syncjob/core';
import { SyncError } from '@syncjob/core';
import { CliError, EXIT, usageError } from './cliError';

/** What `--db` names: `sqlite:<path>` (or a path ending in .db/.sqlite) or a `postgres://` URL. */
export type DatabaseTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export function parseDatabase(value: string | undefined): DatabaseTarget {
  if (!value)
    throw usageError(
      '--db is required (or set SYNCJOB_DB): sqlite:./sync.db or postgres://user:pass@host/db.',
    );
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: 'postgres', url: value };
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw usageError('--db sqlite: needs a file path, e.g. sqlite:./sync.db.');
    return { kind: 'sqlite', path };
  }
  if (/\.(db|sqlite3?)$/i.test(value)) return { kind: 'sqlite', path: value };
  throw usageError(`--db must be sqlite:<file> or postgres://… (got "${redact(value)}").`);
}

/** Opens the store and proves it answers, so an unreachable database fails here with exit code 3. */
export async function openStore(target: DatabaseTarget): Promise<SyncStore> {
  let store: SyncStore | undefined;
  try {
    if (target.kind === 'sqlite') {
      const { createSqliteStore } = await import('@syncjob/sqlite');
      store = createSqliteStore({ path: target.path });
    } else {
      const { createPostgresStore } = await import('@syncjob/postgres');
      store = await createPostgresStore({ connectionString: target.url });
    }
    await store.listAccountStates({ source: '' });
    return store;
  } catch (error) {
    await store?.close().catch(() => {});
    throw unreachable(target, error);
  }
}

export function unreachable(target: DatabaseTarget, error: unknown): CliError {
  const cause = SyncError.fromUnknown(error, 'STORE_UNAVAILABLE');
  const where =
    target.kind === 'sqlite' ? `SQLite file ${target.path}` : `PostgreSQL at ${redact(target.url)}`;
  return new CliError(EXIT.storeUnavailable, `Cannot open the ${where}: ${cause.message}`);
}

/** A connection string without its password, for messages. */
const redact = (url: string): string => url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
