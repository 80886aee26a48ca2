import type { StagedItem } from '@syncjob/core';

/** One provider call of a fetch: a message, or a whole thread standing in for its listed messages. */
export type FetchUnit =
  | { kind: 'message'; id: string }
  | {
      kind: 'thread';
      threadId: string;
      /** The listed (staged) messages of the thread this call fetches. */
      ids: string[];
    };

export interface FetchPlanOptions {
  /** Units of one `messages.get`. */
  messageCost: number;
  /** Units of one `threads.get`. */
  threadCost: number;
  /** False when threads cannot stand in for messages (format `raw`, which `threads.get` lacks). */
  threads: boolean;
}

/**
 * The fewest listed messages a thread needs before fetching it whole is strictly cheaper than its
 * messages one by one (3 with Gmail's costs, where a thread costs two messages). `Infinity` when
 * threads are never cheaper.
 */
export function threadThreshold(options: FetchPlanOptions): number {
  if (!options.threads || !(options.messageCost > 0)) return Number.POSITIVE_INFINITY;
  return Math.floor(options.threadCost / options.messageCost) + 1;
}

/**
 * Plans the calls that fetch `items` (staged ids with their thread as `group`): threads with at
 * least `threadThreshold` listed messages are fetched whole, everything else message by message.
 * The plan keeps the items' order.
 */
export function planFetches(items: readonly StagedItem[], options: FetchPlanOptions): FetchUnit[] {
  const threshold = threadThreshold(options);
  const byGroup = new Map<string, string[]>();
  for (const item of items) {
    if (item.group === null) continue;
    const ids = byGroup.get(item.group);
    if (ids) ids.push(item.id);
    else byGroup.set(item.group, [item.id]);
  }
  const plan: FetchUnit[] = [];
  const planned = new Set<string>();
  for (const item of items) {
    const ids = item.group === null ? undefined : byGroup.get(item.group);
    if (item.group !== null && ids && ids.length >= threshold) {
      if (!planned.has(item.group)) {
        planned.add(item.group);
        plan.push({ kind: 'thread', threadId: item.group, ids });
      }
      continue;
    }
    plan.push({ kind: 'message', id: item.id });
  }
  return plan;
}

/** Units a plan spends. */
export function planCost(
  plan: readonly FetchUnit[],
  options: Pick<FetchPlanOptions, 'messageCost' | 'threadCost'>,
): number {
  let units = 0;
  for (const unit of plan) units += unit.kind === 'thread' ? options.threadCost : options.messageCost;
  return units;
}
