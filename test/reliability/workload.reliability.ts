import './lib/quiet-logs.js'; // first: quiets the functions' loggers before they load
import { describe, expect, it } from 'vitest';
import { seedFromEnv } from './lib/random.js';
import { allAnomalies, runScenario, triedOf } from './lib/scenario.js';
import { reportCheck } from './lib/summary.js';

/**
 * The long randomized workload: at least 10,000 operations over 50 accounts, with every fault of the fast part at
 * the same rates. A failure prints its seed; `RELIABILITY_SEED=<seed> npm run test:reliability` replays its choices.
 */
describe('the long randomized workload', () => {
  it('given 10,000 random operations over 50 accounts from 16 clients (hot accounts, concurrent duplicates, client retries, clock jumps across cycles) while transactions are dropped, cancelled or lose their answer, reads fail, schedules fire twice, late or never, SNS fails and stream records arrive redelivered and out of order, then no rule breaks and every answer matches the ledger', async () => {
    const seed = seedFromEnv();
    const result = await runScenario({
      seed,
      accounts: 50,
      operations: 10_000,
      concurrency: 16,
      roundSize: 500,
      duplicateRate: 0.05,
      retryRate: 0.05,
      transactionFaults: { 'drop-before': 0.02, 'drop-after': 0.02, cancel: 0.03 },
      readFaultRate: 0.01,
      scheduler: { doubleRate: 0.15, lateRate: 0.15, missingRate: 0.15 },
      snsFailureRate: 0.1,
      redelivery: true,
    });
    const anomalies = allAnomalies(result);
    await reportCheck('long', { check: 'randomized workload with faults', seed, tried: triedOf(result), anomalies });
    expect(anomalies, `seed ${seed}`).toEqual([]);
  });
});
