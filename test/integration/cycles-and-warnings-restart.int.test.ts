import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../functions/lib/clock.js';
import { cycleScheduleName } from '../../functions/lib/schedules.js';
import { startLocal, type LocalRuntime } from '../../infra/local/main.js';
import { LocalNotifier } from '../../infra/local/notifier.js';
import { LocalScheduler } from '../../infra/local/scheduler.js';
import { LocalStreamPoller } from '../../infra/local/stream-poller.js';
import { createTestTables, type TestTables } from '../support/dynamodb.js';

/**
 * The local runtime stopped and started again over the same ledger: the scheduler rebuilds its schedules from the
 * ledger, a reset that passed while it was down is applied at the first sync, and the stream poller (which reads
 * the whole stream again, its checkpoints having been in memory) sends no warning a second time.
 */

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function start(tables: TestTables, at: string): Promise<LocalRuntime> {
  return startLocal({
    port: 0,
    dynamodb: { endpoint: tables.endpoint },
    tablePrefix: tables.prefix,
    clock: new ManualClock(new Date(at)),
    services: [new LocalScheduler({ tickMs: 0 }), new LocalNotifier({ print: false }), new LocalStreamPoller()],
    log: () => undefined,
  });
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

describe('a restart of the local runtime', () => {
  it('given a free account warned at 20% and a runtime stopped across its reset, when it starts again and syncs, then the reset is applied once and the warning is not sent again', async () => {
    const tables = await createTestTables();
    cleanups.push(() => tables.drop());
    const accountId = `restart-${crypto.randomUUID().slice(0, 8)}`;

    const first = await start(tables, '2026-11-26T10:00:00.000Z');
    await call(first, 'POST', '/v1/accounts', { accountId, plan: 'free', contact: { email: 'ops@example.test' } });
    await call(first, 'POST', '/v1/usage', { accountId, feature: 'chat', model: 'standard', inputTokens: 40_500 }); // 81 credits
    await call(first, 'POST', '/_local/sync');
    expect((await call(first, 'GET', '/_local/notifications')).items.map((i: { threshold: number }) => i.threshold)).toEqual([20]);
    expect((await call(first, 'GET', '/_local/schedules')).items.map((s: { name: string }) => s.name)).toEqual([cycleScheduleName(accountId, 0)]);
    await first.stop();

    const second = await start(tables, '2026-12-27T09:00:00.000Z');
    cleanups.push(() => second.stop());
    expect((await call(second, 'GET', '/_local/schedules')).items).toMatchObject([
      { name: cycleScheduleName(accountId, 0), at: '2026-12-26T10:00:00.000Z', input: { accountId, cycle: 0 } },
    ]);

    await call(second, 'POST', '/_local/sync');

    const ledger = (await call(second, 'GET', `/v1/accounts/${accountId}/ledger`)).items as Array<{ type: string; data: { cycle?: number; amount?: number } }>;
    expect(ledger.filter((e) => e.type === 'Granted' || e.type === 'Expired').map((e) => `${e.type} ${e.data.cycle}`)).toEqual([
      'Granted 0',
      'Expired 0',
      'Granted 1',
    ]);
    expect((await call(second, 'GET', '/_local/notifications')).items).toEqual([]);
    expect((await call(second, 'GET', '/_local/schedules')).items).toMatchObject([{ name: cycleScheduleName(accountId, 1), at: '2027-01-26T10:00:00.000Z' }]);
  });
});
