import { restoreLogLevel } from '../reliability/lib/quiet-logs.js'; // first: quiets the functions' loggers before they load
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoClient } from '../../functions/lib/dynamo.js';
import { ROUTES } from '../../infra/routes.js';
import { useLocalApi } from '../support/local-api.js';
import { countLedgerWrites, fuzzRoute, type FuzzResult, type LedgerWriteCounter } from '../reliability/lib/fuzz.js';
import { seedFromEnv } from '../reliability/lib/random.js';
import { reportCheck } from '../reliability/lib/summary.js';

/**
 * The fast part of the HTTP fuzzing (`npm test`): a few hundred random requests per route; the long suite sends
 * thousands. No background services run, so every ledger write seen comes from the request being answered.
 */
const RUNS_PER_ROUTE = 300;
const api = useLocalApi();
const seed = seedFromEnv();
const results: FuzzResult[] = [];
let writes: LedgerWriteCounter;

beforeAll(() => {
  writes = countLedgerWrites(dynamoClient(), api().tables.names['Ledger'] as string);
});

afterAll(async () => {
  restoreLogLevel();
  for (const r of results) console.log(`[reliability] ${r.route}: ${r.cases} requests, answers ${JSON.stringify(r.byStatus)}, ${r.writesOn2xx} changed the ledger (all 2xx)`);
  const anomalies = results.flatMap((r) => r.anomalies);
  await reportCheck('fast', {
    check: 'http fuzzing',
    seed,
    tried: { routes: results.length, randomRequests: results.reduce((a, r) => a + r.cases, 0), ...Object.fromEntries(results.map((r) => [r.route, r.cases])) },
    anomalies,
  });
});

describe('random bodies, headers, paths and queries on every route', { timeout: 300_000 }, () => {
  for (const route of ROUTES) {
    it(`${route.method} ${route.path}: never a 5xx, every error in the JSON error shape, never a ledger change on a 4xx`, async () => {
      const result = await fuzzRoute(api(), route, { runs: RUNS_PER_ROUTE, seed, writes });
      results.push(result);
      expect(result.anomalies, `seed ${seed}`).toEqual([]);
    });
  }
});
