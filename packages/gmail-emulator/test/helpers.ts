import { gmail as createGmail } from '@googleapis/gmail';
import { OAuth2Client } from 'google-auth-library';
import type { GmailEmulator } from '../src/index.js';

/** A googleapis Gmail client pointed at the emulator, with gaxios retries off (the caller retries). */
export function gmailClient(rootUrl: string, accessToken: string) {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: accessToken });
  return createGmail({
    version: 'v1',
    auth,
    rootUrl: rootUrl.endsWith('/') ? rootUrl : `${rootUrl}/`,
    retry: false,
  });
}

export function tokenFor(emulator: GmailEmulator, user = 'me@example.com'): string {
  return emulator.issueAccessToken(user).accessToken;
}

export interface InnerRequest {
  contentId?: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** The inner request's body (JSON for POST methods). */
  body?: string;
}

/** Builds the multipart/mixed body googleapis cannot build (it has no batch helper). */
export function buildBatch(
  requests: InnerRequest[],
  boundary = 'batch_test_boundary',
): {
  body: string;
  contentType: string;
} {
  const parts = requests.map((request) => {
    const innerHeaders = Object.entries(request.headers ?? {}).map(
      ([name, value]) => `${name}: ${value}\r\n`,
    );
    return (
      `--${boundary}\r\n` +
      'Content-Type: application/http\r\n' +
      (request.contentId ? `Content-ID: <${request.contentId}>\r\n` : '') +
      '\r\n' +
      `${request.method ?? 'GET'} ${request.path} HTTP/1.1\r\n` +
      innerHeaders.join('') +
      '\r\n' +
      (request.body ? `${request.body}\r\n` : '')
    );
  });
  return {
    body: `${parts.join('')}--${boundary}--\r\n`,
    contentType: `multipart/mixed; boundary=${boundary}`,
  };
}

export interface InnerResponse {
  contentId: string | undefined;
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Parses Google's multipart/mixed batch answer into inner responses. */
export function parseBatch(contentType: string, text: string): InnerResponse[] {
  const boundary = /boundary=([^;\s]+)/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`No boundary in ${contentType}`);
  return text
    .split(`--${boundary}`)
    .slice(1)
    .filter((section) => !section.startsWith('--'))
    .map((section) => {
      const [outer = '', ...rest] = section.replace(/^\r\n/, '').split('\r\n\r\n');
      const [head = '', ...bodyParts] = rest.join('\r\n\r\n').split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const contentId = /Content-ID: <([^>]+)>/i.exec(outer)?.[1];
      const body = bodyParts.join('\r\n\r\n').trim();
      return {
        contentId,
        status: Number(statusLine.split(' ')[1]),
        headers,
        // A 204 (users.stop) has no body.
        body: body ? JSON.parse(body) : null,
      };
    });
}

export async function sendBatch(
  url: string,
  accessToken: string,
  requests: InnerRequest[],
): Promise<{ status: number; parts: InnerResponse[] }> {
  const { body, contentType } = buildBatch(requests);
  const response = await fetch(`${url}/batch/gmail/v1`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${accessToken}` },
    body,
  });
  const text = await response.text();
  if (response.status !== 200) return { status: response.status, parts: [] };
  return { status: 200, parts: parseBatch(response.headers.get('content-type') ?? '', text) };
}
