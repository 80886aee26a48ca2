import type { GmailEmulator } from '../gmailEmulator.js';
import { jsonResponse } from '../http/googleError.js';

function oauthError(status: number, error: string, description: string): Response {
  return jsonResponse({ error, error_description: description }, status);
}

/** Client credentials from the form, or from HTTP Basic (`client_secret_basic`). */
function clientCredentials(
  request: Request,
  form: URLSearchParams,
): { id: string | null; secret: string | null } {
  const basic = /^Basic\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '');
  if (basic) {
    const [id = '', secret = ''] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
    return { id: decodeURIComponent(id), secret: decodeURIComponent(secret) };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret') };
}

/**
 * Google's OAuth token endpoint, `grant_type=refresh_token` only: the answers and error codes are
 * Google's (`invalid_client` 401, `invalid_grant` 400, `unsupported_grant_type` 400).
 */
export async function handleTokenRequest(emulator: GmailEmulator, request: Request): Promise<Response> {
  if (request.method !== 'POST') return oauthError(405, 'invalid_request', 'Method not allowed');
  const recorder = emulator.statsRecorder;
  recorder.tokenRequests += 1;
  const text = await request.text();
  const form = (request.headers.get('content-type') ?? '').includes('application/json')
    ? new URLSearchParams(JSON.parse(text || '{}') as Record<string, string>)
    : new URLSearchParams(text);
  const refuse = (status: number, error: string, description: string) => {
    recorder.tokenRefusals += 1;
    return oauthError(status, error, description);
  };
  const client = clientCredentials(request, form);
  const expected = emulator.tokens.client;
  if (client.id !== expected.clientId)
    return refuse(401, 'invalid_client', 'The OAuth client was not found.');
  if (client.secret !== expected.clientSecret) return refuse(401, 'invalid_client', 'Unauthorized');
  const grantType = form.get('grant_type');
  if (grantType !== 'refresh_token') {
    return refuse(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
  }
  const refreshToken = form.get('refresh_token');
  if (!refreshToken) return refuse(400, 'invalid_request', 'Missing required parameter: refresh_token');
  const user = emulator.tokens.userOfRefreshToken(refreshToken);
  if (!user) return refuse(400, 'invalid_grant', 'Token has been expired or revoked.');
  const token = emulator.tokens.issue(user);
  return jsonResponse({
    access_token: token.accessToken,
    expires_in: token.expiresIn,
    scope: 'https://www.googleapis.com/auth/gmail.readonly',
    token_type: 'Bearer',
  });
}
