import { restoreLogLevel } from '../reliability/lib/quiet-logs.js'; // first: quiets the functions' loggers before they load
import { afterAll, describe, expect, it } from 'vitest';
import { allAnomalies, runScenario, triedOf } from '../reliability/lib/scenario.js';
import { seedFromEnv } from '../reliability/lib/random.js';
import { reportCheck } from '../reliability/lib/summary.js';

/**
 * The fast part of the reliability suite, run by `npm test`: the long suite's scenario (test/reliability/) at a
 * smaller size. A failure prints its seed; `RELIABILITY_SEED=<seed>` replays it.
 */
afterAll(() => restoreLogLevel());

describe('reliability under a randomized workload with faults', { timeout: 600_000 }, () => {
  it('given 600 random operations over 12 accounts (hot accounts, concurrent duplicates, client retries, clock jumps) while transactions are dropped, cancelled or lose their answer, schedules fire twice, late or never, SNS fails and stream records arrive redelivered and out of order, then no rule breaks: no negative balance, conservation, head = fold, projections = rebuild, one grant per cycle, one warning per ThresholdCrossed, every answer matches the ledger', async () => {
    const seed = seedFromEnv();
    const result = await runScenario({
      seed,
      accounts: 12,
      operations: 600,
      concurrency: 8,
      roundSize: 100,
      duplicateRate: 0.05,
      retryRate: 0.05,
      transactionFaults: { 'drop-before': 0.02, 'drop-after': 0.02, cancel: 0.03 },
      readFaultRate: 0.01,
      scheduler: { doubleRate: 0.15, lateRate: 0.15, missingRate: 0.15 },
      snsFailureRate: 0.1,
      redelivery: true,
    });
    const anomalies = allAnomalies(result);
    await reportCheck('fast', { check: 'randomized workload with faults', seed, tried: triedOf(result), anomalies });
    expect(anomalies, `seed ${seed}`).toEqual([]);
  });
});
