import { hash32, Random } from './prng.js';
import { DOMAINS, FIRST_NAMES, LAST_NAMES, SUBJECT_PREFIXES, SUBJECT_TOPICS, WORDS } from './wordLists.js';

/** Content given explicitly when a message is added through the admin API; the rest is generated. */
export interface CustomContent {
  /** `From` header, e.g. `"Ann" <ann@example.com>`. */
  from?: string;
  /** `To` header. */
  to?: string;
  subject?: string;
  /** The text/plain body. */
  text?: string;
  /** An optional text/html alternative. */
  html?: string;
}

/** What the mailbox knows about a message; everything else is derived from it. */
export interface MessageFacts {
  seed: number;
  index: number;
  owner: string;
  sent: boolean;
  threadStart: number;
  /** The previous message of the thread, for `In-Reply-To`; undefined for the first one. */
  previous: number | undefined;
  internalDate: number;
  custom: CustomContent | undefined;
}

export interface MessageHeader {
  name: string;
  value: string;
}

export interface MessageContent {
  headers: MessageHeader[];
  text: string;
  html: string | undefined;
  /** The multipart boundary when there is an HTML alternative. */
  boundary: string | undefined;
  snippet: string;
}

interface Contact {
  name: string;
  address: string;
}

/** The correspondent of a thread: every message of a thread is between the owner and this contact. */
export function contactOf(seed: number, threadStart: number): Contact {
  const random = new Random(hash32(seed ^ 0x51ed, threadStart));
  const first = random.pick(FIRST_NAMES);
  const last = random.pick(LAST_NAMES);
  const domain = random.pick(DOMAINS);
  const local = `${first}.${last}`
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
  return { name: `${first} ${last}`, address: `${local}@${domain}` };
}

function ownerContact(owner: string): Contact {
  const local = owner.split('@')[0] ?? owner;
  const name = local
    .split(/[._-]/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join(' ');
  return { name, address: owner };
}

function formatAddress(contact: Contact): string {
  return `"${contact.name}" <${contact.address}>`;
}

export function subjectOf(seed: number, threadStart: number): string {
  const random = new Random(hash32(seed ^ 0x5b1e, threadStart));
  const prefix = random.pick(SUBJECT_PREFIXES);
  const topic = random.pick(SUBJECT_TOPICS);
  const text = prefix ? `${prefix} ${topic}` : topic[0]!.toUpperCase() + topic.slice(1);
  return `${text} #${(hash32(seed, threadStart) % 9000) + 1000}`;
}

/** The address in the `From` header, cheap enough to evaluate `from:` over a whole mailbox. */
export function fromAddressOf(facts: Pick<MessageFacts, 'seed' | 'owner' | 'sent' | 'threadStart'>): string {
  return facts.sent ? facts.owner : contactOf(facts.seed, facts.threadStart).address;
}

export function messageIdHeader(seed: number, index: number, sender: string): string {
  const domain = sender.split('@')[1] ?? 'mail.example';
  return `<${hash32(seed, index).toString(36)}.${index.toString(36)}@${domain}>`;
}

/** RFC 5322 date, in UTC so output does not depend on the machine's time zone. */
export function rfc2822Date(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

function sentence(random: Random): string {
  const length = 6 + random.int(12);
  const words: string[] = [];
  for (let i = 0; i < length; i++) words.push(random.pick(WORDS));
  const text = words.join(' ');
  return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
}

function bodyText(random: Random, greeting: string, signature: string): string {
  // A long tail of sizes: most mail is short, a few messages are a hundred times larger.
  const paragraphs = random.chance(0.02) ? 20 + random.int(100) : 1 + random.int(5);
  const lines = [`Hi ${greeting},`, ''];
  for (let p = 0; p < paragraphs; p++) {
    const sentences = 1 + random.int(5);
    const parts: string[] = [];
    for (let s = 0; s < sentences; s++) parts.push(sentence(random));
    lines.push(parts.join(' '), '');
  }
  lines.push('Best,', signature);
  return lines.join('\r\n');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Gmail's snippet: the start of the text body on one line, HTML-escaped. */
function snippetOf(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return escapeHtml(flat.length > 200 ? flat.slice(0, 200).replace(/\s+\S*$/, '') : flat).replace(
    /'/g,
    '&#39;',
  );
}

export function generateContent(facts: MessageFacts): MessageContent {
  const random = new Random(hash32(facts.seed ^ 0xb0d7, facts.index));
  const me = ownerContact(facts.owner);
  const them = contactOf(facts.seed, facts.threadStart);
  const from = facts.sent ? me : them;
  const to = facts.sent ? them : me;
  const custom = facts.custom ?? {};
  const baseSubject = subjectOf(facts.seed, facts.threadStart);
  const subject = custom.subject ?? (facts.previous === undefined ? baseSubject : `Re: ${baseSubject}`);
  const text = custom.text ?? bodyText(random, to.name.split(' ')[0] ?? to.name, from.name);
  const html =
    custom.html ??
    (custom.text === undefined && random.chance(0.35)
      ? `<div dir="ltr">${text
          .split('\r\n\r\n')
          .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\r\n/g, '<br>')}</p>`)
          .join('')}</div>`
      : undefined);
  const boundary =
    html === undefined ? undefined : `000000000000${hash32(facts.seed, facts.index).toString(16)}`;

  const headers: MessageHeader[] = [
    { name: 'MIME-Version', value: '1.0' },
    { name: 'Date', value: rfc2822Date(facts.internalDate) },
  ];
  if (facts.previous !== undefined) {
    const previousSender = facts.sent ? them.address : me.address;
    const parent = messageIdHeader(facts.seed, facts.previous, previousSender);
    headers.push({ name: 'References', value: parent }, { name: 'In-Reply-To', value: parent });
  }
  headers.push(
    { name: 'Message-ID', value: messageIdHeader(facts.seed, facts.index, from.address) },
    { name: 'Subject', value: subject },
    { name: 'From', value: custom.from ?? formatAddress(from) },
    { name: 'To', value: custom.to ?? formatAddress(to) },
    {
      name: 'Content-Type',
      value: boundary ? `multipart/alternative; boundary="${boundary}"` : 'text/plain; charset="UTF-8"',
    },
  );
  return { headers, text, html, boundary, snippet: snippetOf(text) };
}

/** Header values are ASCII on the wire: encode anything else as an RFC 2047 encoded word. */
function encodeHeaderValue(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
  if (/^[\x00-\x7f]*$/.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The message as RFC 822 text, the way `format=raw` returns it (before base64url). */
export function buildRaw(content: MessageContent): string {
  const head = content.headers.map((h) => `${h.name}: ${encodeHeaderValue(h.value)}`).join('\r\n');
  if (!content.boundary || content.html === undefined) return `${head}\r\n\r\n${content.text}\r\n`;
  const b = content.boundary;
  return [
    head,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset="UTF-8"',
    '',
    content.text,
    `--${b}`,
    'Content-Type: text/html; charset="UTF-8"',
    '',
    content.html,
    `--${b}--`,
    '',
  ].join('\r\n');
}
