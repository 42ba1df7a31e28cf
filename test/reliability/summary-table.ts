import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckSummary } from './lib/summary.js';

/**
 * `npx tsx test/reliability/summary-table.ts`: the reliability table for the README's "Reliability" section, from the JSON
 * the last runs of the suite wrote (bench/results/reliability-<suite>--<check>.json).
 */
const RESULTS = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'bench', 'results');

const FAULT_KEYS = [
  'transactionsDroppedBeforeSending',
  'transactionsAppliedAnswerLost',
  'transactionsCancelled',
  'readsDropped',
  'scheduleFiresDoubled',
  'scheduleFiresLate',
  'scheduleFiresLost',
  'snsPublishesFailed',
  'streamDuplicates',
  'streamBatchesRedelivered',
] as const;

const n = (v: number | undefined): string => (v ?? 0).toLocaleString('en-US');

const files = (await readdir(RESULTS)).filter((f) => /^reliability-(fast|long)--.*\.json$/.test(f)).sort();
const rows: string[] = [];
for (const file of files) {
  const s = JSON.parse(await readFile(join(RESULTS, file), 'utf8')) as CheckSummary & { suite: string };
  const t = s.tried;
  const fuzz = t['randomRequests'] !== undefined;
  const faults = FAULT_KEYS.reduce((a, k) => a + (t[k] ?? 0), 0);
  const faultDetail = FAULT_KEYS.filter((k) => (t[k] ?? 0) > 0)
    .map((k) => `${n(t[k])} ${k.replace(/([A-Z])/g, ' $1').toLowerCase()}`)
    .join(', ');
  const tried = fuzz
    ? `${n(t['randomRequests'])} requests on ${n(t['routes'])} routes`
    : `${n(t['operations'])} operations (${n(t['requests'])} requests, ${n(t['concurrentDuplicates'])} concurrent duplicates, ${n(t['clientRetries'])} client retries, ${n(t['clockJumps'])} clock jumps) over ${n(t['accounts'])} accounts; ${n(t['events'])} events, ${n(t['warnings'])} warnings, ${n(t['projectionItemsCompared'])} projection items compared${
        t['concurrentUpdateAnswers'] === undefined ? '' : `; answered 409 concurrent_update ${n(t['concurrentUpdateAnswers'])}, 5xx ${n(t['serverErrorAnswers'])} (each retried with its key)`
      }`;
  const anomalies = s.anomalies.length === 0 ? '0' : `${s.anomalies.length}: ${s.anomalies.slice(0, 3).join('; ')}`;
  rows.push(`| ${s.suite} | ${s.check} | ${fuzz ? '–' : tried} | ${fuzz ? '–' : `${n(faults)} (${faultDetail})`} | ${fuzz ? tried : '–'} | ${anomalies} | ${s.seed ?? '–'} · ${s.at?.slice(0, 10) ?? ''} |`);
}
console.log('| suite | check | operations tried | faults injected | bad inputs tried | anomalies found | seed · date |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
