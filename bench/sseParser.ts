// CPU time of the browser SSE parser on long lines fed in small chunks (what a slow or hostile
// stream does to the page's main thread), and on ordinary event traffic.
// `node bench/sseParser.ts [chunkBytes] [row filter]` — runs on the source, no build needed.
// Time is the process's CPU time (user + system) while feeding, so a busy machine does not inflate it.
import { createSseParser } from '../packages/core/src/client/sseParser.ts';

const CHUNK = Number(process.argv[2] ?? 1024);
const FILTER = process.argv[3] ?? '';

/** CPU ms spent in `run`. */
function cpuMs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function feedLine(bytes: number, maxLineLength: number): { ms: number; outcome: string } {
  let outcome = 'no event';
  const parse = createSseParser(
    (message) => {
      outcome = `1 event, ${message.data.length.toLocaleString('en-US')} chars`;
    },
    { maxLineLength },
  );
  const chunk = 'x'.repeat(CHUNK);
  const ms = cpuMs(() => {
    try {
      parse('data: ');
      for (let sent = 0; sent < bytes; sent += CHUNK) parse(chunk);
      parse('\n\n');
    } catch (error) {
      outcome = `rejected: ${(error as Error).message.slice(0, 60)}…`;
    }
  });
  return { ms, outcome };
}

function feedEvents(count: number): { ms: number; outcome: string } {
  let events = 0;
  const parse = createSseParser(() => events++);
  const frame = `id: 1\nevent: progress\ndata: ${JSON.stringify({ type: 'progress', counters: { stored: 123, total: 44_000 } })}\n\n`;
  const text = frame.repeat(count);
  const ms = cpuMs(() => {
    for (let i = 0; i < text.length; i += CHUNK) parse(text.slice(i, i + CHUNK));
  });
  return { ms, outcome: `${events.toLocaleString('en-US')} events` };
}

const MiB = 1024 * 1024;
const rows: Array<[string, () => { ms: number; outcome: string }]> = [
  ['1 MB line, no cap', () => feedLine(MiB, Number.POSITIVE_INFINITY)],
  ['4 MB line, no cap', () => feedLine(4 * MiB, Number.POSITIVE_INFINITY)],
  ['4 MB line, default cap (1 MiB)', () => feedLine(4 * MiB, MiB)],
  ['20,000 progress events', () => feedEvents(20_000)],
];
console.log(`SSE parser, fed in ${CHUNK.toLocaleString('en-US')}-byte chunks (node ${process.version})\n`);
console.log('| input | CPU time | outcome |\n|---|---:|---|');
for (const [name, run] of rows) {
  if (!name.includes(FILTER)) continue;
  const { ms, outcome } = run();
  console.log(`| ${name} | ${ms.toFixed(1)} ms | ${outcome} |`);
}
