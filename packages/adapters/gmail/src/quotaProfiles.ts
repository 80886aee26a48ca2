/** The Gmail API methods the source calls, named as in Google's quota documentation. */
export type GmailMethod =
  | 'users.getProfile'
  | 'users.labels.list'
  | 'users.messages.list'
  | 'users.messages.get'
  | 'users.threads.get'
  | 'users.history.list'
  | 'users.watch'
  | 'users.stop';

/** A per-user quota: a budget of units per minute and what each method costs. */
export interface GmailQuotaProfile {
  name: string;
  /** Units one user may spend in any 60-second window. */
  unitsPerUserPerMinute: number;
  costs: Record<GmailMethod, number>;
}

/** Cloud projects created before May 2026: 15,000 units per user per minute. */
export const LEGACY_QUOTA_PROFILE: GmailQuotaProfile = {
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
export const QUOTA_2026_PROFILE: GmailQuotaProfile = {
  name: '2026',
  unitsPerUserPerMinute: 6_000,
  costs: { ...LEGACY_QUOTA_PROFILE.costs, 'users.messages.get': 20, 'users.threads.get': 40 },
};

/** A named profile, or a custom one derived from a named base (default `legacy`). */
export type GmailQuotaSetting =
  | 'legacy'
  | '2026'
  | {
      /** The profile the other fields override (default `legacy`). */
      base?: 'legacy' | '2026';
      name?: string;
      unitsPerUserPerMinute?: number;
      costs?: Partial<Record<GmailMethod, number>>;
    };

/** Resolves a setting to a complete profile. */
export function resolveQuotaProfile(setting: GmailQuotaSetting = 'legacy'): GmailQuotaProfile {
  const profiles = { legacy: LEGACY_QUOTA_PROFILE, '2026': QUOTA_2026_PROFILE } as const;
  if (typeof setting === 'string') {
    const profile = profiles[setting];
    if (!profile) throw new RangeError(`Unknown Gmail quota profile "${String(setting)}" (legacy or 2026).`);
    return profile;
  }
  const base = profiles[setting.base ?? 'legacy'];
  return {
    name: setting.name ?? `custom (${base.name})`,
    unitsPerUserPerMinute: setting.unitsPerUserPerMinute ?? base.unitsPerUserPerMinute,
    costs: { ...base.costs, ...setting.costs },
  };
}
