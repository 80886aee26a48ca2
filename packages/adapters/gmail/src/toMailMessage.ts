import type { MailMessage } from '@syncjob/core';

/** The subset of Gmail's `Message` resource the source reads (as googleapis and the batch parts give it). */
export interface GmailMessageResource {
  id?: string | null;
  threadId?: string | null;
  historyId?: string | null;
  internalDate?: string | null;
  labelIds?: string[] | null;
  snippet?: string | null;
  sizeEstimate?: number | null;
  raw?: string | null;
  payload?: { headers?: Array<{ name?: string | null; value?: string | null }> | null } | null;
}

export type GmailMessageFormat = 'metadata' | 'minimal' | 'full' | 'raw';

/** Lower-case name → name as asked for, built once per list (a source passes the same list every time). */
const wantedByList = new WeakMap<readonly string[], Map<string, string>>();

function wantedHeaders(metadataHeaders: readonly string[]): Map<string, string> {
  let wanted = wantedByList.get(metadataHeaders);
  if (!wanted) {
    wanted = new Map(metadataHeaders.map((name) => [name.toLowerCase(), name]));
    wantedByList.set(metadataHeaders, wanted);
  }
  return wanted;
}

/**
 * Maps a Gmail message onto the stored shape. Only the wanted headers are kept (Gmail already
 * narrows them for `metadata`; `full` carries all of them), the first one of each name when a header
 * repeats, under the name as asked for.
 */
export function toMailMessage(
  resource: GmailMessageResource,
  format: GmailMessageFormat,
  metadataHeaders: readonly string[],
): MailMessage {
  const wanted = wantedHeaders(metadataHeaders);
  const headers: Record<string, string> = {};
  for (const header of resource.payload?.headers ?? []) {
    if (!header.name || header.value === null || header.value === undefined) continue;
    const name = wanted.size === 0 ? header.name : wanted.get(header.name.toLowerCase());
    if (name !== undefined && !(name in headers)) headers[name] = header.value;
  }
  const internalDate = resource.internalDate ? Number(resource.internalDate) : Number.NaN;
  const message: MailMessage = {
    id: resource.id ?? '',
    threadId: resource.threadId ?? null,
    historyId: resource.historyId ?? null,
    internalDate: Number.isFinite(internalDate) ? internalDate : null,
    // The resource is the caller's own parse of Gmail's answer: its array is not copied.
    labelIds: resource.labelIds ?? [],
    snippet: resource.snippet ?? null,
    sizeEstimate: resource.sizeEstimate ?? null,
    headers,
    category: null,
  };
  if (format === 'raw') message.raw = resource.raw ?? null;
  if (format === 'full') message.payload = resource.payload ?? null;
  return message;
}
