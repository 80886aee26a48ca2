import { randomBytes } from 'node:crypto';
import type { AccountKey, MailDataReader } from '@syncjob/core';
import type { SyncHandler } from '@syncjob/core/http';
import type { OAuth2Client } from 'google-auth-library';
import {
  buildGoogleAuthUrl,
  type ConnectErrorCode,
  createCodeVerifier,
  exchangeGoogleCode,
  GoogleConnectError,
} from './googleOAuth.ts';
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
  /** Served over https: the OAuth state cookie gets `Secure` (and a `__Secure-` name). Default false. */
  secureCookies?: boolean;
  onError?: (error: unknown) => void;
}

/**
 * Headers of every page and file: no inline or foreign script, style or connection, no framing
 * (clickjacking), no Referer (page URLs may carry `?connect_error=`), no MIME sniffing.
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/** What `/?connect_error=` may say: the Google `error` parameter mapped to a fixed set. */
const connectErrorOf = (googleError: string | null): ConnectErrorCode =>
  googleError === 'access_denied' ? 'access_denied' : googleError ? 'oauth_failed' : 'state_mismatch';

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
  const secure = options.secureCookies === true;
  // `__Secure-` makes the browser refuse this cookie unless set over https with `Secure`.
  const stateCookie = secure ? '__Secure-syncjob_oauth_state' : 'syncjob_oauth_state';
  const stateAttributes = `Path=/auth; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  const stateCookiePattern = new RegExp(`(?:^|;\\s*)${stateCookie}=([^;]+)`);

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
    const codeVerifier = createCodeVerifier();
    // The PKCE verifier travels with the state, in the same HttpOnly cookie (base64url has no '.').
    cookies.push(`${stateCookie}=${state}.${codeVerifier}; Max-Age=600; ${stateAttributes}`);
    return redirect(buildGoogleAuthUrl(google.client, state, codeVerifier), cookies);
  };

  const connectFailed = (code: ConnectErrorCode, clearState: string) =>
    redirect(`/?connect_error=${code}`, [clearState]);

  const finishConsent = async (request: Request, url: URL): Promise<Response> => {
    if (!google) return redirect('/');
    const cookieHeader = request.headers.get('cookie') ?? '';
    const [expected, codeVerifier] = stateCookiePattern.exec(cookieHeader)?.[1]?.split('.') ?? [];
    const state = url.searchParams.get('state');
    const code = url.searchParams.get('code');
    const clearState = `${stateCookie}=; Max-Age=0; ${stateAttributes}`;
    if (!expected || !codeVerifier || state !== expected || !code) {
      const googleError = url.searchParams.get('error');
      const reason = connectErrorOf(googleError);
      // The detail goes to the log only: the page gets one of a few fixed codes, never this text.
      const detail = googleError
        ? `Google answered error=${JSON.stringify(googleError.slice(0, 100))}`
        : 'the state does not match this browser';
      onError(new GoogleConnectError(reason, `Connecting Gmail failed: ${detail}.`));
      return connectFailed(reason, clearState);
    }
    try {
      const connection = await exchangeGoogleCode(google.client, code, codeVerifier);
      await google.vault.set(connection.email, connection.refreshToken);
      const previous = sessions.read(cookieHeader);
      const { header } = sessions.issue({ userId: previous?.userId, accountId: connection.email });
      return redirect('/', [header, clearState]);
    } catch (error) {
      onError(error);
      return connectFailed(error instanceof GoogleConnectError ? error.code : 'oauth_failed', clearState);
    }
  };

  /** Ends every session of the caller's principal (all their devices), and removes this cookie. */
  const signOut = async (request: Request): Promise<Response> => {
    if (request.method !== 'POST') {
      return json(
        { error: { code: 'METHOD_NOT_ALLOWED', message: 'Use POST.' } },
        { status: 405, headers: { allow: 'POST' } },
      );
    }
    // A page of another site (or another port of this one) may not sign the visitor out: the same
    // rule the sync API applies to its POSTs (Sec-Fetch-Site, else Origin against our own).
    const site = request.headers.get('sec-fetch-site');
    const origin = request.headers.get('origin');
    const crossSite = site
      ? site !== 'same-origin' && site !== 'none'
      : origin !== null && origin !== new URL(request.url).origin;
    if (crossSite) {
      return json(
        { error: { code: 'CROSS_SITE_REQUEST', message: 'Sign out from the app’s own pages.' } },
        { status: 403 },
      );
    }
    const session = sessions.read(request.headers.get('cookie'));
    if (session) await sessions.revoke(session);
    return new Response(null, {
      status: 204,
      headers: { 'set-cookie': sessions.clear(), 'cache-control': 'no-store' },
    });
  };

  const page = async (request: Request, url: URL): Promise<Response> => {
    const response = await options.staticFiles(url.pathname);
    const headers = new Headers(response.headers);
    for (const [name, value] of Object.entries(PAGE_SECURITY_HEADERS)) headers.set(name, value);
    const session = sessions.read(request.headers.get('cookie'));
    // Emulator mode has no login form: opening the page signs the visitor in as the demo user.
    const wanted = demo ? demo.accountId : (session?.accountId ?? null);
    if (!session || session.accountId !== wanted) {
      headers.append('set-cookie', sessions.issue({ userId: session?.userId, accountId: wanted }).header);
    }
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
      if (url.pathname === '/auth/signout') return await signOut(request);
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
