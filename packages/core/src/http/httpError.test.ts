import { describe, expect, it } from 'vitest';
import { SYNC_ERROR_CODES, SyncError, type SyncErrorCode } from '../errors';
import { HttpError, STATUS_BY_CODE, toHttpError } from './httpError';

describe('toHttpError', () => {
  it('has a status for every SyncErrorCode, none of them a 500 but INTERNAL', () => {
    for (const code of SYNC_ERROR_CODES) {
      const status = STATUS_BY_CODE[code as SyncErrorCode];
      expect(status, code).toBeGreaterThanOrEqual(400);
      if (code !== 'INTERNAL') expect(status, code).not.toBe(500);
    }
  });

  it.each([
    ['INVALID_INPUT', 400],
    ['NOT_FOUND', 404],
    ['CONFLICT', 409],
    ['REAUTH_REQUIRED', 409],
    ['RATE_LIMITED', 429],
    ['PROVIDER_ERROR', 502],
    ['SHUTDOWN', 503],
  ] as const)('answers %s with %i and its message', (code, status) => {
    const error = toHttpError(new SyncError(code, `What happened (${code}) and what to do.`));
    expect(error).toMatchObject({ status, code, message: `What happened (${code}) and what to do.` });
  });

  it('advertises Retry-After for STORE_UNAVAILABLE and for a rate limit that says when', () => {
    expect(toHttpError(new SyncError('STORE_UNAVAILABLE', 'db down'))).toMatchObject({
      status: 503,
      headers: { 'retry-after': '5' },
    });
    const limited = toHttpError(new SyncError('RATE_LIMITED', 'quota', { retryAfterMs: 1500 }));
    expect(limited.headers).toEqual({ 'retry-after': '2' });
    expect(toHttpError(new SyncError('RATE_LIMITED', 'quota')).headers).toEqual({});
  });

  it('answers anything else, and INTERNAL, with 500 and no detail', () => {
    for (const cause of [
      new TypeError('x is undefined at /srv/a.js'),
      new SyncError('INTERNAL', 'secret detail'),
    ]) {
      const error = toHttpError(cause);
      expect(error).toMatchObject({ status: 500, code: 'INTERNAL' });
      expect(error.message).not.toMatch(/secret|srv/);
    }
  });

  it('passes an HttpError through', () => {
    const error = new HttpError(401, 'UNAUTHENTICATED', 'Sign in.');
    expect(toHttpError(error)).toBe(error);
  });
});
