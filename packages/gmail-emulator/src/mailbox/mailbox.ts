import type { Clock } from '../clock.js';
import { DEFAULT_USER_LABELS, LABEL_BITS, LabelSet, userLabelBit } from './labels.js';
import {
  type CustomContent,
  fromAddressOf,
  generateContent,
  type MessageContent,
  type MessageFacts,
  subjectOf,
} from './messageContent.js';
import { hash32, hashString, Random } from './prng.js';

/** How one mailbox is generated. */
export interface MailboxOptions {
  /** The account's address; `userId` in paths may be `me` or this address. */
  address: string;
  /** Number of generated messages. Default 1000. */
  messages?: number;
  /** Seed of every generated field. Same seed and size, same mailbox. Default 1. */
  seed?: number;
  /** User label names (at most 18). Default: eight labels such as `Work` and `Projects/Alpha`. */
  userLabels?: string[];
  /** Mean messages per thread. Default 2.5. */
  meanThreadSize?: number;
  /** Date of the oldest generated message (ms or ISO string). Default 2016-01-01. */
  startDate?: number | string;
  /** Date of the newest generated message (ms or ISO string). Default 2026-01-01. */
  endDate?: number | string;
}

export type HistoryKind = 'messageAdded' | 'messageDeleted' | 'labelAdded' | 'labelRemoved';

/** One change; Gmail may group several in a record, the emulator writes one record per change. */
export interface HistoryRecord {
  id: number;
  kind: HistoryKind;
  index: number;
  /** Labels of the message after the change. */
  labelBits: number;
  /** Labels added or removed by a label change. */
  changedBits: number;
}

/** A message to add; whatever is not given is generated. */
export interface NewMessage {
  /** Label ids; default `INBOX` and `UNREAD` (or `SENT` for `sent`). */
  labelIds?: string[];
  /** Join this thread instead of starting one. */
  threadId?: string;
  /** `internalDate` in ms; default the clock's now. */
  internalDate?: number;
  /** The owner sent it (`From` is the owner). Default false. */
  sent?: boolean;
  content?: CustomContent;
}

const DELETED = 1;
/** History ids of generated messages start here; the first mutation gets the next one. */
const FIRST_HISTORY_ID = 1000;
const OPEN_THREADS = 64;

function toMs(value: number | string | undefined, fallback: string): number {
  if (typeof value === 'number') return value;
  return Date.parse(value ?? fallback);
}

/**
 * One user's mailbox in a few typed arrays (about 25 bytes per message); headers and bodies are
 * regenerated from `(seed, index)` when asked for, so 500,000 messages cost tens of megabytes.
 * Message `index` is the position in creation order; ids and thread ids are derived from it.
 */
export class Mailbox {
  readonly address: string;
  readonly seed: number;
  readonly labels: LabelSet;
  private readonly idPrefix: string;
  private count = 0;
  private live = 0;
  private internalDates: Float64Array;
  private labelBits: Uint32Array;
  private threadStarts: Uint32Array;
  private nextInThread: Int32Array;
  private historyIds: Uint32Array;
  private flags: Uint8Array;
  private fetches: Uint16Array | undefined;
  private readonly custom = new Map<number, CustomContent>();
  private readonly history: HistoryRecord[] = [];
  private currentHistoryId: number;
  private floor: number;

  constructor(
    options: MailboxOptions,
    private readonly clock: Clock,
  ) {
    this.address = options.address.toLowerCase();
    this.seed = (options.seed ?? 1) >>> 0;
    this.labels = new LabelSet(options.userLabels ?? DEFAULT_USER_LABELS);
    this.idPrefix = (0x10000000 + (hash32(hashString(this.address), this.seed) % 0x0fffffff)).toString(16);
    const size = Math.max(0, Math.floor(options.messages ?? 1000));
    const capacity = Math.max(16, size);
    this.internalDates = new Float64Array(capacity);
    this.labelBits = new Uint32Array(capacity);
    this.threadStarts = new Uint32Array(capacity);
    this.nextInThread = new Int32Array(capacity);
    this.historyIds = new Uint32Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.generate(size, options);
    this.currentHistoryId = FIRST_HISTORY_ID + size;
    this.floor = this.currentHistoryId;
  }

  private generate(size: number, options: MailboxOptions): void {
    const start = toMs(options.startDate, '2016-01-01T00:00:00Z');
    const end = toMs(options.endDate, '2026-01-01T00:00:00Z');
    const step = size > 0 ? (end - start) / size : 0;
    const newThread = 1 / Math.max(1, options.meanThreadSize ?? 2.5);
    const openStarts: number[] = [];
    const openTails: number[] = [];
    const userLabelCount = this.labels.userLabels.length;
    for (let i = 0; i < size; i++) {
      const random = new Random(hash32(this.seed, i));
      let previous = -1;
      if (openStarts.length === 0 || random.chance(newThread)) {
        this.threadStarts[i] = i;
        // Half the conversations never get a reply (notifications, newsletters); the other half
        // stay open for replies, which gives a long tail of thread sizes around the mean.
        if (random.chance(0.5)) {
          if (openStarts.length === OPEN_THREADS) {
            openStarts.shift();
            openTails.shift();
          }
          openStarts.push(i);
          openTails.push(i);
        }
      } else {
        const slot = random.int(openStarts.length);
        this.threadStarts[i] = openStarts[slot]!;
        previous = openTails[slot]!;
        this.nextInThread[previous] = i;
        openTails[slot] = i;
      }
      this.nextInThread[i] = -1;
      this.internalDates[i] = Math.floor(start + (i + random.next() * 0.9) * step);
      this.historyIds[i] = FIRST_HISTORY_ID + i;
      this.labelBits[i] = this.generateLabels(random, previous >= 0, userLabelCount);
    }
    this.count = size;
    this.live = size;
  }

  private generateLabels(random: Random, reply: boolean, userLabelCount: number): number {
    if (random.chance(reply ? 0.4 : 0.1)) {
      return (LABEL_BITS.SENT | (random.chance(0.3) ? LABEL_BITS.IMPORTANT : 0)) >>> 0;
    }
    if (random.chance(0.01)) return (LABEL_BITS.SPAM | LABEL_BITS.UNREAD) >>> 0;
    let bits = 0;
    if (random.chance(0.015)) bits |= LABEL_BITS.TRASH;
    else if (random.chance(0.75)) bits |= LABEL_BITS.INBOX;
    const category = random.next();
    if (category < 0.5) bits |= LABEL_BITS.CATEGORY_PERSONAL;
    else if (category < 0.7) bits |= LABEL_BITS.CATEGORY_UPDATES;
    else if (category < 0.85) bits |= LABEL_BITS.CATEGORY_PROMOTIONS;
    else if (category < 0.95) bits |= LABEL_BITS.CATEGORY_SOCIAL;
    else bits |= LABEL_BITS.CATEGORY_FORUMS;
    if (random.chance(category >= 0.7 && category < 0.85 ? 0.6 : 0.25)) bits |= LABEL_BITS.UNREAD;
    if (random.chance(0.03)) bits |= LABEL_BITS.STARRED;
    if (random.chance(0.2)) bits |= LABEL_BITS.IMPORTANT;
    if (userLabelCount > 0 && random.chance(0.3)) {
      bits |= userLabelBit(random.int(userLabelCount));
      if (random.chance(0.15)) bits |= userLabelBit(random.int(userLabelCount));
    }
    return bits >>> 0;
  }

  /** The mailbox's current `historyId`. */
  get historyId(): number {
    return this.currentHistoryId;
  }

  /** The oldest `startHistoryId` history.list still accepts. */
  get historyFloor(): number {
    return this.floor;
  }

  /** Messages ever created, deleted ones included: the bound of message indexes. */
  get size(): number {
    return this.count;
  }

  get messagesTotal(): number {
    return this.live;
  }

  threadsTotal(): number {
    let threads = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.threadStarts[i] === i && this.firstLiveInThread(i) >= 0) threads++;
    }
    return threads;
  }

  idOf(index: number): string {
    return this.idPrefix + index.toString(16).padStart(8, '0');
  }

  /** The index of an id, live or deleted; undefined when the id was never issued here. */
  indexOf(id: string): number | undefined {
    if (id.length !== 16 || !id.startsWith(this.idPrefix)) return undefined;
    const index = Number.parseInt(id.slice(8), 16);
    return Number.isInteger(index) && index < this.count ? index : undefined;
  }

  isLive(index: number): boolean {
    return index >= 0 && index < this.count && (this.flags[index]! & DELETED) === 0;
  }

  labelsOf(index: number): number {
    return this.labelBits[index]!;
  }

  internalDateOf(index: number): number {
    return this.internalDates[index]!;
  }

  historyIdOf(index: number): number {
    return this.historyIds[index]!;
  }

  threadStartOf(index: number): number {
    return this.threadStarts[index]!;
  }

  /** A thread's id is the id of its first message, as in Gmail. */
  threadIdOf(index: number): string {
    return this.idOf(this.threadStarts[index]!);
  }

  /** Live messages of the thread started by `start`, oldest first. */
  threadMembers(start: number): number[] {
    const members: number[] = [];
    for (let i = start; i >= 0; i = this.nextInThread[i]!) {
      if (this.isLive(i)) members.push(i);
    }
    return members;
  }

  private firstLiveInThread(start: number): number {
    for (let i = start; i >= 0; i = this.nextInThread[i]!) {
      if (this.isLive(i)) return i;
    }
    return -1;
  }

  private previousInThread(index: number): number | undefined {
    const start = this.threadStarts[index]!;
    if (start === index) return undefined;
    let i = start;
    while (this.nextInThread[i]! !== index) i = this.nextInThread[i]!;
    return i;
  }

  facts(index: number): MessageFacts {
    return {
      seed: this.seed,
      index,
      owner: this.address,
      sent: (this.labelBits[index]! & LABEL_BITS.SENT) !== 0,
      threadStart: this.threadStarts[index]!,
      previous: this.previousInThread(index),
      internalDate: this.internalDates[index]!,
      custom: this.custom.get(index),
    };
  }

  content(index: number): MessageContent {
    return generateContent(this.facts(index));
  }

  fromAddressOf(index: number): string {
    const custom = this.custom.get(index)?.from;
    if (custom !== undefined) return custom.toLowerCase();
    return fromAddressOf({
      seed: this.seed,
      owner: this.address,
      sent: (this.labelBits[index]! & LABEL_BITS.SENT) !== 0,
      threadStart: this.threadStarts[index]!,
    });
  }

  subjectOf(index: number): string {
    return this.custom.get(index)?.subject ?? subjectOf(this.seed, this.threadStarts[index]!);
  }

  /**
   * Live message indexes matching `accept`, newest first, starting at `from` (default the newest)
   * and going down. `next` is where the following page starts, absent at the end.
   */
  scan(
    accept: (index: number) => boolean,
    limit: number,
    from = this.count - 1,
  ): { indexes: number[]; next: number | undefined } {
    const indexes: number[] = [];
    let i = Math.min(from, this.count - 1);
    for (; i >= 0 && indexes.length < limit; i--) {
      if (this.isLive(i) && accept(i)) indexes.push(i);
    }
    return { indexes, next: i >= 0 ? i : undefined };
  }

  countMatching(accept: (index: number) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.isLive(i) && accept(i)) n++;
    return n;
  }

  /** Counts a fetch of the message, saturating at 65,535. */
  recordFetch(index: number): void {
    this.fetches ??= new Uint16Array(this.internalDates.length);
    if (this.fetches[index]! < 0xffff) this.fetches[index]!++;
  }

  fetchCount(index: number): number {
    return this.fetches?.[index] ?? 0;
  }

  resetFetchCounts(): void {
    this.fetches = undefined;
  }

  private nextHistoryId(): number {
    this.currentHistoryId += 1;
    return this.currentHistoryId;
  }

  private grow(): void {
    const capacity = this.internalDates.length * 2;
    const grown = <T extends Float64Array | Uint32Array | Int32Array | Uint8Array | Uint16Array>(
      array: T,
      make: (n: number) => T,
    ): T => {
      const next = make(capacity);
      next.set(array);
      return next;
    };
    this.internalDates = grown(this.internalDates, (n) => new Float64Array(n));
    this.labelBits = grown(this.labelBits, (n) => new Uint32Array(n));
    this.threadStarts = grown(this.threadStarts, (n) => new Uint32Array(n));
    this.nextInThread = grown(this.nextInThread, (n) => new Int32Array(n));
    this.historyIds = grown(this.historyIds, (n) => new Uint32Array(n));
    this.flags = grown(this.flags, (n) => new Uint8Array(n));
    if (this.fetches) this.fetches = grown(this.fetches, (n) => new Uint16Array(n));
  }

  /** Resolves label ids to bits; throws a `RangeError` naming the first unknown id. */
  bitsOfIds(ids: readonly string[]): number {
    let bits = 0;
    for (const id of ids) {
      const bit = this.labels.bitOfId(id);
      if (bit === undefined) throw new RangeError(`Invalid label: ${id}`);
      bits |= bit;
    }
    return bits >>> 0;
  }

  /** Adds a message and writes a `messagesAdded` record. Returns its index. */
  addMessage(input: NewMessage = {}): number {
    if (this.count === this.internalDates.length) this.grow();
    const index = this.count;
    let start = index;
    let previous = -1;
    if (input.threadId !== undefined) {
      const threadIndex = this.indexOf(input.threadId);
      if (threadIndex === undefined || this.threadStarts[threadIndex] !== threadIndex) {
        throw new RangeError(`Unknown thread: ${input.threadId}`);
      }
      start = threadIndex;
      previous = start;
      while (this.nextInThread[previous]! >= 0) previous = this.nextInThread[previous]!;
    }
    const sent = input.sent ?? false;
    const defaultLabels = sent
      ? LABEL_BITS.SENT
      : LABEL_BITS.INBOX | LABEL_BITS.UNREAD | LABEL_BITS.CATEGORY_PERSONAL;
    const bits = input.labelIds ? this.bitsOfIds(input.labelIds) : defaultLabels >>> 0;
    this.threadStarts[index] = start;
    this.nextInThread[index] = -1;
    if (previous >= 0) this.nextInThread[previous] = index;
    this.internalDates[index] = input.internalDate ?? this.clock.now();
    this.labelBits[index] = (sent ? bits | LABEL_BITS.SENT : bits) >>> 0;
    this.flags[index] = 0;
    if (input.content) this.custom.set(index, input.content);
    this.count += 1;
    this.live += 1;
    const id = this.nextHistoryId();
    this.historyIds[index] = id;
    this.history.push({ id, kind: 'messageAdded', index, labelBits: this.labelBits[index]!, changedBits: 0 });
    return index;
  }

  /** Permanently deletes a live message and writes a `messagesDeleted` record. */
  deleteMessage(index: number): void {
    if (!this.isLive(index)) throw new RangeError(`Unknown message: ${this.idOf(index)}`);
    this.flags[index]! |= DELETED;
    this.live -= 1;
    const id = this.nextHistoryId();
    this.historyIds[index] = id;
    this.history.push({
      id,
      kind: 'messageDeleted',
      index,
      labelBits: this.labelBits[index]!,
      changedBits: 0,
    });
  }

  /**
   * Adds then removes labels, writing a `labelsAdded` and/or `labelsRemoved` record for the labels
   * that actually changed (none when nothing changed, like Gmail).
   */
  modifyLabels(index: number, addBits: number, removeBits: number): void {
    if (!this.isLive(index)) throw new RangeError(`Unknown message: ${this.idOf(index)}`);
    const before = this.labelBits[index]!;
    const added = (addBits & ~before) >>> 0;
    const afterAdd = (before | addBits) >>> 0;
    const removed = (removeBits & afterAdd & ~added) >>> 0;
    const after = (afterAdd & ~removed) >>> 0;
    this.labelBits[index] = after;
    if (added) {
      const id = this.nextHistoryId();
      this.historyIds[index] = id;
      this.history.push({ id, kind: 'labelAdded', index, labelBits: after, changedBits: added });
    }
    if (removed) {
      const id = this.nextHistoryId();
      this.historyIds[index] = id;
      this.history.push({ id, kind: 'labelRemoved', index, labelBits: after, changedBits: removed });
    }
  }

  /**
   * Forgets history before `historyId` (default: the current one), so history.list from an older
   * point answers 404 and the client must run a full sync.
   */
  expireHistory(historyId = this.currentHistoryId): number {
    this.floor = Math.max(this.floor, Math.min(historyId, this.currentHistoryId));
    let drop = 0;
    while (drop < this.history.length && this.history[drop]!.id <= this.floor) drop++;
    this.history.splice(0, drop);
    return this.floor;
  }

  /** Records after `startHistoryId`, oldest first (a read-only view; do not mutate). */
  historyAfter(startHistoryId: number): readonly HistoryRecord[] {
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid]!.id <= startHistoryId) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  /** Approximate bytes held by the typed arrays, for the memory benchmark. */
  get compactBytes(): number {
    return (
      this.internalDates.byteLength +
      this.labelBits.byteLength +
      this.threadStarts.byteLength +
      this.nextInThread.byteLength +
      this.historyIds.byteLength +
      this.flags.byteLength +
      (this.fetches?.byteLength ?? 0)
    );
  }
}
