import type { Job } from '@syncjob/core/client';
// The answers' shapes are the server's own types. Type-only, so nothing of the server reaches the
// page bundle.
import type { SessionInfo } from '../server/appHandler.ts';
import type { MailSummary, MessageRow } from '../server/mailSummary.ts';

export type { MailSummary, MessageRow, SessionInfo };

/** GETs JSON from the app server; the session cookie goes along (same origin). */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, { credentials: 'same-origin', signal });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `${path} answered HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

export const fetchSession = () => getJson<SessionInfo>('/api/session');
export const fetchSummary = (signal?: AbortSignal) => getJson<MailSummary>('/api/mail/summary', signal);
export const fetchLatest = (signal?: AbortSignal) =>
  getJson<{ messages: MessageRow[] }>('/api/mail/latest', signal).then((r) => r.messages);
export const fetchJobs = (source: string, accountId: string, signal?: AbortSignal) =>
  getJson<{ jobs: Job[] }>(
    `/api/sync/jobs?source=${encodeURIComponent(source)}&accountId=${encodeURIComponent(accountId)}&limit=20`,
    signal,
  ).then((r) => r.jobs);
