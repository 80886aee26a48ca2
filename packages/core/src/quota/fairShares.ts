import type { QuotaDemand } from '../store/syncStore';

/**
 * Divides `budget` units among the demanders, max-min fair within each priority and higher
 * priorities first: a demander wanting less than an equal split gets what it wants, and what it
 * leaves is split among the others (water-filling); a `null` want takes any amount. What one
 * priority leaves goes to the next, so manual syncs are served before scheduled ones and
 * scheduled ones still get what manual ones cannot use. Shares are not rounded.
 */
export function fairShares(budget: number, demands: readonly QuotaDemand[]): Map<string, number> {
  const shares = new Map<string, number>();
  let left = Math.max(0, budget);
  const priorities = [...new Set(demands.map((demand) => demand.priority))].sort((a, b) => b - a);
  for (const priority of priorities) {
    // Smallest wants first: each takes at most an equal split of what is left.
    const group = demands
      .filter((demand) => demand.priority === priority)
      .sort((a, b) => wantOf(a) - wantOf(b) || (a.demander < b.demander ? -1 : 1));
    let waiting = group.length;
    for (const demand of group) {
      const share = Math.min(wantOf(demand), left / waiting);
      shares.set(demand.demander, share);
      left -= share;
      waiting -= 1;
    }
  }
  return shares;
}

const wantOf = (demand: QuotaDemand): number =>
  demand.wanted === null ? Number.POSITIVE_INFINITY : Math.max(0, demand.wanted);
