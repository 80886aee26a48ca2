import type { StagedItem } from '@syncjob/core';

/**
 * The ids a full sync has listed and not fetched yet, in listing order (Gmail lists newest first),
 * so the newest mail is fetched first while the listing goes on. It mirrors the durable staged list
 * of this run; the staged list is what a resume reads, this is what orders the work in between.
 *
 * A batch taken from the front brings every listed message of its threads along, however far back
 * they were listed, so the planner sees a thread's listed messages together. The listing keeps a
 * look-ahead of ids beyond the batch being taken: a thread's older messages come later in the list,
 * and the look-ahead is what lets them join their thread's batch.
 */
export class ListedWindow {
  /** Items in listing order; taken items stay until the head passes them. */
  #queue: StagedItem[] = [];
  #head = 0;
  /** Untaken items by thread; items without a thread are their own group. */
  readonly #byGroup = new Map<string, StagedItem[]>();
  /** Ids listed and not taken yet. */
  readonly #waiting = new Set<string>();

  /** Ids listed and not taken yet. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Adds a listed page; an id already waiting is left as it is (as the staged list does). */
  add(items: readonly StagedItem[]): void {
    for (const item of items) {
      if (this.#waiting.has(item.id)) continue;
      this.#waiting.add(item.id);
      this.#queue.push(item);
      if (item.group === null) continue;
      const members = this.#byGroup.get(item.group);
      if (members) members.push(item);
      else this.#byGroup.set(item.group, [item]);
    }
  }

  /**
   * Takes about `batchSize` items from the front, each with every waiting item of its thread (so a
   * batch may run over by the rest of its last thread). Threads keep their listing order.
   */
  take(batchSize: number): StagedItem[] {
    const batch: StagedItem[] = [];
    while (batch.length < batchSize && this.#head < this.#queue.length) {
      const item = this.#queue[this.#head]!;
      this.#head += 1;
      if (!this.#waiting.has(item.id)) continue;
      const members = item.group === null ? undefined : this.#byGroup.get(item.group);
      for (const member of members ?? [item]) {
        this.#waiting.delete(member.id);
        batch.push(member);
      }
      if (item.group !== null) this.#byGroup.delete(item.group);
    }
    // Drop the passed part of the queue now and then, so it holds about the look-ahead only.
    if (this.#head > 1_024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }
}
