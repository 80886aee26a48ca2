/**
 * Label ids are stored as bits of one 32-bit word per message: the fourteen system labels Gmail
 * exposes take the low bits, user labels the rest. That caps a mailbox at {@link MAX_USER_LABELS}
 * user labels, a trade for four bytes per message.
 */
export const SYSTEM_LABEL_IDS = [
  'INBOX',
  'SENT',
  'DRAFT',
  'SPAM',
  'TRASH',
  'UNREAD',
  'STARRED',
  'IMPORTANT',
  'CHAT',
  'CATEGORY_PERSONAL',
  'CATEGORY_SOCIAL',
  'CATEGORY_PROMOTIONS',
  'CATEGORY_UPDATES',
  'CATEGORY_FORUMS',
] as const;

export type SystemLabelId = (typeof SYSTEM_LABEL_IDS)[number];

export const MAX_USER_LABELS = 32 - SYSTEM_LABEL_IDS.length;

/** The default user labels of a generated mailbox. */
export const DEFAULT_USER_LABELS = [
  'Work',
  'Family',
  'Receipts',
  'Travel',
  'Newsletters',
  'Projects/Alpha',
  'Projects/Beta',
  'Finance',
];

export function systemBit(id: SystemLabelId): number {
  return (1 << SYSTEM_LABEL_IDS.indexOf(id)) >>> 0;
}

export const LABEL_BITS = {
  INBOX: systemBit('INBOX'),
  SENT: systemBit('SENT'),
  SPAM: systemBit('SPAM'),
  TRASH: systemBit('TRASH'),
  UNREAD: systemBit('UNREAD'),
  STARRED: systemBit('STARRED'),
  IMPORTANT: systemBit('IMPORTANT'),
  CATEGORY_PERSONAL: systemBit('CATEGORY_PERSONAL'),
  CATEGORY_SOCIAL: systemBit('CATEGORY_SOCIAL'),
  CATEGORY_PROMOTIONS: systemBit('CATEGORY_PROMOTIONS'),
  CATEGORY_UPDATES: systemBit('CATEGORY_UPDATES'),
  CATEGORY_FORUMS: systemBit('CATEGORY_FORUMS'),
} as const;

export function userLabelBit(userLabelIndex: number): number {
  return (1 << (SYSTEM_LABEL_IDS.length + userLabelIndex)) >>> 0;
}

/** Gmail names user labels `Label_<n>`; n starts at 1. */
export function userLabelId(userLabelIndex: number): string {
  return `Label_${userLabelIndex + 1}`;
}

/** The Gmail `labels.list` resource of one label. */
export interface LabelResource {
  id: string;
  name: string;
  type: 'system' | 'user';
  messageListVisibility?: 'show' | 'hide';
  labelListVisibility?: 'labelShow' | 'labelShowIfUnread' | 'labelHide';
}

/** Resolves label ids and names to bits for one mailbox's user labels. */
export class LabelSet {
  constructor(readonly userLabels: string[]) {
    if (userLabels.length > MAX_USER_LABELS) {
      throw new RangeError(`A mailbox holds at most ${MAX_USER_LABELS} user labels`);
    }
  }

  /** The bit of a label id (`INBOX`, `Label_3`), or undefined when the mailbox has no such label. */
  bitOfId(id: string): number | undefined {
    const system = SYSTEM_LABEL_IDS.indexOf(id as SystemLabelId);
    if (system >= 0) return (1 << system) >>> 0;
    const match = /^Label_(\d+)$/.exec(id);
    if (!match) return undefined;
    const index = Number(match[1]) - 1;
    return index >= 0 && index < this.userLabels.length ? userLabelBit(index) : undefined;
  }

  /**
   * The bit of a label as written in a search query: an id, a system name or a user label name,
   * case-insensitive, where Gmail lets `-` stand for `/` and spaces.
   */
  bitOfQueryName(name: string): number | undefined {
    const byId = this.bitOfId(name) ?? this.bitOfId(name.toUpperCase());
    if (byId !== undefined) return byId;
    const normalise = (text: string) => text.toLowerCase().replace(/[\s/]/g, '-');
    const index = this.userLabels.findIndex((label) => normalise(label) === normalise(name));
    return index >= 0 ? userLabelBit(index) : undefined;
  }

  /** Label ids of a bit set, system labels first, in Gmail's order. */
  idsOf(bits: number): string[] {
    const ids: string[] = [];
    for (let i = 0; i < SYSTEM_LABEL_IDS.length; i++) {
      if (bits & (1 << i)) ids.push(SYSTEM_LABEL_IDS[i]!);
    }
    for (let i = 0; i < this.userLabels.length; i++) {
      if (bits & userLabelBit(i)) ids.push(userLabelId(i));
    }
    return ids;
  }

  resources(): LabelResource[] {
    const hidden = new Set<string>(['CHAT', 'DRAFT', 'SPAM', 'TRASH']);
    const system: LabelResource[] = SYSTEM_LABEL_IDS.map((id) =>
      id.startsWith('CATEGORY_') ||
      hidden.has(id) ||
      id === 'IMPORTANT' ||
      id === 'UNREAD' ||
      id === 'STARRED'
        ? { id, name: id, type: 'system' }
        : { id, name: id, type: 'system', messageListVisibility: 'hide', labelListVisibility: 'labelShow' },
    );
    const user: LabelResource[] = this.userLabels.map((name, i) => ({
      id: userLabelId(i),
      name,
      type: 'user',
      messageListVisibility: 'show',
      labelListVisibility: 'labelShow',
    }));
    return [...system, ...user];
  }
}
