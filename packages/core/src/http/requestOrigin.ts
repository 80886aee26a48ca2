import { HttpError } from './httpError';

/** Origins (besides the handler's own) whose pages may send state-changing requests. */
export type AllowedOrigins = readonly string[] | ((origin: string) => boolean);

export interface CrossSiteOptions {
  allowedOrigins?: AllowedOrigins;
  /** Take the request's own host and scheme from `X-Forwarded-Host` / `X-Forwarded-Proto`. */
  trustProxyHeaders?: boolean;
}

const crossSite = () =>
  new HttpError(
    403,
    'CROSS_SITE_REQUEST',
    'This request came from another site and was refused. Send it from the app’s own pages, or add their origin to allowedOrigins.',
  );

/** `https://App.example.com:443/x` → `https://app.example.com`; `null` when it is not an http(s) URL. */
function normaliseOrigin(value: string): string | null {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}

/** Matches `Origin` values against the option; list entries are normalised once. */
export function originMatcher(allowed: AllowedOrigins | undefined): (origin: string) => boolean {
  if (allowed === undefined) return () => false;
  if (typeof allowed === 'function') {
    return (origin) => {
      try {
        return allowed(origin) === true;
      } catch {
        return false;
      }
    };
  }
  const origins = new Set<string>();
  for (const entry of allowed) {
    const origin = normaliseOrigin(entry);
    if (origin === null) throw new TypeError(`allowedOrigins: "${entry}" is not an http(s) origin.`);
    origins.add(origin);
  }
  return (origin) => origins.has(origin);
}

/** The first value of a comma-separated forwarding header. */
const firstValue = (value: string | null) => value?.split(',')[0]?.trim() || null;

/** The origin the request was addressed to: the URL's, or the proxy's headers when trusted. */
function ownOriginOf(request: Request, url: URL, trustProxyHeaders: boolean): string {
  if (!trustProxyHeaders) return url.origin;
  const host = firstValue(request.headers.get('x-forwarded-host')) ?? url.host;
  const proto = firstValue(request.headers.get('x-forwarded-proto')) ?? url.protocol.replace(/:$/, '');
  return normaliseOrigin(`${proto}://${host}`) ?? url.origin;
}

/**
 * Refuses a state-changing request a browser sent from another site (CSRF), whatever cookies it
 * carries. `Sec-Fetch-Site` decides when the browser sends it (all current browsers do): `same-origin`
 * and `none` (typed in the address bar) pass, `same-site` (another port or subdomain) and
 * `cross-site` pass only for an allowed origin. Without it, `Origin` must be the request's own origin
 * or an allowed one. A request with neither header is not from a browser page (curl, a server, the
 * CLI, `new Request` in a test) and passes: CSRF needs a browser.
 */
export function checkSameOrigin(
  request: Request,
  url: URL,
  isAllowed: (origin: string) => boolean,
  trustProxyHeaders: boolean,
): void {
  const rawOrigin = request.headers.get('origin');
  const origin = rawOrigin === null ? null : normaliseOrigin(rawOrigin);
  const allowed = origin !== null && isAllowed(origin);
  const site = request.headers.get('sec-fetch-site')?.trim().toLowerCase();
  if (site) {
    if (site === 'same-origin' || site === 'none' || allowed) return;
    throw crossSite();
  }
  if (rawOrigin === null) return;
  // `Origin: null` (a sandboxed frame, a redirect chain, a file: page) is never our own page.
  if (allowed || origin === ownOriginOf(request, url, trustProxyHeaders)) return;
  throw crossSite();
}

/** True for `application/json` and `application/<x>+json`, with any parameters. */
export function isJsonContentType(value: string | null | undefined): boolean {
  if (!value) return false;
  const type = value.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}
