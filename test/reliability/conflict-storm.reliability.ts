import './lib/quiet-logs.js'; // first: quiets the functions' loggers before they load
import { describe, expect, it } from 'vitest';
import { seedFromEnv } from './lib/random.js';
import { allAnomalies, runScenario, triedOf } from './lib/scenario.js';
import { reportCheck } from './lib/summary.js';

/**
 * A conflict storm: 24 clients on 3 accounts, most traffic on one of them, a tenth of the command path's
 * transactions cancelled on top of the real conflicts, a fifth of the requests sent twice at once. (Every losing
 * attempt is a full read and transaction: on DynamoDB Local a storm's cost grows with the clients squared, hence
 * its size.)
 */
describe('a conflict storm', () => {
  it('given 800 operations from 24 clients on 3 accounts with concurrent duplicates and cancelled transactions, then every request is applied once or refused, and no rule breaks', async () => {
    const seed = seedFromEnv();
    const result = await runScenario({
      seed,
      accounts: 3,
      operations: 800,
      concurrency: 24,
      roundSize: 200,
      duplicateRate: 0.2,
      retryRate: 0.1,
      hotShare: 0.8,
      transactionFaults: { cancel: 0.1 },
    });
    const anomalies = allAnomalies(result);
    await reportCheck('long', { check: 'conflict storm', seed, tried: triedOf(result), anomalies });
    expect(anomalies, `seed ${seed}`).toEqual([]);
  });
});
