import { SyncError, type SyncSource } from '@syncjob/core';
import { type ClassifyResult, type GmailSource, gmailSource } from '@syncjob/gmail';
import { DEFAULT_OAUTH_CLIENT, defaultRefreshToken } from '@syncjob/gmail-emulator';
import type { DemoQuota } from './appConfig.ts';
import type { TokenVault } from './tokenVault.ts';

const GMAIL_CATEGORIES: Record<string, string> = {
  CATEGORY_PROMOTIONS: 'promotions',
  CATEGORY_SOCIAL: 'social',
  CATEGORY_UPDATES: 'updates',
  CATEGORY_FORUMS: 'forums',
};

/**
 * The example's classify hook: Gmail's own inbox tabs, else where the message lives. A real app
 * would call its model here; the category is stored with the message and counted per job.
 */
export function classifyByLabels(message: { labelIds: string[] }): ClassifyResult {
  for (const id of message.labelIds) {
    const category = GMAIL_CATEGORIES[id];
    if (category) return { category };
  }
  if (message.labelIds.includes('SENT')) return { category: 'sent' };
  if (message.labelIds.includes('INBOX')) return { category: 'primary' };
  return { category: 'archived' };
}

/**
 * The Gmail source pointed at the emulator: the emulator's OAuth client, the refresh token it gives
 * every generated account, and the quota window compressed by the emulator's speed so the source
 * runs near the (faster) ceiling instead of tripping it.
 */
export function emulatorGmailSource(options: {
  emulatorUrl: string;
  quota: DemoQuota;
  speed: number;
  /** The Pub/Sub topic `users.watch` names (the emulator checks its form only); none: no watches. */
  pushTopic?: string;
}): GmailSource {
  // With the quota off the emulator still charges legacy costs but never refuses.
  const base = options.quota === 'off' ? 'legacy' : options.quota;
  const speed = options.quota === 'off' ? options.speed * 20 : options.speed;
  // The limiter paces the budget evenly by itself (`quotaPacingSlices`), so progress is steady.
  return gmailSource({
    rootUrl: `${options.emulatorUrl}/`,
    auth: (accountId) => ({
      ...DEFAULT_OAUTH_CLIENT,
      refreshToken: defaultRefreshToken(accountId),
      tokenUrl: `${options.emulatorUrl}/token`,
    }),
    quota: base,
    quotaSpeed: speed,
    classify: classifyByLabels,
    ...(options.pushTopic ? { push: { topicName: options.pushTopic } } : {}),
  });
}

/** The Gmail source on Google: each account's refresh token comes out of the encrypted vault. */
export function googleGmailSource(options: {
  clientId: string;
  clientSecret: string;
  quota: 'legacy' | '2026';
  vault: TokenVault;
}): SyncSource {
  return gmailSource({
    auth: async (accountId) => {
      const refreshToken = await options.vault.get(accountId);
      if (!refreshToken) {
        throw new SyncError(
          'REAUTH_REQUIRED',
          `No Gmail grant is stored for ${accountId}: press "Connect Gmail" again.`,
          {
            retryable: false,
          },
        );
      }
      return { clientId: options.clientId, clientSecret: options.clientSecret, refreshToken };
    },
    quota: options.quota,
    classify: classifyByLabels,
  }) as SyncSource;
}
