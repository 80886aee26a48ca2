import { describe, expect, it } from 'vitest';
import { errorOfResponse, errorOfThrown, parseRetryAfter } from './gmailErrors';
import { historyChanges } from './gmailSource';

const body = (reason: string, status = 'RESOURCE_EXHAUSTED') =>
  JSON.stringify({ error: { code: 0, status, errors: [{ reason, domain: 'usageLimits', message: 'x' }] } });

describe('Gmail error mapping', () => {
  it('maps 429 and rate-limit 403s to RATE_LIMITED with Retry-After, other 403s to a permanent error', () => {
    const limited = errorOfResponse('messages.get', 429, { 'retry-after': '1.5' }, body('rateLimitExceeded'));
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 1_500 });
    const user = errorOfResponse(
      'messages.get',
      403,
      new Headers({ 'retry-after': '2' }),
      body('userRateLimitExceeded'),
    );
    expect(user).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 2_000 });
    const denied = errorOfResponse('messages.get', 403, undefined, body('forbidden', 'PERMISSION_DENIED'));
    expect(denied).toMatchObject({ code: 'PROVIDER_ERROR', retryable: false });
  });

  it('maps 5xx and dropped connections to retryable NETWORK, 401 to REAUTH_REQUIRED', () => {
    expect(errorOfResponse('x', 503, undefined, '')).toMatchObject({ code: 'NETWORK', retryable: true });
    expect(
      errorOfThrown('x', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })),
    ).toMatchObject({
      code: 'NETWORK',
      retryable: true,
    });
    expect(errorOfResponse('x', 401, undefined, body('authError'))).toMatchObject({
      code: 'REAUTH_REQUIRED',
      retryable: false,
    });
  });

  it('reads a gaxios-shaped error without keeping it (its request holds the token)', () => {
    const gaxiosLike = {
      message: 'Request failed',
      config: { headers: { Authorization: 'Bearer ya29.secret' } },
      response: {
        status: 429,
        headers: new Headers({ 'retry-after': '3' }),
        data: JSON.parse(body('rateLimitExceeded')),
      },
    };
    const error = errorOfThrown('users.messages.list', gaxiosLike) as Error;
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 3_000 });
    expect(error.cause).toBeUndefined();
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain('ya29');
  });

  it('parses Retry-After seconds (fractions too) and HTTP dates', () => {
    expect(parseRetryAfter('0.25')).toBe(250);
    expect(parseRetryAfter('7')).toBe(7_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('historyChanges', () => {
  it('folds history into adds to fetch, deletes and label changes, in order', () => {
    const changes = historyChanges([
      { messagesAdded: [{ message: { id: 'a', threadId: 't1' } }] },
      { labelsAdded: [{ message: { id: 'a' }, labelIds: ['STARRED'] }] },
      { labelsAdded: [{ message: { id: 'old' }, labelIds: ['Label_1'] }] },
      { labelsRemoved: [{ message: { id: 'old' }, labelIds: ['INBOX'] }] },
      { messagesAdded: [{ message: { id: 'b', threadId: 't2' } }] },
      { messagesDeleted: [{ message: { id: 'b' } }] },
      { messagesDeleted: [{ message: { id: 'gone' } }] },
    ]);
    expect(changes.added).toEqual([{ id: 'a', group: 't1' }]);
    expect(changes.deleted).toEqual(['b', 'gone']);
    expect(changes.labels).toEqual([
      { id: 'old', add: ['Label_1'], remove: [] },
      { id: 'old', add: [], remove: ['INBOX'] },
    ]);
  });
});
