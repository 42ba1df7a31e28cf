import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import cliProgress from 'cli-progress';
import { projectAccount } from '../domain/projections/index.js';
import { dynamoClient, documentClient, resetClients } from '../functions/lib/dynamo.js';
import { listAccountIds, readEvents } from '../functions/lib/event-store.js';
import { accountItems, DynamoProjectionStore, FinanceAccumulator, projectionsTableName } from '../functions/lib/projection-store.js';
import { ENV } from '../infra/keys.js';
import { createTableInput } from '../infra/local/dynamodb-local.js';
import { PROJECTIONS_TABLE } from '../infra/tables.js';

/**
 * `npm run projections:rebuild`: replays the whole ledger into empty projections, account by account, through the
 * same pure projections the stream handler applies (domain/projections), and writes the resulting items. The
 * finance months, shared by the accounts of a shard, are summed in memory and written last.
 *
 *   npm run projections:rebuild -- --local                       the tables of `npm start` (DynamoDB Local :8000)
 *   npm run projections:rebuild -- --into Projections2 --create  into a new table, created first
 *   npm run projections:rebuild -- --clear                       empty the target first (stop the consumer!)
 *
 * Against AWS: set AWS_REGION, credentials, LEDGER_TABLE_NAME and PROJECTIONS_TABLE_NAME (or --into). Rebuild into
 * a new table and point the projection function at it, or disable the stream mapping while rebuilding in place:
 * a live consumer writing the same table meanwhile would be overwritten by the replay.
 */

export interface Connection {
  ledgerTable: string;
  projectionsTable: string;
  endpoint: string | undefined;
}

/** Points this process at the tables: flags first, then the environment; `--local` means `npm start`'s store. */
export function configureConnection(flags: { local?: boolean; endpoint?: string; ledgerTable?: string; projectionsTable?: string }): Connection {
  const endpoint = flags.endpoint ?? (flags.local === true ? `http://127.0.0.1:${process.env.DYNAMODB_PORT || 8000}` : process.env[ENV.dynamodbEndpoint]);
  const local = endpoint !== undefined && endpoint !== '';
  const ledgerTable = flags.ledgerTable ?? process.env[ENV.ledgerTable] ?? (local ? 'Ledger' : undefined);
  const projectionsTable = flags.projectionsTable ?? process.env[ENV.projectionsTable] ?? (local ? 'Projections' : undefined);
  if (ledgerTable === undefined || projectionsTable === undefined) {
    throw new UsageError(`Set ${ENV.ledgerTable} and ${ENV.projectionsTable} (or pass --local for the tables of npm start).`);
  }
  if (local) {
    process.env[ENV.dynamodbEndpoint] = endpoint;
    process.env.AWS_REGION ??= 'us-east-1';
  }
  process.env[ENV.ledgerTable] = ledgerTable;
  process.env[ENV.projectionsTable] = projectionsTable;
  resetClients();
  return { ledgerTable, projectionsTable, endpoint: local ? endpoint : undefined };
}

/** A mistake in how the script was called: one line, no stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface RebuildOptions {
  /** The table to fill; default PROJECTIONS_TABLE_NAME. */
  into?: string;
  /** Create the table (with the projections table's key schema) when it does not exist. */
  create?: boolean;
  /** Delete every item of the target first; without it, a target that has items is refused. */
  clear?: boolean;
  /** Show a progress bar on stderr. */
  progress?: boolean;
}

export interface RebuildResult {
  table: string;
  accounts: number;
  events: number;
  items: number;
}

export async function rebuildProjections(options: RebuildOptions = {}): Promise<RebuildResult> {
  const table = options.into ?? projectionsTableName();
  await prepareTarget(table, options);
  const store = new DynamoProjectionStore(table);

  const accountIds: string[] = [];
  for await (const accountId of listAccountIds()) accountIds.push(accountId);
  accountIds.sort();

  const bar = options.progress === true ? new cliProgress.SingleBar({ format: 'rebuilding |{bar}| {value}/{total} accounts · {events} events', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(accountIds.length, 0, { events: 0 });
  const finance = new FinanceAccumulator();
  let events = 0;
  let items = 0;
  try {
    for (const accountId of accountIds) {
      const ledger = await readEvents(accountId, 1);
      const projections = projectAccount(ledger);
      const written = accountItems(projections);
      await store.putItems(written);
      finance.add(accountId, projections.finance);
      events += ledger.length;
      items += written.length;
      bar?.increment(1, { events });
    }
    const financeItems = finance.items();
    await store.putItems(financeItems);
    items += financeItems.length;
  } finally {
    bar?.stop();
  }
  return { table, accounts: accountIds.length, events, items };
}

async function prepareTarget(table: string, options: RebuildOptions): Promise<void> {
  try {
    await dynamoClient().send(new DescribeTableCommand({ TableName: table }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    if (options.create !== true) throw new UsageError(`Table ${table} does not exist (pass --create to create it).`);
    await dynamoClient().send(new CreateTableCommand({ ...createTableInput(PROJECTIONS_TABLE), TableName: table }));
    for (let i = 0; i < 200; i += 1) {
      const { Table } = await dynamoClient().send(new DescribeTableCommand({ TableName: table }));
      if (Table?.TableStatus === 'ACTIVE') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`table ${table} did not become active`);
  }
  const probe = await documentClient().send(new ScanCommand({ TableName: table, Limit: 1 }));
  if ((probe.Items ?? []).length === 0) return;
  if (options.clear !== true) throw new UsageError(`Table ${table} is not empty: rebuild into an empty table, or pass --clear to empty it first.`);
  await clearTable(table);
}

async function clearTable(table: string): Promise<void> {
  const key = [PROJECTIONS_TABLE.partitionKey, PROJECTIONS_TABLE.sortKey];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documentClient().send(
      new ScanCommand({
        TableName: table,
        ProjectionExpression: '#pk, #sk',
        ExpressionAttributeNames: { '#pk': key[0] as string, '#sk': key[1] as string },
        ExclusiveStartKey: startKey,
      }),
    );
    const keys = (page.Items ?? []).map((item) => ({ DeleteRequest: { Key: item } }));
    for (let i = 0; i < keys.length; i += 25) {
      let requests = keys.slice(i, i + 25);
      while (requests.length > 0) {
        const result = await documentClient().send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        requests = (result.UnprocessedItems?.[table] ?? []) as typeof requests;
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      local: { type: 'boolean' },
      endpoint: { type: 'string' },
      'ledger-table': { type: 'string' },
      into: { type: 'string' },
      create: { type: 'boolean' },
      clear: { type: 'boolean' },
    },
  });
  const connection = configureConnection({
    ...(values.local === undefined ? {} : { local: values.local }),
    ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
    ...(values['ledger-table'] === undefined ? {} : { ledgerTable: values['ledger-table'] }),
    ...(values.into === undefined ? {} : { projectionsTable: values.into }),
  });
  const where = connection.endpoint ?? `AWS (${process.env.AWS_REGION ?? 'default region'})`;
  console.error(`Replaying ${connection.ledgerTable} into ${connection.projectionsTable} on ${where}`);
  const result = await rebuildProjections({ progress: true, create: values.create === true, clear: values.clear === true });
  console.log(`Rebuilt ${result.table}: ${result.accounts} accounts, ${result.events} events, ${result.items} items.`);
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof UsageError ? error.message : error);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
