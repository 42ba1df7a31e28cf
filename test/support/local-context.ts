import { ManualClock } from '../../functions/lib/clock.js';
import type { LocalContext } from '../../infra/local/services.js';
import type { TestTables } from './dynamodb.js';

/** What the local runtime hands its services, on a test's tables: no stream ARN yet, no data directory, no logging. */
export function localContext(t: TestTables): LocalContext {
  return {
    endpoint: t.endpoint,
    region: 'us-east-1',
    dynamodb: t.client,
    clock: new ManualClock(),
    tables: t.names,
    ledgerTable: t.names.Ledger as string,
    ledgerStreamArn: undefined,
    dataDir: undefined,
    log: () => undefined,
  };
}
