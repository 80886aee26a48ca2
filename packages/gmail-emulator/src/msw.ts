import { HttpResponse, http, type RequestHandler } from 'msw';
import type { GmailEmulator } from './gmailEmulator.js';
import { dropStageOf } from './http/droppedConnection.js';

export interface GmailHandlersOptions {
  /** Origin the Gmail client calls (its `rootUrl` without the trailing slash). Default `https://gmail.googleapis.com`. */
  baseUrl?: string;
  /**
   * Token endpoint URLs to answer too, so an `OAuth2Client` with default endpoints refreshes
   * against the emulator. Default Google's `https://oauth2.googleapis.com/token`.
   */
  tokenUrls?: string[];
}

/**
 * msw request handlers serving the emulator: every request under `baseUrl` (Gmail paths, batch,
 * `/token`, `/_emulator/`) goes to the same Fetch handler as the Node server. A dropped
 * connection becomes `HttpResponse.error()`, which msw turns into a network error.
 */
export function createGmailHandlers(
  emulator: GmailEmulator,
  options: GmailHandlersOptions = {},
): RequestHandler[] {
  const baseUrl = (options.baseUrl ?? 'https://gmail.googleapis.com').replace(/\/+$/, '');
  const serve = async ({ request }: { request: Request }) => {
    const response = await emulator.handle(request);
    return dropStageOf(response) ? HttpResponse.error() : response;
  };
  const tokenUrls = options.tokenUrls ?? ['https://oauth2.googleapis.com/token'];
  return [
    ...tokenUrls.map((url) =>
      http.post(url, async ({ request }) => {
        // The emulator serves its token endpoint at /token; rewrite the path, keep the request.
        const rewritten = new Request(new URL('/token', request.url), {
          method: 'POST',
          headers: request.headers,
          body: await request.text(),
        });
        return serve({ request: rewritten });
      }),
    ),
    http.all(`${baseUrl}/*`, serve),
  ];
}
