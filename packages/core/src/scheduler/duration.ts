import { SyncError } from '../errors';

/** A length of time: milliseconds as a number, or text such as `'500ms'`, `'30s'`, `'5m'`, `'1h30m'`, `'2d'`. */
export type Duration = number | string;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * Milliseconds of a `Duration`. A number is taken as milliseconds; text is one or more
 * `<number><unit>` parts (units `ms`, `s`, `m`, `h`, `d`; `'1h30m'` is 90 minutes), or bare digits
 * (milliseconds, as in an environment variable). Throws `SyncError` `INVALID_INPUT` on anything
 * else, naming the option, so a typo such as `'5 mins'` fails at start-up rather than scheduling
 * every millisecond.
 */
export function parseDuration(value: Duration, name = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw invalid(name, String(value));
  }
  if (typeof value !== 'string') throw invalid(name, String(value));
  const text = value.trim().toLowerCase();
  if (/^\d+$/.test(text)) return Number(text);
  if (!WHOLE.test(text)) throw invalid(name, value);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!;
  return Math.round(total);
}

const invalid = (name: string, value: string) =>
  new SyncError(
    'INVALID_INPUT',
    `${name} must be milliseconds or a duration such as '30s', '5m', '1h' or '1h30m' (got '${value}').`,
  );
