import { DB_OPTION, parseCommandArgs } from '../cliArgs';
import type { CliContext } from '../cliContext';
import { EXIT } from '../cliError';
import { parseDatabase, unreachable } from '../openStore';

/** `syncjob migrate --db <db>`: creates or upgrades the schema (idempotent). */
export async function migrateCommand(ctx: CliContext): Promise<number> {
  const { values } = parseCommandArgs('migrate', ctx.args, DB_OPTION);
  const target = parseDatabase(values.db ?? ctx.env.SYNCJOB_DB);
  let result: { applied: number[]; version: number };
  try {
    if (target.kind === 'sqlite') {
      const { migrate } = await import('@syncjob/sqlite');
      result = await migrate(target.path);
    } else {
      const { migrate } = await import('@syncjob/postgres');
      result = await migrate(target.url);
    }
  } catch (error) {
    throw unreachable(target, error);
  }
  ctx.stdout.write(
    result.applied.length === 0
      ? `Schema already at version ${result.version}.\n`
      : `Applied migration${result.applied.length > 1 ? 's' : ''} ${result.applied.join(', ')}; schema at version ${result.version}.\n`,
  );
  return EXIT.ok;
}
