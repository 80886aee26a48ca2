/**
 * Gmail full-sync throughput against the emulator near the quota ceiling: for each cost profile
 * (legacy at 10× speed, 2026 at 100×) and each fetch transport (batch endpoint, single gets), a full
 * sync of a synthetic mailbox through the engine and the memory store, on the built packages
 * (`npm run bench:gmail`). The emulator runs in its own process, as Google would.
 *
 * Columns: achieved messages/s against the profile's ceiling (units per second / messages.get
 * cost), quota units spent per second against the budget, units per message against naive
 * `messages.get` (× 1 = one get per message), and the share of answers that were rate-limited.
 *
 * Then the same sync under sporadic 500/503 answers (bench/gmailFaults.ts): 3,000 messages at real
 * speed, 0 %, 1 % and 3 % of calls failing, msg/s against the fault-free run.
 *
 * BENCH_MESSAGES   mailbox size (default 44,000)
 * BENCH_ONLY       run only scenarios whose name contains this (e.g. `legacy`, `single`, `faults`)
 * BENCH_SOURCE     JSON of extra `gmailSource` options to try (e.g. `{"batchSize":200}`)
 * BENCH_FAULT_SPEED  emulator speed of the fault scenario (default 1: real speed)
 */
import { LEGACY_QUOTA, QUOTA_2026 } from '@syncjob/gmail-emulator';
import { FAULTS_TITLE, runFaultsBench, startEmulatorProcess, timedSync } from './gmailFaults.ts';

// Read once here: a benchmark's knobs.
const { BENCH_MESSAGES, BENCH_ONLY, BENCH_SOURCE, BENCH_FAULT_SPEED } = process.env;
const extraOptions = JSON.parse(BENCH_SOURCE ?? '{}') as Record<string, unknown>;
const MESSAGES = Number(BENCH_MESSAGES ?? 44_000);
const ADDRESS = 'me@example.com';

interface Scenario {
  name: string;
  quota: 'legacy' | '2026';
  speed: number;
  transport: 'batch' | 'single';
}

const scenarios: Scenario[] = (
  [
    { name: 'legacy ×10 batch', quota: 'legacy', speed: 10, transport: 'batch' },
    { name: 'legacy ×10 single', quota: 'legacy', speed: 10, transport: 'single' },
    { name: '2026 ×100 batch', quota: '2026', speed: 100, transport: 'batch' },
    { name: '2026 ×100 single', quota: '2026', speed: 100, transport: 'single' },
  ] as const
).filter((scenario) => !BENCH_ONLY || scenario.name.includes(BENCH_ONLY));

interface Row {
  scenario: string;
  seconds: number;
  perSecond: number;
  ceiling: number;
  unitsShare: number;
  unitsPerMessage: number;
  naive: number;
  rateLimited: number;
  quotaRefusals: number;
  concurrencyRefusals: number;
  requests: number;
  status: string;
}

async function run(scenario: Scenario): Promise<Row> {
  const profile = scenario.quota === 'legacy' ? LEGACY_QUOTA : QUOTA_2026;
  const emulator = await startEmulatorProcess({
    messages: MESSAGES,
    seed: 44,
    quota: scenario.quota,
    speed: scenario.speed,
  });
  try {
    const {
      job: ended,
      seconds,
      stored,
    } = await timedSync(emulator.url, {
      quota: scenario.quota,
      speed: scenario.speed,
      source: { transport: scenario.transport, ...extraOptions },
    });
    const stats = (await emulator.stats()).byUser[ADDRESS]!;
    const getCost = profile.costs['users.messages.get'];
    const unitsPerSecond = (profile.unitsPerUserPerMinute * scenario.speed) / 60;
    return {
      scenario: scenario.name,
      seconds,
      perSecond: stored / seconds,
      ceiling: unitsPerSecond / getCost,
      unitsShare: stats.units / seconds / unitsPerSecond,
      unitsPerMessage: stats.units / stored,
      naive: stats.units / (stored * getCost),
      rateLimited: (stats.rateLimited + stats.concurrencyLimited) / Math.max(1, stats.requests),
      quotaRefusals: stats.rateLimited,
      concurrencyRefusals: stats.concurrencyLimited,
      requests: stats.requests,
      status: stored === MESSAGES ? ended.status : `${ended.status}, ${stored} stored`,
    };
  } finally {
    await emulator.stop();
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const rows: Row[] = [];
console.log(
  `Gmail full sync of ${MESSAGES.toLocaleString('en-US')} messages (metadata format), engine + memory store\n`,
);
for (const scenario of scenarios) {
  const row = await run(scenario);
  rows.push(row);
  console.log(`  ${scenario.name}: ${row.seconds.toFixed(1)} s, ${row.status}`);
}
const table = [
  [
    'scenario',
    'time',
    'msg/s',
    'ceiling msg/s',
    '% of ceiling',
    'units/s % budget',
    'units/msg',
    '× naive',
    'rate-limited (quota/concurrency)',
    'calls',
  ],
  ...rows.map((row) => [
    row.scenario,
    `${row.seconds.toFixed(1)} s`,
    row.perSecond.toFixed(0),
    row.ceiling.toFixed(0),
    pct(row.perSecond / row.ceiling),
    pct(row.unitsShare),
    row.unitsPerMessage.toFixed(2),
    `${row.naive.toFixed(2)} ×`,
    `${pct(row.rateLimited)} (${row.quotaRefusals}/${row.concurrencyRefusals})`,
    row.requests.toLocaleString('en-US'),
  ]),
];
const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
console.log('');
for (const [index, line] of rows.length > 0 ? table.entries() : []) {
  console.log(`| ${line.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`);
  if (index === 0) console.log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`);
}
for (const quota of ['legacy', '2026']) {
  const batch = rows.find((row) => row.scenario.startsWith(quota) && row.scenario.endsWith('batch'));
  const single = rows.find((row) => row.scenario.startsWith(quota) && row.scenario.endsWith('single'));
  if (batch && single) {
    console.log(
      `\n${quota}: batch endpoint ${(single.seconds / batch.seconds).toFixed(2)} × the speed of single gets`,
    );
  }
}
if (rows.length > 0)
  console.log('\nTargets: ≥ 95 % of the ceiling, < 1 % rate-limited, ≤ 0.8 × naive units.');

if (!BENCH_ONLY || 'faults'.includes(BENCH_ONLY)) {
  console.log(`\n${FAULTS_TITLE}\n`);
  const faults = await runFaultsBench({ speed: Number(BENCH_FAULT_SPEED ?? 1) });
  console.table(faults.rows);
  for (const note of faults.notes) console.log(note);
}
