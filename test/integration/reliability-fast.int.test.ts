import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../domain/index.js';
import { LOCAL_SERVICES } from '../../infra/local/main.js';
import { useLocalApi } from '../support/local-api.js';
import { checkAll, readLedger } from '../reliability/lib/ledger-checks.js';
import { Random, seedFromEnv } from '../reliability/lib/random.js';
import { checkClientView, runWorkload } from '../reliability/lib/workload.js';

/**
 * The fast part of the reliability suite (`npm test`): a smaller randomized workload than the long suite
 * (`npm run test:reliability`), the same checks.
 */
const api = useLocalApi({ services: LOCAL_SERVICES.map((create) => create()) });

describe('a randomized concurrent workload', { timeout: 300_000 }, () => {
  it('given 600 random operations over 12 accounts with hot accounts, concurrent duplicates, client retries and clock jumps, then no rule of the ledger breaks and every answer matches the ledger', async () => {
    const seed = seedFromEnv();
    const random = new Random(seed);
    const result = await runWorkload({
      api: api(),
      random,
      prefix: `fast${seed}`,
      accounts: 12,
      operations: 600,
      concurrency: 8,
      roundSize: 100,
      duplicateRate: 0.05,
      retryRate: 0.05,
      betweenRounds: async () => {
        await api().request('POST', '/_local/sync', { key: null, token: null });
      },
    });
    const ledgers = new Map<string, LedgerEvent[]>();
    const anomalies = [...result.anomalies];
    for (const accountId of result.accountIds) {
      const facts = await readLedger(accountId);
      ledgers.set(accountId, facts.events);
      anomalies.push(...checkAll(facts));
    }
    anomalies.push(...checkClientView(result, ledgers));
    console.log(
      `seed ${seed}: ${result.operations} operations, ${result.requests} requests (${result.duplicatesSent} concurrent duplicates, ${result.clientRetries} client retries, ${result.retriesAfterFailure} retries after 409/5xx), ${result.clockJumps} clock jumps; statuses ${JSON.stringify(result.byStatus)}; ${[...ledgers.values()].reduce((a, e) => a + e.length, 0)} events; anomalies: ${anomalies.length}`,
    );
    expect(anomalies).toEqual([]);
  });
});
