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
}

/** The command-line options of `GmailSettings`, for the commands that run syncs. */
export const GMAIL_OPTIONS = {
  'gmail-root-url': { type: 'string' },
  'quota-speed': { type: 'string' },
} as const;

/** `GmailSettings` from the parsed `GMAIL_OPTIONS` (absent options stay `undefined`). */
export function gmailSettings(values: { 'gmail-root-url'?: string; 'quota-speed'?: string }): GmailSettings {
  return {
    rootUrl: values['gmail-root-url'],
    quotaSpeed: values['quota-speed'] === undefined ? undefined : Number(values['quota-speed']),
  };
}

/**
 * The Gmail source from the environment: `GMAIL_CLIENT_ID`, `GMAIL_CLIENT_SECRET`,
 * `GMAIL_REFRESH_TOKEN` (and optionally `GMAIL_TOKEN_URL`). Pointed at an emulator without those,
 * it uses the emulator's defaults: its OAuth client and the refresh token of each account.
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
  const root = rootUrl?.replace(/\/+$/, '');
  const auth =
    given === 3
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
