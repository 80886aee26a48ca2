import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Page not built</title>
<p>The web page is not built yet. Run <code>npm run demo</code> from the repository root, or
<code>npm run build -w gmail-sync-app</code>.</p>`;

/**
 * Serves the built page. Paths without a file fall back to `index.html` (one page app); hashed
 * files under `assets/` are cached for good, `index.html` never, so a rebuild shows at once.
 */
export function createStaticFiles(root: string): (pathname: string) => Promise<Response> {
  const base = normalize(root + sep);
  const read = async (path: string) => {
    const file = normalize(join(base, path));
    if (!file.startsWith(base)) return null;
    try {
      return { file, body: await readFile(file) };
    } catch {
      return null;
    }
  };
  return async (pathname) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      // A malformed escape (`/%E0%A4%A`, `/%zz`) is the client's mistake, not a server error.
      return new Response('Bad request: malformed percent-encoding in the path.', {
        status: 400,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
      });
    }
    const found = (decoded !== '/' && (await read(decoded))) || (await read('index.html'));
    if (!found) return new Response(NOT_BUILT, { status: 503, headers: { 'content-type': TYPES['.html']! } });
    const immutable = found.file.includes(`${sep}assets${sep}`);
    return new Response(new Uint8Array(found.body), {
      headers: {
        'content-type': TYPES[extname(found.file)] ?? 'application/octet-stream',
        'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        'x-content-type-options': 'nosniff',
      },
    });
  };
}
