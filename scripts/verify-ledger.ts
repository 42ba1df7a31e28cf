import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import cliProgress from 'cli-progress';
import { fold } from '../domain/index.js';
import { projectAccount } from '../domain/projections/index.js';
import { documentClient } from '../functions/lib/dynamo.js';
import { listAccountIds, loadAccount, readEvents } from '../functions/lib/event-store.js';
import {
  accountItems,
  accountKey,
  canonicalItem,
  DynamoProjectionStore,
  FinanceAccumulator,
  financePartition,
  itemId,
  projectionsTableName,
  SHARDS,
} from '../functions/lib/projection-store.js';
import { PROJECTIONS_TABLE } from '../infra/tables.js';
import { configureConnection, UsageError } from './rebuild-projections.js';

/**
 * `npm run ledger:verify`: folds every account's events and compares the fold with the account's head (the cached
 * state the command path reads) and with every projection (balance and cursor, usage days and records, and the
 * finance months summed over all accounts), then looks for projection items no account accounts for. Prints each
 * difference and exits 1 when there is any, 0 when the ledger, the heads and the projections agree.
 *
 *   npm run ledger:verify -- --local       the tables of `npm start`
 *   npm run ledger:verify                  the tables named by LEDGER_TABLE_NAME / PROJECTIONS_TABLE_NAME
 *
 * Run it when the stream is quiet (`POST /_local/sync` locally): a record still in flight shows as a difference.
 */

export interface Difference {
  /** `head`, `projection` or `orphan`. */
  kind: 'head' | 'projection' | 'orphan';
  /** The item (`pk|sk`) or account concerned. */
  where: string;
  message: string;
}

export interface VerifyResult {
  accounts: number;
  events: number;
  differences: Difference[];
}

/** At most this many differing fields are listed per item: enough to see what is wrong without flooding. */
const MAX_FIELDS_PER_ITEM = 6;

export async function verifyLedger(options: { projectionsTable?: string; progress?: boolean } = {}): Promise<VerifyResult> {
  const table = options.projectionsTable ?? projectionsTableName();
  const store = new DynamoProjectionStore(table);
  const differences: Difference[] = [];
  const expectedIds = new Set<string>();
  const finance = new FinanceAccumulator();

  const accountIds: string[] = [];
  for await (const accountId of listAccountIds()) accountIds.push(accountId);
  accountIds.sort();
  const bar = options.progress === true ? new cliProgress.SingleBar({ format: 'verifying |{bar}| {value}/{total} accounts', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(accountIds.length, 0);

  let events = 0;
  try {
    for (const accountId of accountIds) {
      const ledger = await readEvents(accountId, 1);
      events += ledger.length;

      // 1. The ledger itself: versions 1, 2, 3 … without a gap, and the head caches exactly their fold.
      ledger.forEach((event, i) => {
        if (event.version !== i + 1) differences.push({ kind: 'head', where: accountId, message: `event ${i + 1} of the ledger has version ${event.version}` });
      });
      const head = await loadAccount(accountId);
      let folded;
      try {
        folded = fold(accountId, ledger);
      } catch (error) {
        differences.push({ kind: 'head', where: accountId, message: `the events do not fold: ${(error as Error).message}` });
        continue;
      }
      for (const line of fieldDifferences(folded, head)) differences.push({ kind: 'head', where: accountId, message: `head ${line}` });

      // 2. Its projections: the items a replay of its events makes, and nothing else in its partitions.
      const projections = projectAccount(ledger);
      const expected = new Map(accountItems(projections).map((item) => [itemId(item), item]));
      for (const id of expected.keys()) expectedIds.add(id);
      const actual = new Map<string, Record<string, unknown>>();
      const accountItem = await store.getItem(accountKey(accountId));
      if (accountItem !== undefined) actual.set(itemId(accountItem), accountItem);
      for (const item of await store.usageItems(accountId)) actual.set(itemId(item), item);
      compareItems(expected, actual, differences);
      finance.add(accountId, projections.finance);
      bar?.increment();
    }
  } finally {
    bar?.stop();
  }

  // 3. Finance months: every account's contributions summed per shard and month, against the stored sums.
  const expectedFinance = new Map(finance.items().map((item) => [itemId(item), item]));
  for (const id of expectedFinance.keys()) expectedIds.add(id);
  const actualFinance = new Map<string, Record<string, unknown>>();
  for (let shard = 0; shard < SHARDS; shard += 1) {
    for (const item of await queryPartition(table, financePartition(shard))) actualFinance.set(itemId(item), item);
  }
  compareItems(expectedFinance, actualFinance, differences);

  // 4. Items no account's ledger explains (an account that is not in the ledger, a day without usage …).
  for await (const item of store.scanItems()) {
    const id = itemId(item);
    if (!expectedIds.has(id)) differences.push({ kind: 'orphan', where: id, message: 'no ledger event accounts for this item' });
  }
  return { accounts: accountIds.length, events, differences };
}

async function queryPartition(table: string, pk: string): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documentClient().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PROJECTIONS_TABLE.partitionKey },
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

function compareItems(expected: Map<string, Record<string, unknown>>, actual: Map<string, Record<string, unknown>>, differences: Difference[]): void {
  for (const [id, item] of expected) {
    const stored = actual.get(id);
    if (stored === undefined) {
      differences.push({ kind: 'projection', where: id, message: 'missing: the ledger says this item exists' });
      continue;
    }
    if (canonicalItem(stored) === canonicalItem(item)) continue;
    for (const line of fieldDifferences(item, stored)) differences.push({ kind: 'projection', where: id, message: line });
  }
  for (const id of actual.keys()) {
    if (!expected.has(id)) differences.push({ kind: 'projection', where: id, message: 'unexpected: no ledger event makes this item' });
  }
}

/** `path: ledger says X, stored Y` for the fields that differ (the first few). */
export function fieldDifferences(expected: unknown, actual: unknown): string[] {
  const lines: string[] = [];
  const walk = (e: unknown, a: unknown, path: string): void => {
    if (lines.length >= MAX_FIELDS_PER_ITEM) return;
    const bothObjects = e !== null && a !== null && typeof e === 'object' && typeof a === 'object' && Array.isArray(e) === Array.isArray(a);
    if (bothObjects) {
      const keys = [...new Set([...Object.keys(e as object), ...Object.keys(a as object)])].sort();
      for (const key of keys) walk((e as Record<string, unknown>)[key], (a as Record<string, unknown>)[key], path === '' ? key : `${path}.${key}`);
      return;
    }
    const show = (v: unknown): string => (v === undefined ? 'nothing' : canonicalItem(v));
    if (show(e) !== show(a)) lines.push(`${path || '(item)'}: the ledger says ${show(e)}, stored ${show(a)}`);
  };
  walk(expected, actual, '');
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      local: { type: 'boolean' },
      endpoint: { type: 'string' },
      'ledger-table': { type: 'string' },
      'projections-table': { type: 'string' },
    },
  });
  const connection = configureConnection({
    ...(values.local === undefined ? {} : { local: values.local }),
    ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
    ...(values['ledger-table'] === undefined ? {} : { ledgerTable: values['ledger-table'] }),
    ...(values['projections-table'] === undefined ? {} : { projectionsTable: values['projections-table'] }),
  });
  console.error(`Verifying ${connection.ledgerTable} and ${connection.projectionsTable} on ${connection.endpoint ?? `AWS (${process.env.AWS_REGION ?? 'default region'})`}`);
  const result = await verifyLedger({ progress: true });
  for (const d of result.differences) console.log(`${d.kind.padEnd(10)} ${d.where}: ${d.message}`);
  const summary = `${result.accounts} accounts, ${result.events} events: ${result.differences.length === 0 ? 'ledger, heads and projections agree' : `${result.differences.length} difference(s)`}`;
  console.log(summary);
  process.exitCode = result.differences.length === 0 ? 0 : 1;
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
      console.error(error instanceof UsageError ? error.message : error);
      process.exit(2);
    },
  );
}
