import type { SourceContext, StagedItem } from '@syncjob/core';

/**
 * Reads the account's staged ids in (group, id) order, a window at a time, and cuts them into
 * batches of about `batchSize` that never split a group (a thread), so the planner sees every listed
 * message of a thread together. Reading a window ahead is safe: the stage only shrinks by this run's
 * own commits, and reads resume strictly after the last item read.
 */
export async function* stagedBatches(
  staged: SourceContext['staged'],
  batchSize: number,
  windowSize = Math.max(2_000, batchSize * 4),
): AsyncGenerator<StagedItem[]> {
  let after: StagedItem | undefined;
  let carry: StagedItem[] = [];
  while (true) {
    const page = await staged.list(after ? { after, limit: windowSize } : { limit: windowSize });
    const full = page.length === windowSize;
    if (page.length > 0) after = page[page.length - 1];
    let items = carry.length > 0 ? carry.concat(page) : page;
    carry = [];
    if (full) {
      // The last group may go on in the next window: keep it for then.
      const group = items[items.length - 1]!.group;
      let start = items.length;
      if (group !== null) while (start > 0 && items[start - 1]!.group === group) start -= 1;
      carry = items.slice(start);
      items = items.slice(0, start);
    }
    let batch: StagedItem[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      batch.push(item);
      const groupEnds = item.group === null || items[i + 1]?.group !== item.group;
      if (batch.length >= batchSize && groupEnds) {
        yield batch;
        batch = [];
      }
    }
    if (!full) {
      if (batch.length > 0) yield batch;
      return;
    }
    // A short remainder waits for the next window rather than making a small batch.
    carry = batch.concat(carry);
  }
}
