import { LeaseLostError, SyncError } from '@syncjob/core';
import { describe, expect, it } from 'vitest';
import { isConnectionError, toStoreError } from './storeErrors';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('toStoreError', () => {
  it.each([
    withCode('connect ECONNREFUSED 10.0.3.7:5432', 'ECONNREFUSED'),
    withCode('getaddrinfo ENOTFOUND db.internal', 'ENOTFOUND'),
    withCode('terminating connection due to administrator command', '57P01'),
    withCode('the database system is starting up', '57P03'),
    withCode('connection failure', '08006'),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
    new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'connect failed'),
    new Error('query failed', { cause: withCode('read ECONNRESET', 'ECONNRESET') }),
  ])('turns "$message" into a retryable STORE_UNAVAILABLE', (error) => {
    const converted = toStoreError(error);
    expect(converted).toBeInstanceOf(SyncError);
    expect(converted).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true, cause: error });
    expect((converted as Error).message).toMatch(/PostgreSQL is unreachable .* can be retried/);
    // The driver's text names hosts and addresses: it stays on `cause`, never in the message.
    expect((converted as Error).message).not.toMatch(/10\.0\.3\.7|db\.internal|5432|127\.0\.0\.1/);
  });

  it('leaves statement errors, app errors and syncjob errors as they are', () => {
    const syntax = withCode('syntax error at or near "SELEC"', '42601');
    const lost = new LeaseLostError('job-1');
    const app = new Error('app sink failed');
    expect(toStoreError(syntax)).toBe(syntax);
    expect(toStoreError(lost)).toBe(lost);
    expect(toStoreError(app)).toBe(app);
    expect(isConnectionError('Connection terminated')).toBe(false);
  });
});
