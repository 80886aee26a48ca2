import { SyncError } from '@syncjob/core';
import { sseTransport } from '@syncjob/core/client';
import { createSyncHandler } from '@syncjob/core/http';
import { act, renderHook, waitFor } from '@testing-library/react';
import { StrictMode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, createSyncFixture, type SyncFixture, syncToEnd } from '../test/syncFixture';
import { useSyncJob } from './useSyncJob';

let fixture: SyncFixture;

afterEach(async () => {
  fixture?.source.control.release();
  await fixture?.stop();
});

describe('useSyncJob', () => {
  it('reattaches on mount to a sync started elsewhere, and follows it to the end', async () => {
    fixture = createSyncFixture();
    fixture.source.control.hang();
    const { job } = await fixture.engine.start(ACCOUNT);
    await fixture.source.control.whenHanging();

    const { result } = renderHook(() => useSyncJob(ACCOUNT), { wrapper: fixture.wrapper });
    await waitFor(() => expect(result.current.job?.id).toBe(job.id));
    expect(result.current.isRunning).toBe(true);
    expect(result.current.status).toBe('running');

    fixture.source.control.release();
    await waitFor(() => expect(result.current.status).toBe('completed'));
    expect(result.current.isRunning).toBe(false);
    expect(result.current.percent).toBe(100);
    expect(result.current.job?.counters.stored).toBe(40);
  });

  it('shows the latest job when none is active', async () => {
    fixture = createSyncFixture();
    await syncToEnd(fixture);
    const { result } = renderHook(() => useSyncJob(ACCOUNT), { wrapper: fixture.wrapper });
    await waitFor(() => expect(result.current.status).toBe('completed'));
    expect(result.current.isRunning).toBe(false);
  });

  it('starts, runs and completes; the logs arrive each once, in order', async () => {
    fixture = createSyncFixture({ delayMs: 5 });
    const { result } = renderHook(() => useSyncJob(ACCOUNT), {
      wrapper: ({ children }) => <StrictMode>{fixture.wrapper({ children })}</StrictMode>,
    });
    await waitFor(() => expect(result.current.isLoading).toBe(false));
    expect(result.current.job).toBeNull();
    await act(() => result.current.start());
    await waitFor(() => expect(result.current.isRunning).toBe(true));
    await waitFor(() => expect(result.current.status).toBe('completed'), { timeout: 5_000 });
    const stored = await fixture.engine.getLogs(result.current.job!.id, { limit: 1_000 });
    expect(result.current.logs.map((line) => line.seq)).toEqual(stored.map((line) => line.seq));
  });

  it('connects only once enabled', async () => {
    fixture = createSyncFixture();
    await syncToEnd(fixture);
    const { result, rerender } = renderHook(
      (props: { enabled: boolean }) => useSyncJob({ ...ACCOUNT, ...props }),
      {
        wrapper: fixture.wrapper,
        initialProps: { enabled: false },
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(result.current.job).toBeNull();
    rerender({ enabled: true });
    await waitFor(() => expect(result.current.status).toBe('completed'));
  });

  it('cancels a running sync', async () => {
    fixture = createSyncFixture();
    fixture.source.control.hang();
    const { result } = renderHook(() => useSyncJob(ACCOUNT), { wrapper: fixture.wrapper });
    await act(() => result.current.start());
    await fixture.source.control.whenHanging();
    await act(() => result.current.cancel());
    await waitFor(() => expect(result.current.status).toBe('cancelled'));
  });

  it('retries a failed sync as a new job that completes', async () => {
    fixture = createSyncFixture();
    fixture.source.control.failNext(
      new SyncError('REAUTH_REQUIRED', 'Sign in to Gmail again.', { retryable: false }),
    );
    const { result } = renderHook(() => useSyncJob(ACCOUNT), { wrapper: fixture.wrapper });
    await act(() => result.current.start());
    await waitFor(() => expect(result.current.status).toBe('failed'));
    const failedId = result.current.job!.id;
    expect(result.current.job?.error?.message).toBe('Sign in to Gmail again.');
    await act(() => result.current.retry());
    await waitFor(() => expect(result.current.status).toBe('completed'));
    expect(result.current.job?.id).not.toBe(failedId);
  });

  it('keeps every log line exactly once across dropped streams (SSE over the real HTTP handler)', async () => {
    let cuts = 0;
    fixture = createSyncFixture({
      delayMs: 5,
      transport: (engine) => {
        const handler = createSyncHandler(engine, {
          basePath: '/api/sync',
          authenticate: () => 'user',
          authorizeAccount: () => true,
          pollIntervalMs: 20,
        });
        /** Serves the handler to `fetch`, cutting the first three event streams after a few chunks. */
        const cuttingFetch: typeof fetch = async (input, init) => {
          const response = await handler(new Request(input, init));
          if (!String(input).endsWith('/events') || cuts >= 3 || !response.body) return response;
          cuts++;
          const reader = response.body.getReader();
          let chunks = 0;
          const body = new ReadableStream<Uint8Array>({
            async pull(controller) {
              if (chunks++ >= 4) {
                await reader.cancel();
                controller.error(new TypeError('terminated'));
                return;
              }
              const { done, value } = await reader.read();
              if (done) controller.close();
              else controller.enqueue(value);
            },
            cancel: () => reader.cancel(),
          });
          return new Response(body, { status: response.status, headers: response.headers });
        };
        return sseTransport({
          baseUrl: 'http://app.test/api/sync',
          fetch: cuttingFetch,
          reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
        });
      },
    });
    const { result } = renderHook(() => useSyncJob(ACCOUNT), { wrapper: fixture.wrapper });
    await act(() => result.current.start());
    await waitFor(() => expect(result.current.status).toBe('completed'), { timeout: 8_000 });
    expect(cuts).toBe(3);
    const seqs = result.current.logs.map((line) => line.seq);
    const stored = await fixture.engine.getLogs(result.current.job!.id, { limit: 1_000 });
    expect(seqs).toEqual(stored.map((line) => line.seq));
    expect(new Set(seqs).size).toBe(seqs.length);
  });
});
