/** The Gmail API methods the emulator serves, named as in Google's quota documentation. */
export type GmailMethod =
  | 'users.getProfile'
  | 'users.labels.list'
  | 'users.messages.list'
  | 'users.messages.get'
  | 'users.threads.get'
  | 'users.history.list'
  | 'users.watch'
  | 'users.stop';

export const GMAIL_METHODS: readonly GmailMethod[] = [
  'users.getProfile',
  'users.labels.list',
  'users.messages.list',
  'users.messages.get',
  'users.threads.get',
  'users.history.list',
  'users.watch',
  'users.stop',
];

/** A quota profile: a per-user budget of units per minute and the cost of each method. */
export interface QuotaProfile {
  name: string;
  /** Units one user may spend in any 60-second window (at speed 1). */
  unitsPerUserPerMinute: number;
  costs: Record<GmailMethod, number>;
}

/** Cloud projects created before May 2026: 15,000 units per user per minute. */
export const LEGACY_QUOTA: QuotaProfile = {
  name: 'legacy',
  unitsPerUserPerMinute: 15_000,
  costs: {
    'users.getProfile': 1,
    'users.labels.list': 1,
    'users.messages.list': 5,
    'users.messages.get': 5,
    'users.threads.get': 10,
    'users.history.list': 2,
    'users.watch': 100,
    'users.stop': 50,
  },
};

/** Projects created from May 2026: 6,000 units per user per minute and dearer fetches. */
export const QUOTA_2026: QuotaProfile = {
  name: '2026',
  unitsPerUserPerMinute: 6_000,
  costs: { ...LEGACY_QUOTA.costs, 'users.messages.get': 20, 'users.threads.get': 40 },
};

export const QUOTA_PROFILES = { legacy: LEGACY_QUOTA, '2026': QUOTA_2026 } as const;

/** `off` still charges the legacy costs, so stats stay comparable, but never refuses. */
export type QuotaSetting = keyof typeof QUOTA_PROFILES | 'off' | QuotaProfile;

export function resolveQuota(setting: QuotaSetting): { profile: QuotaProfile; enforced: boolean } {
  if (setting === 'off') return { profile: LEGACY_QUOTA, enforced: false };
  if (typeof setting === 'string') {
    const profile = QUOTA_PROFILES[setting];
    if (!profile) throw new RangeError(`Unknown quota profile: ${String(setting)}`);
    return { profile, enforced: true };
  }
  return { profile: setting, enforced: true };
}
