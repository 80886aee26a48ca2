import type { Clock } from '../clock';
import { systemClock } from '../clock';
import { SyncError } from '../errors';
import { describeError } from '../logger';
import { HttpError } from './httpError';

/** Google's signing keys as a JWKS: what Pub/Sub's OIDC tokens are signed with. */
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/** The issuers Google's ID tokens carry (with and without the scheme). */
const GOOGLE_ISSUERS: ReadonlySet<string> = new Set(['https://accounts.google.com', 'accounts.google.com']);

/** Tolerated difference between Google's clock and ours when checking `iat` and `exp`, in seconds. */
const CLOCK_SKEW_SECONDS = 60;
/** How long keys are kept when the certificates answer has no `Cache-Control: max-age` (1 hour). */
const DEFAULT_KEYS_TTL_MS = 3_600_000;
/**
 * Least time between two fetches caused by an unknown `kid`: a rotation is picked up within this,
 * and a flood of tokens naming made-up key ids costs Google one request per interval, not one each.
 */
const UNKNOWN_KID_REFETCH_MS = 30_000;
/** Longest wait for the signing keys (Pub/Sub's default push deadline is 10 s). */
const KEYS_FETCH_TIMEOUT_MS = 5_000;
/** Longer tokens are refused before any parsing (Google's are about 1 kB). */
const MAX_TOKEN_LENGTH = 8_192;

export interface PubSubTokenOptions {
  /** The `aud` claim the push subscription was configured with (its OIDC audience). */
  audience: string;
  /** The service account the subscription signs as: the token's `email` must be it, verified. */
  serviceAccountEmail: string;
  /** Where the signing keys are, as a JWKS (default Google's; the emulator serves its own). */
  certsUrl?: string;
  clock?: Clock;
}

/** The claims of a verified token that a caller may want to log. */
export interface PubSubTokenClaims {
  iss: string;
  aud: string;
  email: string;
  sub?: string;
  exp: number;
  iat: number;
}

/** WebCrypto's key type, named without the DOM library. */
type VerifyKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>;

interface KeySet {
  keys: Map<string, VerifyKey>;
  expiresAt: number;
  fetchedAt: number;
}

const refused = (reason: string) =>
  new HttpError(401, 'UNAUTHENTICATED', `The push was refused: ${reason}.`, {
    'www-authenticate': 'Bearer error="invalid_token"',
  });

/**
 * Verifies the OIDC token Pub/Sub sends with an authenticated push (`Authorization: Bearer <JWT>`):
 * an RS256 signature by one of the keys at `certsUrl`, Google as issuer, the configured audience,
 * and the configured service account's verified email, within its lifetime. WebCrypto only, so it
 * runs on edge runtimes too. Resolves with the claims; rejects with a 401 `HttpError` for any token
 * that fails a check, and with `NETWORK` when the keys cannot be fetched (the push is then neither
 * accepted nor refused: its sender should deliver it again).
 */
export function createPubSubTokenVerifier(
  options: PubSubTokenOptions,
): (authorization: string | null) => Promise<PubSubTokenClaims> {
  const { audience, serviceAccountEmail } = options;
  if (typeof audience !== 'string' || audience === '') {
    throw new SyncError('INVALID_INPUT', 'push.audience must be the audience of the push subscription.');
  }
  if (typeof serviceAccountEmail !== 'string' || !serviceAccountEmail.includes('@')) {
    throw new SyncError(
      'INVALID_INPUT',
      'push.serviceAccountEmail must be the email of the service account the push subscription signs as.',
    );
  }
  const certsUrl = options.certsUrl ?? GOOGLE_CERTS_URL;
  const clock = options.clock ?? systemClock;
  const expectedEmail = serviceAccountEmail.toLowerCase();

  let keySet: KeySet | null = null;
  let fetching: Promise<KeySet> | null = null;
  /** One fetch at a time: concurrent pushes wait for the same answer. */
  const refresh = (): Promise<KeySet> => {
    fetching ??= fetchKeySet(certsUrl, clock.now()).finally(() => {
      fetching = null;
    });
    return fetching;
  };

  const keyFor = async (kid: string): Promise<VerifyKey | undefined> => {
    const now = clock.now();
    if (keySet === null) keySet = await refresh();
    else if (now >= keySet.expiresAt) {
      // Keys past their max-age are still Google's most recent ones: used while a refetch fails.
      keySet = await refresh().catch(() => keySet!);
    }
    let key = keySet.keys.get(kid);
    if (key === undefined && now - keySet.fetchedAt >= UNKNOWN_KID_REFETCH_MS) {
      keySet = await refresh();
      key = keySet.keys.get(kid);
    }
    return key;
  };

  return async (authorization) => {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    if (!match)
      throw refused('no "Authorization: Bearer <token>" header (is OIDC auth on for the subscription?)');
    const token = match[1]!;
    const parts = token.split('.');
    if (token.length > MAX_TOKEN_LENGTH || parts.length !== 3) throw refused('the token is not a JWT');
    const header = decodeJson(parts[0]!);
    const claims = decodeJson(parts[1]!);
    const signature = decodeBase64Url(parts[2]!);
    if (!header || !claims || !signature) throw refused('the token is not a JWT');
    if (header.alg !== 'RS256')
      throw refused(`the token is not signed with RS256 (alg ${String(header.alg)})`);
    if (typeof header.kid !== 'string') throw refused('the token names no signing key (kid)');

    const key = await keyFor(header.kid);
    if (!key) throw refused('the token is signed by an unknown key');
    const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
    if (!(await globalThis.crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, signature, signed))) {
      throw refused('the token signature is not valid');
    }
    return checkClaims(claims, audience, expectedEmail, clock.now() / 1000);
  };
}

function checkClaims(
  claims: Record<string, unknown>,
  audience: string,
  expectedEmail: string,
  nowSeconds: number,
): PubSubTokenClaims {
  const { iss, aud, email, sub, exp, iat } = claims;
  if (typeof iss !== 'string' || !GOOGLE_ISSUERS.has(iss)) throw refused('the token is not issued by Google');
  if (aud !== audience) throw refused('the token is for another audience');
  if (typeof email !== 'string' || email.toLowerCase() !== expectedEmail) {
    throw refused('the token is for another service account');
  }
  // Google's ID tokens carry a boolean; some older ones a string.
  if (claims.email_verified !== true && claims.email_verified !== 'true') {
    throw refused('the service account email is not verified');
  }
  if (typeof exp !== 'number' || typeof iat !== 'number') throw refused('the token has no lifetime');
  if (nowSeconds > exp + CLOCK_SKEW_SECONDS) throw refused('the token has expired');
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS) throw refused('the token is issued in the future');
  return { iss, aud, email, exp, iat, ...(typeof sub === 'string' ? { sub } : {}) };
}

async function fetchKeySet(url: string, now: number): Promise<KeySet> {
  let body: unknown;
  let maxAgeSeconds: number | null = null;
  try {
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      // A hung key server must not hold pushes past Pub/Sub's deadline: they are delivered again.
      signal: AbortSignal.timeout(KEYS_FETCH_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const cacheControl = response.headers.get('cache-control') ?? '';
    const maxAge = /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl);
    if (maxAge) maxAgeSeconds = Number(maxAge[1]);
    body = await response.json();
  } catch (cause) {
    throw new SyncError(
      'NETWORK',
      `The push signing keys could not be fetched from ${url}: ${describeError(cause)}`,
      {
        cause,
      },
    );
  }
  const keys = new Map<string, VerifyKey>();
  const listed = (body as { keys?: unknown } | null)?.keys;
  for (const jwk of Array.isArray(listed) ? listed : []) {
    if (!isRsaSigningKey(jwk)) continue;
    try {
      const key = await globalThis.crypto.subtle.importKey(
        'jwk',
        { kty: 'RSA', n: jwk.n, e: jwk.e, alg: 'RS256', ext: true },
        { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      keys.set(jwk.kid, key);
    } catch {
      // A key that does not import cannot have signed anything we accept.
    }
  }
  if (keys.size === 0) {
    throw new SyncError('NETWORK', `The push signing keys at ${url} hold no RS256 key.`);
  }
  const ttl = maxAgeSeconds === null ? DEFAULT_KEYS_TTL_MS : maxAgeSeconds * 1000;
  return { keys, fetchedAt: now, expiresAt: now + ttl };
}

function isRsaSigningKey(value: unknown): value is { kid: string; n: string; e: string } {
  if (typeof value !== 'object' || value === null) return false;
  const jwk = value as Record<string, unknown>;
  return (
    jwk.kty === 'RSA' &&
    typeof jwk.kid === 'string' &&
    typeof jwk.n === 'string' &&
    typeof jwk.e === 'string' &&
    (jwk.alg === undefined || jwk.alg === 'RS256') &&
    (jwk.use === undefined || jwk.use === 'sig')
  );
}

function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  try {
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

function decodeJson(text: string): Record<string, unknown> | null {
  const bytes = decodeBase64Url(text);
  if (!bytes) return null;
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
