import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Each check of the reliability suite prints what it tried and what it found, and writes the same figures as JSON
 * (bench/results/reliability-<suite>--<check>.json: one file per check, since test files run in parallel; next to
 * the bench's results and, like them, not committed unless published), from which the README's reliability
 * table is written.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface CheckSummary {
  check: string;
  seed?: number;
  /** What was tried: operations, requests, faults injected, bad inputs… */
  tried: Record<string, number>;
  anomalies: string[];
  at?: string;
}

export async function reportCheck(suite: 'fast' | 'long', summary: CheckSummary): Promise<void> {
  const entry = { ...summary, at: new Date().toISOString() };
  const tried = Object.entries(summary.tried)
    .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
    .join(', ');
  console.log(`[reliability] ${summary.check}${summary.seed === undefined ? '' : ` (seed ${summary.seed})`}: tried ${tried}; anomalies ${summary.anomalies.length}`);
  for (const anomaly of summary.anomalies.slice(0, 20)) console.log(`[reliability]   ${anomaly}`);
  const slug = summary.check.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const file = join(ROOT, 'bench', 'results', `reliability-${suite}--${slug}.json`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify({ suite, ...entry }, null, 2)}\n`);
}
