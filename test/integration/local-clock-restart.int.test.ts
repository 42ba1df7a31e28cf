import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocal, type LocalRuntime } from '../../infra/local/main.js';

/**
 * `npm start` over a data directory (CREDITS_DATA_DIR) keeps the ledger across a restart, and with it the local
 * clock: a developer who moved the clock ahead and restarts must not find the clock back at the wall clock, behind
 * the ledger, where new events would be dated before the ones already recorded and charged to a cycle that has
 * not started yet.
 */
const DAY_MS = 86_400_000;
/** A cold JVM writing to disk on a busy machine takes a while; the test waits, it does not time. */
const TIMEOUT_MS = 180_000;

const dataDir = mkdtempSync(join(tmpdir(), 'credits-clock-'));
let running: LocalRuntime | undefined;
afterAll(async () => {
  await running?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The runtime as `npm start` builds it with CREDITS_DATA_DIR: its own DynamoDB Local on disk, its running clock. */
async function startWithDataDir(): Promise<LocalRuntime> {
  running = await startLocal({ port: 0, dynamodb: { port: 0, dataDir }, services: [], log: () => undefined });
  return running;
}

async function call(runtime: LocalRuntime, method: string, path: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { authorization: 'Bearer dev-service' };
  if (method !== 'GET') headers['idempotency-key'] = crypto.randomUUID();
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${runtime.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const parsed = (await response.json()) as unknown;
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

describe('the local clock across a restart of npm start with a data directory', () => {
  it(
    'given the clock moved 40 days ahead and an account opened then, when the runtime restarts, then the clock resumes ahead and new usage is dated after the opening, in the opened cycle',
    async () => {
      const first = await startWithDataDir();
      const ahead = new Date(first.clock.now().getTime() + 40 * DAY_MS);
      await call(first, 'POST', '/_local/clock', { set: ahead.toISOString() });
      const opened = await call(first, 'POST', '/v1/accounts', { accountId: 'clock-keeper', plan: 'free' });
      await first.stop();
      running = undefined;

      const second = await startWithDataDir();
      const { now } = (await call(second, 'GET', '/_local/clock')) as { now: string };
      expect(Date.parse(now)).toBeGreaterThanOrEqual(ahead.getTime());

      const charged = await call(second, 'POST', '/v1/usage', { accountId: 'clock-keeper', feature: 'image', quality: 'standard', units: 1 });
      expect(charged.balance.cycle).toEqual({ number: 0, start: opened.cycle.start, end: opened.cycle.end });
      const { items } = (await call(second, 'GET', '/v1/accounts/clock-keeper/ledger')) as { items: Array<{ type: string; at: string }> };
      const openedAt = Date.parse(items.find((e) => e.type === 'AccountOpened')!.at);
      const debitedAt = Date.parse(items.find((e) => e.type === 'Debited')!.at);
      expect(debitedAt).toBeGreaterThanOrEqual(openedAt);
    },
    TIMEOUT_MS,
  );
});
