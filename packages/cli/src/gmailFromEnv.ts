import type { GmailAuth, GmailSource } from '@syncjob/gmail';
import { gmailSource } from '@syncjob/gmail';
import { usageError } from './cliError';

/** The emulator's built-in OAuth client and per-user refresh token (see `@syncjob/gmail-emulator`). */
const EMULATOR_CLIENT = {
  clientId: 'emulator-client-id.apps.googleusercontent.com',
  clientSecret: 'emulator-client-secret',
};
const emulatorRefreshToken = (accountId: string) => `1//emulator-refresh-${accountId.toLowerCase()}`;

export interface GmailSettings {
  /** `--gmail-root-url` or `GMAIL_ROOT_URL`: the API root (an emulator in development). */
  rootUrl?: string | undefined;
  /** `--quota-speed` or `GMAIL_QUOTA_SPEED`: match an emulator running faster than real time. */
  quotaSpeed?: number | undefined;
  /**
   * `--allow-custom-root-url`: send real Google credentials (`GMAIL_*`) to a root or token URL that
   * is not Google's, e.g. your own HTTPS proxy. Off by default: the access token would go there.
   */
  allowCustomRootUrl?: boolean | undefined;
}

/** The command-line options of `GmailSettings`, for the commands that run syncs. */
export const GMAIL_OPTIONS = {
  'gmail-root-url': { type: 'string' },
  'quota-speed': { type: 'string' },
  'allow-custom-root-url': { type: 'boolean' },
} as const;

/** `GmailSettings` from the parsed `GMAIL_OPTIONS` (absent options stay `undefined`). */
export function gmailSettings(values: {
  'gmail-root-url'?: string;
  'quota-speed'?: string;
  'allow-custom-root-url'?: boolean;
}): GmailSettings {
  return {
    rootUrl: values['gmail-root-url'],
    quotaSpeed: values['quota-speed'] === undefined ? undefined : Number(values['quota-speed']),
    allowCustomRootUrl: values['allow-custom-root-url'],
  };
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Google's API and OAuth hosts: `*.googleapis.com` and `accounts.google.com`. */
const isGoogleHost = (hostname: string) =>
  hostname.endsWith('.googleapis.com') || hostname === 'accounts.google.com';

/**
 * Checks a URL the Gmail client will send a bearer token (root URL) or the refresh token and
 * client secret (token URL) to: https, or plain http on this machine only (an emulator); and, with
 * real credentials, a Google host unless `allowCustom` says otherwise.
 */
function checkGmailUrl(name: string, raw: string, realCredentials: boolean, allowCustom: boolean): void {
  const url = URL.canParse(raw) ? new URL(raw) : null;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw usageError(`${name} must be an http(s) URL, got "${raw}".`, 'INVALID_GMAIL_URL');
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw usageError(
      `${name} ${url.origin} is plain http on another machine: tokens would cross the network in clear. Use https, or http on localhost, 127.0.0.1 or [::1] for a local emulator.`,
      'INSECURE_GMAIL_URL',
    );
  }
  if (realCredentials && !isGoogleHost(url.hostname) && !allowCustom) {
    throw usageError(
      `${name} ${url.origin} is not Google's, but GMAIL_CLIENT_ID/GMAIL_CLIENT_SECRET/GMAIL_REFRESH_TOKEN are set: your real Google tokens would be sent there. Unset the GMAIL_* credentials to use an emulator, or pass --allow-custom-root-url if you trust that server.`,
      'CUSTOM_GMAIL_URL_WITH_REAL_CREDENTIALS',
    );
  }
}

/**
 * The Gmail source from the environment: `GMAIL_CLIENT_ID`, `GMAIL_CLIENT_SECRET`,
 * `GMAIL_REFRESH_TOKEN` (and optionally `GMAIL_TOKEN_URL`). Pointed at an emulator without those,
 * it uses the emulator's defaults: its OAuth client and the refresh token of each account.
 *
 * A root or token URL must be https, or http on loopback; with real credentials it must also be
 * Google's unless `allowCustomRootUrl` is set, so a stray `GMAIL_ROOT_URL` cannot receive them.
 */
export function gmailFromEnv(settings: GmailSettings, env: NodeJS.ProcessEnv): GmailSource {
  const rootUrl = settings.rootUrl ?? env.GMAIL_ROOT_URL;
  const {
    GMAIL_CLIENT_ID: clientId,
    GMAIL_CLIENT_SECRET: clientSecret,
    GMAIL_REFRESH_TOKEN: refreshToken,
  } = env;
  const given = [clientId, clientSecret, refreshToken].filter(Boolean).length;
  if (given > 0 && given < 3) {
    throw usageError(
      'Set all three of GMAIL_CLIENT_ID, GMAIL_CLIENT_SECRET and GMAIL_REFRESH_TOKEN, or none.',
    );
  }
  if (given === 0 && !rootUrl) {
    throw usageError(
      'Gmail credentials missing: set GMAIL_CLIENT_ID, GMAIL_CLIENT_SECRET and GMAIL_REFRESH_TOKEN, or pass --gmail-root-url <emulator url>.',
    );
  }
  const realCredentials = given === 3;
  const allowCustom = settings.allowCustomRootUrl === true;
  if (rootUrl) checkGmailUrl('The Gmail root URL', rootUrl, realCredentials, allowCustom);
  if (realCredentials && env.GMAIL_TOKEN_URL)
    checkGmailUrl('GMAIL_TOKEN_URL', env.GMAIL_TOKEN_URL, true, allowCustom);
  const root = rootUrl?.replace(/\/+$/, '');
  const auth = realCredentials
    ? (): GmailAuth => ({
        clientId: clientId!,
        clientSecret: clientSecret!,
        refreshToken: refreshToken!,
        ...(env.GMAIL_TOKEN_URL ? { tokenUrl: env.GMAIL_TOKEN_URL } : {}),
      })
    : (accountId: string): GmailAuth => ({
        ...EMULATOR_CLIENT,
        refreshToken: emulatorRefreshToken(accountId),
        tokenUrl: `${root}/token`,
      });
  const quotaSpeed =
    settings.quotaSpeed ?? (env.GMAIL_QUOTA_SPEED ? Number(env.GMAIL_QUOTA_SPEED) : undefined);
  if (quotaSpeed !== undefined && !(quotaSpeed > 0))
    throw usageError('--quota-speed must be a positive number.');
  return gmailSource({
    auth,
    ...(root ? { rootUrl: `${root}/` } : {}),
    ...(quotaSpeed ? { quotaSpeed } : {}),
  });
}
