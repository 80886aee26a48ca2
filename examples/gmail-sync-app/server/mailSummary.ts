import type { AccountKey, MailDataReader, MailMessage } from '@syncjob/core';

export interface LabelCount {
  id: string;
  name: string;
  type: 'system' | 'user';
  count: number;
}

export interface MailSummary {
  total: number;
  /** Stored messages per label, most used first. */
  labels: LabelCount[];
  /** Stored messages per category (`uncategorised` when no classifier ran), most used first. */
  categories: { category: string; count: number }[];
}

/** The newest messages as the page lists them: headers only, no body. */
export interface MessageRow {
  id: string;
  threadId: string | null;
  internalDate: number | null;
  from: string | null;
  subject: string | null;
  snippet: string | null;
  labelIds: string[];
  category: string | null;
}

/** Rows read per query while counting: a few round trips for a demo-sized mailbox. */
const PAGE = 5_000;

const header = (message: MailMessage, name: string): string | null => {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(message.headers)) if (key.toLowerCase() === wanted) return value;
  return null;
};

/**
 * Counts by label and category. `MailDataReader` has no aggregate query, so this pages through the
 * account's messages; fine for a demo mailbox, an app with its own sink would `GROUP BY` instead.
 */
export async function summarizeMail(data: MailDataReader, account: AccountKey): Promise<MailSummary> {
  const labelCounts = new Map<string, number>();
  const categoryCounts = new Map<string, number>();
  let total = 0;
  let afterId: string | undefined;
  for (;;) {
    const page = await data.listMessages(account, { afterId, limit: PAGE });
    for (const message of page) {
      total += 1;
      for (const id of message.labelIds) labelCounts.set(id, (labelCounts.get(id) ?? 0) + 1);
      const category = message.category ?? 'uncategorised';
      categoryCounts.set(category, (categoryCounts.get(category) ?? 0) + 1);
    }
    if (page.length < PAGE) break;
    afterId = page.at(-1)?.id;
  }
  const names = new Map((await data.listLabels(account)).map((label) => [label.id, label]));
  const labels = [...labelCounts].map(([id, count]) => {
    const label = names.get(id);
    return { id, name: label?.name ?? id, type: label?.type ?? 'user', count };
  });
  labels.sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  const categories = [...categoryCounts].map(([category, count]) => ({ category, count }));
  categories.sort((a, b) => b.count - a.count);
  return { total, labels, categories };
}

/** The newest `limit` messages of the account. */
export async function latestMessageRows(
  data: MailDataReader,
  account: AccountKey,
  limit = 50,
): Promise<MessageRow[]> {
  const messages = await data.latestMessages(account, limit);
  return messages.map((message) => ({
    id: message.id,
    threadId: message.threadId,
    internalDate: message.internalDate,
    from: header(message, 'From'),
    subject: header(message, 'Subject'),
    snippet: message.snippet,
    labelIds: message.labelIds,
    category: message.category,
  }));
}
