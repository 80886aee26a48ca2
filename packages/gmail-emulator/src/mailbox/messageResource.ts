import type { Mailbox } from './mailbox.js';
import { buildRaw, type MessageContent, type MessageHeader } from './messageContent.js';

export type MessageFormat = 'minimal' | 'metadata' | 'full' | 'raw';

export const MESSAGE_FORMATS: readonly MessageFormat[] = ['minimal', 'metadata', 'full', 'raw'];

export interface MessagePartBody {
  size: number;
  data?: string;
  attachmentId?: string;
}

export interface MessagePart {
  partId: string;
  mimeType: string;
  filename: string;
  headers: MessageHeader[];
  body: MessagePartBody;
  parts?: MessagePart[];
}

/** The Gmail `Message` resource, with the same field names and types (ids and dates as strings). */
export interface MessageResource {
  id: string;
  threadId: string;
  labelIds?: string[];
  snippet?: string;
  historyId: string;
  internalDate: string;
  sizeEstimate: number;
  payload?: Partial<MessagePart>;
  raw?: string;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function textPart(partId: string, mimeType: string, text: string, headers: MessageHeader[]): MessagePart {
  return {
    partId,
    mimeType,
    filename: '',
    headers,
    body: { size: Buffer.byteLength(text, 'utf8'), data: base64url(text) },
  };
}

function fullPayload(content: MessageContent): MessagePart {
  if (content.html === undefined) return textPart('', 'text/plain', content.text, content.headers);
  return {
    partId: '',
    mimeType: 'multipart/alternative',
    filename: '',
    headers: content.headers,
    body: { size: 0 },
    parts: [
      textPart('0', 'text/plain', content.text, [
        { name: 'Content-Type', value: 'text/plain; charset="UTF-8"' },
      ]),
      textPart('1', 'text/html', content.html, [
        { name: 'Content-Type', value: 'text/html; charset="UTF-8"' },
      ]),
    ],
  };
}

/**
 * Renders one message in a `format`. `metadataHeaders` (case-insensitive) narrows the headers of
 * `metadata`; Gmail ignores it for other formats.
 */
export function messageResource(
  mailbox: Mailbox,
  index: number,
  format: MessageFormat,
  metadataHeaders: readonly string[] = [],
): MessageResource {
  const labelIds = mailbox.labels.idsOf(mailbox.labelsOf(index));
  const content = mailbox.content(index);
  const raw = buildRaw(content);
  const resource: MessageResource = {
    id: mailbox.idOf(index),
    threadId: mailbox.threadIdOf(index),
    ...(labelIds.length > 0 ? { labelIds } : {}),
    snippet: content.snippet,
    sizeEstimate: Buffer.byteLength(raw, 'utf8'),
    historyId: String(mailbox.historyIdOf(index)),
    internalDate: String(mailbox.internalDateOf(index)),
  };
  if (format === 'metadata') {
    const wanted = new Set(metadataHeaders.map((name) => name.toLowerCase()));
    const headers = wanted.size
      ? content.headers.filter((header) => wanted.has(header.name.toLowerCase()))
      : content.headers;
    resource.payload = {
      mimeType: content.html === undefined ? 'text/plain' : 'multipart/alternative',
      headers,
    };
  } else if (format === 'full') {
    resource.payload = fullPayload(content);
  } else if (format === 'raw') {
    resource.raw = base64url(raw);
  }
  return resource;
}
