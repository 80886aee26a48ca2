import type { SyncEngine } from '../engine/engineTypes';
import { MIN_WORK_MS } from '../engine/workSlice';
import { SyncError } from '../errors';
import { HttpError, jsonResponse } from './httpError';
import { readJsonBody } from './requestValidation';

/**
 * Default `maxWorkMs`: 25 s stays under the ~30 s request timeouts common in front of functions
 * (AWS API Gateway's 29 s, many proxies' and load balancers' 30 s) and leaves a few seconds of the
 * host's limit for a cold start and the answer. Raise it where the host allows longer invocations
 * (Vercel functions run up to 300 s by default), lower it for a host with a 10 s limit.
 */
export const DEFAULT_MAX_WORK_MS = 25_000;

/** A shorter shared secret is guessable; Vercel recommends at least 16 characters for `CRON_SECRET`. */
export const MIN_WORK_SECRET_LENGTH = 16;

export interface WorkRouteOptions {
  /** The shared secret callers send as `Authorization: Bearer <secret>`. */
  workSecret: string;
  /** Longest slice a caller may ask for, in ms (default 25,000; see `DEFAULT_MAX_WORK_MS`). */
  maxWorkMs?: number;
}

/** Whether `pathname` is `{basePath}/work` (a trailing slash allowed, like the other routes). */
export function isWorkPath(pathname: string, basePath: string): boolean {
  const rest = pathname.slice(basePath.length).replace(/\/$/, '');
  return pathname.startsWith(basePath) && rest === '/work';
}

/**
 * `POST {basePath}/work`: one time slice of the engine's work (`engine.work`), for serverless hosts
 * where a cron or a queue, not a user, makes the jobs run. Authorised by a shared secret, compared
 * in constant time; no user session is involved. Body (optional): `{ "maxMs": n }`, at least 1,000,
 * lowered to `maxWorkMs` when larger (default: `maxWorkMs`). Answers 200 `{ ran, jobs, moreWork }`.
 */
export function createWorkRoute(
  options: WorkRouteOptions,
): (request: Request, getEngine: () => Promise<SyncEngine>) => Promise<Response> {
  const { workSecret } = options;
  if (typeof workSecret !== 'string' || workSecret.length < MIN_WORK_SECRET_LENGTH) {
    throw new SyncError(
      'INVALID_INPUT',
      `workSecret must be a string of at least ${MIN_WORK_SECRET_LENGTH} characters (a random one, e.g. \`openssl rand -hex 32\`).`,
    );
  }
  const maxWorkMs = options.maxWorkMs ?? DEFAULT_MAX_WORK_MS;
  if (!Number.isFinite(maxWorkMs) || maxWorkMs < MIN_WORK_MS) {
    throw new SyncError('INVALID_INPUT', `maxWorkMs must be a number of at least ${MIN_WORK_MS} ms.`);
  }
  const expected = digest(workSecret);

  return async (request, getEngine) => {
    if (request.method !== 'POST') {
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'Use POST on this route.', { allow: 'POST' });
    }
    const header = request.headers.get('authorization') ?? '';
    const match = /^Bearer +(\S+) *$/i.exec(header);
    // Compared as SHA-256 digests in constant time: neither the length nor a prefix of the secret leaks.
    if (!match || !equalBytes(await digest(match[1]!), await expected)) {
      throw new HttpError(
        401,
        'UNAUTHENTICATED',
        'Send the work secret as "Authorization: Bearer <secret>".',
        {
          'www-authenticate': 'Bearer',
        },
      );
    }
    const maxMs = parseMaxMs(await readJsonBody(request), maxWorkMs);
    const result = await (await getEngine()).work({ maxMs, signal: request.signal });
    return jsonResponse(200, { ran: result.ran, jobs: result.jobs, moreWork: result.moreWork });
  };
}

function parseMaxMs(body: unknown, maxWorkMs: number): number {
  if (body === undefined || body === null) return maxWorkMs;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(
      400,
      'INVALID_INPUT',
      'The body must be a JSON object: { "maxMs": number } or empty.',
    );
  }
  const { maxMs } = body as { maxMs?: unknown };
  if (maxMs === undefined) return maxWorkMs;
  if (typeof maxMs !== 'number' || !Number.isFinite(maxMs) || maxMs < MIN_WORK_MS) {
    throw new HttpError(
      400,
      'INVALID_INPUT',
      `maxMs must be a number of milliseconds of at least ${MIN_WORK_MS} (at most ${maxWorkMs} is used).`,
    );
  }
  return Math.min(Math.floor(maxMs), maxWorkMs);
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/** Constant-time comparison of two digests of equal length. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}
