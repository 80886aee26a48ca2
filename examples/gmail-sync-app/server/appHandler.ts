import { randomBytes } from 'node:crypto';
import type { AccountKey, MailDataReader } from '@syncjob/core';
import type { SyncHandler } from '@syncjob/core/http';
import type { OAuth2Client } from 'google-auth-library';
import { buildGoogleAuthUrl, exchangeGoogleCode } from './googleOAuth.ts';
import { latestMessageRows, summarizeMail } from './mailSummary.ts';
import type { Session, SessionCookie } from './sessionCookie.ts';
import type { TokenVault } from './tokenVault.ts';

/** The Gmail source id jobs and the page refer to. */
export const SOURCE_ID = 'gmail';

/** What `GET /api/session` answers: everything the page needs to know about the visitor. */
export interface SessionInfo {
  mode: 'emulator' | 'google';
  source: string;
  /** The mailbox the visitor may sync, `null` until one is connected (Google mode). */
  accountId: string | null;
  /** Emulator settings, shown on the page so the demo says what it simulates. */
  emulator: { messages: number; quota: string; speed: number } | null;
}

export interface AppHandlerOptions {
  sessions: SessionCookie;
  syncHandler: SyncHandler;
  data: MailDataReader;
  staticFiles: (pathname: string) => Promise<Response>;
  /** Emulator mode: every visitor is signed in as this account. */
  demo?: { accountId: string; messages: number; quota: string; speed: number };
  /** Google mode: the consent flow and where refresh tokens go. */
  google?: { client: OAuth2Client; vault: TokenVault };
  /**
   * Serves `GET /metrics` (Prometheus text: job counts, durations, quota units; no message content).
   * Unauthenticated, for a scraper; keep it off the public internet or behind your proxy's auth.
   */
  metrics?: (request: Request) => Promise<Response>;
  onError?: (error: unknown) => void;
}

const STATE_COOKIE = 'syncjob_oauth_state';

const json = (body: unknown, init: ResponseInit = {}) =>
  Response.json(body, { ...init, headers: { 'cache-control': 'no-store', ...init.headers } });

const unauthenticated = () =>
  json(
    { error: { code: 'UNAUTHENTICATED', message: 'Sign in first: open the app page to get a session.' } },
    { status: 401 },
  );

const redirect = (location: string, cookies: string[] = []) => {
  const headers = new Headers({ location, 'cache-control': 'no-store' });
  for (const cookie of cookies) headers.append('set-cookie', cookie);
  return new Response(null, { status: 302, headers });
};

/**
 * The app's one Fetch handler: the sync API under `/api/sync`, the page's own JSON routes, the
 * Google consent flow and the built page. Every `/api` route needs the session cookie.
 */
export function createAppHandler(options: AppHandlerOptions): (request: Request) => Promise<Response> {
  const { sessions, demo, google } = options;
  const onError = options.onError ?? ((error: unknown) => console.error('[app]', error));

  const accountOf = (session: Session): AccountKey | null =>
    session.accountId ? { source: SOURCE_ID, accountId: session.accountId } : null;

  const api = async (request: Request, url: URL, session: Session): Promise<Response> => {
    if (request.method !== 'GET') {
      return json({ error: { code: 'METHOD_NOT_ALLOWED', message: 'Use GET.' } }, { status: 405 });
    }
    if (url.pathname === '/api/session') {
      const info: SessionInfo = {
        mode: demo ? 'emulator' : 'google',
        source: SOURCE_ID,
        accountId: session.accountId,
        emulator: demo ? { messages: demo.messages, quota: demo.quota, speed: demo.speed } : null,
      };
      return json(info);
    }
    const account = accountOf(session);
    if (url.pathname === '/api/mail/summary') {
      return json(
        account ? await summarizeMail(options.data, account) : { total: 0, labels: [], categories: [] },
      );
    }
    if (url.pathname === '/api/mail/latest') {
      return json({ messages: account ? await latestMessageRows(options.data, account, 50) : [] });
    }
    return json({ error: { code: 'NOT_FOUND', message: 'No such route.' } }, { status: 404 });
  };

  const startConsent = (request: Request): Response => {
    if (!google) return redirect('/');
    const cookies: string[] = [];
    if (!sessions.read(request.headers.get('cookie')))
      cookies.push(sessions.issue({ accountId: null }).header);
    const state = randomBytes(24).toString('base64url');
    cookies.push(`${STATE_COOKIE}=${state}; Max-Age=600; Path=/auth; HttpOnly; SameSite=Lax`);
    return redirect(buildGoogleAuthUrl(google.client, state), cookies);
  };

  const finishConsent = async (request: Request, url: URL): Promise<Response> => {
    if (!google) return redirect('/');
    const cookieHeader = request.headers.get('cookie') ?? '';
    const expected = /(?:^|;\s*)syncjob_oauth_state=([^;]+)/.exec(cookieHeader)?.[1];
    const state = url.searchParams.get('state');
    const code = url.searchParams.get('code');
    const clearState = `${STATE_COOKIE}=; Max-Age=0; Path=/auth; HttpOnly; SameSite=Lax`;
    if (!expected || state !== expected || !code) {
      const reason = url.searchParams.get('error') ?? 'state_mismatch';
      return redirect(`/?connect_error=${encodeURIComponent(reason)}`, [clearState]);
    }
    try {
      const connection = await exchangeGoogleCode(google.client, code);
      await google.vault.set(connection.email, connection.refreshToken);
      const previous = sessions.read(cookieHeader);
      const { header } = sessions.issue({ userId: previous?.userId, accountId: connection.email });
      return redirect('/', [header, clearState]);
    } catch (error) {
      onError(error);
      const message = error instanceof Error ? error.message : 'Connecting Gmail failed.';
      return redirect(`/?connect_error=${encodeURIComponent(message)}`, [clearState]);
    }
  };

  const page = async (request: Request, url: URL): Promise<Response> => {
    const response = await options.staticFiles(url.pathname);
    const session = sessions.read(request.headers.get('cookie'));
    // Emulator mode has no login form: opening the page signs the visitor in as the demo user.
    const wanted = demo ? demo.accountId : (session?.accountId ?? null);
    if (session && session.accountId === wanted) return response;
    const headers = new Headers(response.headers);
    headers.append('set-cookie', sessions.issue({ userId: session?.userId, accountId: wanted }).header);
    return new Response(response.body, { status: response.status, headers });
  };

  return async (request) => {
    const url = new URL(request.url);
    try {
      if (url.pathname === '/api/sync' || url.pathname.startsWith('/api/sync/')) {
        return await options.syncHandler(request);
      }
      if (url.pathname.startsWith('/api/')) {
        const session = sessions.read(request.headers.get('cookie'));
        return session ? await api(request, url, session) : unauthenticated();
      }
      if (url.pathname === '/metrics' && options.metrics) return await options.metrics(request);
      if (url.pathname === '/auth/google') return startConsent(request);
      if (url.pathname === '/auth/google/callback') return await finishConsent(request, url);
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return new Response('Method not allowed', { status: 405 });
      }
      return await page(request, url);
    } catch (error) {
      onError(error);
      return json({ error: { code: 'INTERNAL', message: 'An unexpected error occurred.' } }, { status: 500 });
    }
  };
}
