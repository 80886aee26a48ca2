import { LABEL_BITS } from './labels.js';
import type { Mailbox } from './mailbox.js';

/** A `messages.list` filter compiled to a predicate over message indexes. */
export interface MessageFilter {
  accept: (index: number) => boolean;
}

export class QueryError extends Error {}

const IN_NAMES: Record<string, number> = {
  inbox: LABEL_BITS.INBOX,
  sent: LABEL_BITS.SENT,
  spam: LABEL_BITS.SPAM,
  trash: LABEL_BITS.TRASH,
  starred: LABEL_BITS.STARRED,
  important: LABEL_BITS.IMPORTANT,
  unread: LABEL_BITS.UNREAD,
};

const CATEGORIES: Record<string, number> = {
  primary: LABEL_BITS.CATEGORY_PERSONAL,
  personal: LABEL_BITS.CATEGORY_PERSONAL,
  social: LABEL_BITS.CATEGORY_SOCIAL,
  promotions: LABEL_BITS.CATEGORY_PROMOTIONS,
  updates: LABEL_BITS.CATEGORY_UPDATES,
  forums: LABEL_BITS.CATEGORY_FORUMS,
};

/** `after:`/`before:` take `YYYY/MM/DD` (read as UTC midnight here) or epoch seconds. */
function parseDate(value: string): number {
  if (/^\d{9,}$/.test(value)) return Number(value) * 1000;
  const match = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(value);
  if (!match) throw new QueryError(`Invalid date in query: ${value}`);
  return Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
}

function tokenize(q: string): string[] {
  return q.match(/-?\w+:"[^"]*"|-?\w+:\S+|"[^"]*"|\S+/g) ?? [];
}

/**
 * Compiles the `labelIds`, `includeSpamTrash` and `q` of messages.list. Supported `q` terms:
 * `in:` (inbox, sent, spam, trash, starred, important, unread, anywhere), `is:` (unread, read,
 * starred, important), `label:`, `category:`, `after:`, `before:`, `newer_than:`/`older_than:`
 * (`d`, `m`, `y`), `from:`, `subject:`, a leading `-` to negate, and bare words matched against the
 * subject. Spam and trash are left out unless asked for, as Gmail does.
 */
export function compileFilter(
  mailbox: Mailbox,
  params: { labelIds: string[]; q: string | undefined; includeSpamTrash: boolean; now: number },
): MessageFilter {
  const predicates: Array<(index: number) => boolean> = [];
  let required = 0;
  let wantsSpamTrash = params.includeSpamTrash;
  for (const id of params.labelIds) {
    const bit = mailbox.labels.bitOfId(id);
    if (bit === undefined) throw new QueryError(`Invalid label: ${id}`);
    required |= bit;
  }
  for (const raw of tokenize(params.q ?? '')) {
    const negate = raw.startsWith('-') && raw.length > 1;
    const token = negate ? raw.slice(1) : raw;
    const colon = token.indexOf(':');
    const operator = colon > 0 ? token.slice(0, colon).toLowerCase() : '';
    const value = (colon > 0 ? token.slice(colon + 1) : token).replace(/^"|"$/g, '');
    let predicate: ((index: number) => boolean) | undefined;
    let bit: number | undefined;
    switch (operator) {
      case 'in':
      case 'is': {
        const name = value.toLowerCase();
        if (name === 'anywhere') {
          wantsSpamTrash = true;
          continue;
        }
        if (name === 'read') {
          predicate = (i) => (mailbox.labelsOf(i) & LABEL_BITS.UNREAD) === 0;
          break;
        }
        bit = IN_NAMES[name];
        if (bit === undefined) throw new QueryError(`Unsupported query term: ${raw}`);
        break;
      }
      case 'label':
        bit = mailbox.labels.bitOfQueryName(value);
        // Gmail answers an unknown label with no results, not an error.
        if (bit === undefined) predicate = () => false;
        break;
      case 'category':
        bit = CATEGORIES[value.toLowerCase()];
        if (bit === undefined) throw new QueryError(`Unsupported query term: ${raw}`);
        break;
      case 'after': {
        const at = parseDate(value);
        predicate = (i) => mailbox.internalDateOf(i) >= at;
        break;
      }
      case 'before': {
        const at = parseDate(value);
        predicate = (i) => mailbox.internalDateOf(i) < at;
        break;
      }
      case 'newer_than':
      case 'older_than': {
        const match = /^(\d+)([dmy])$/.exec(value);
        if (!match) throw new QueryError(`Invalid value in query: ${raw}`);
        const days = Number(match[1]) * (match[2] === 'd' ? 1 : match[2] === 'm' ? 30 : 365);
        const at = params.now - days * 86_400_000;
        predicate =
          operator === 'newer_than'
            ? (i) => mailbox.internalDateOf(i) >= at
            : (i) => mailbox.internalDateOf(i) < at;
        break;
      }
      case 'from': {
        const needle = value.toLowerCase();
        predicate = (i) => mailbox.fromAddressOf(i).includes(needle);
        break;
      }
      case 'subject': {
        const needle = value.toLowerCase();
        predicate = (i) => mailbox.subjectOf(i).toLowerCase().includes(needle);
        break;
      }
      case '': {
        const needle = value.toLowerCase();
        predicate = (i) => mailbox.subjectOf(i).toLowerCase().includes(needle);
        break;
      }
      default:
        throw new QueryError(`Unsupported query term: ${raw}`);
    }
    if (bit !== undefined) {
      if ((bit & (LABEL_BITS.SPAM | LABEL_BITS.TRASH)) !== 0 && !negate) wantsSpamTrash = true;
      const b = bit;
      predicate = (i) => (mailbox.labelsOf(i) & b) !== 0;
    }
    if (predicate) {
      const p = predicate;
      predicates.push(negate ? (i) => !p(i) : p);
    }
  }
  if ((required & (LABEL_BITS.SPAM | LABEL_BITS.TRASH)) !== 0) wantsSpamTrash = true;
  const excluded = wantsSpamTrash ? 0 : LABEL_BITS.SPAM | LABEL_BITS.TRASH;
  const requiredBits = required >>> 0;
  return {
    accept: (index) => {
      const bits = mailbox.labelsOf(index);
      if ((bits & requiredBits) !== requiredBits || (bits & excluded) !== 0) return false;
      for (const predicate of predicates) if (!predicate(index)) return false;
      return true;
    },
  };
}
