import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { RequestedSyncMode } from '@syncjob/core';
import { usageError } from './cliError';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `parseArgs`, strict, with its errors turned into usage errors (exit code 2). */
export function parseCommandArgs<T extends Options>(
  command: string,
  args: string[],
  options: T,
  positionals = 0,
) {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
  >;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(`syncjob ${command}: ${(error as Error).message}`);
  }
  if (parsed.positionals.length > positionals) {
    throw usageError(`syncjob ${command}: unexpected argument "${parsed.positionals[positionals]}".`);
  }
  return parsed;
}

export const DB_OPTION = { db: { type: 'string' } } as const;

export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw usageError(`--${name} must be a positive whole number (got "${value}").`);
  return n;
}

const MODES: readonly RequestedSyncMode[] = ['auto', 'full', 'incremental'];
export function syncMode(value: string | undefined): RequestedSyncMode {
  if (value === undefined) return 'auto';
  if (!(MODES as readonly string[]).includes(value)) {
    throw usageError(`--mode must be one of ${MODES.join(', ')} (got "${value}").`);
  }
  return value as RequestedSyncMode;
}
