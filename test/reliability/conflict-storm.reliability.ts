import './lib/quiet-logs.js'; // first: quiets the functions' loggers before they load
import { describe, expect, it } from 'vitest';
import { seedFromEnv } from './lib/random.js';
import { allAnomalies, runScenario, triedOf } from './lib/scenario.js';
import { reportCheck } from './lib/summary.js';

/**
 * Conflict storms: most traffic on one of 3 accounts, a tenth of the command path's transactions cancelled on top
 * of the real conflicts, a fifth of the requests sent twice at once. Twice: as separate processes (group commit off,
 * every command races on the head's version guard: every losing attempt is a full read and transaction, so on
 * DynamoDB Local the cost grows with the clients squared, hence 24 clients and 800 operations), and in one process,
 * where the account lanes group the waiting commands (32 clients, 2,000 operations).
 */
describe('a conflict storm', () => {
  it('given 2,000 operations from 32 clients in one process on 3 accounts with concurrent duplicates and cancelled transactions, then every request is applied once or refused, and no rule breaks', async () => {
    const seed = seedFromEnv();
    const result = await runScenario({
      seed,
      accounts: 3,
      operations: 2_000,
      concurrency: 32,
      roundSize: 250,
      duplicateRate: 0.2,
      retryRate: 0.1,
      hotShare: 0.8,
      transactionFaults: { cancel: 0.1 },
      groupCommit: true,
    });
    const anomalies = allAnomalies(result);
    await reportCheck('long', { check: 'conflict storm, one process (grouped)', seed, tried: triedOf(result), anomalies });
    expect(anomalies, `seed ${seed}`).toEqual([]);
  });

  it('given 800 operations from 24 clients as separate processes on 3 accounts with concurrent duplicates and cancelled transactions, then every request is applied once or refused, and no rule breaks', async () => {
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
      groupCommit: false,
    });
    const anomalies = allAnomalies(result);
    await reportCheck('long', { check: 'conflict storm, separate processes (racing)', seed, tried: triedOf(result), anomalies });
    expect(anomalies, `seed ${seed}`).toEqual([]);
  });
});
