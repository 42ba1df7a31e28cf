import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import cliProgress from 'cli-progress';
import { projectAccount } from '../domain/projections/index.js';
import { dynamoClient, documentClient, resetClients } from '../functions/lib/dynamo.js';
import { LISTING_PAGE_SIZE, readEvents, scanAccountIds } from '../functions/lib/event-store.js';
import { accountItems, BATCH_WRITE_SIZE, DynamoProjectionStore, FinanceAccumulator, projectionsTableName } from '../functions/lib/projection-store.js';
import { ENV } from '../infra/keys.js';
import { createTableInput } from '../infra/local/dynamodb-local.js';
import { PROJECTIONS_TABLE } from '../infra/tables.js';

/**
 * `npm run projections:rebuild`: replays the whole ledger into empty projections, account by account (several at
 * once, see ACCOUNTS_IN_FLIGHT), through the same pure projections the stream handler applies (domain/projections),
 * and writes the resulting items. The finance months, shared by the accounts of a shard, are summed in memory and
 * written last.
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
  /** Accounts rebuilt at once; default ACCOUNTS_IN_FLIGHT. */
  accountsInFlight?: number;
}

export interface RebuildResult {
  table: string;
  accounts: number;
  events: number;
  items: number;
}

/**
 * Accounts rebuilt at once. One account is a chain of round trips (a Query of its events, then its writes) with well
 * under a millisecond of folding between them, so one at a time the store waits for us and we for it. Measured side
 * by side on a 1,002-account ledger (DynamoDB Local, two busy cores): 1, 4 and 16 in flight gave medians of about
 * 1,800, 1,900 and 2,350 events/s; 12, 16 and 24 were within noise of each other. In AWS it is a modest request
 * rate for an on-demand table. Memory holds at most this many accounts' events and items.
 */
export const ACCOUNTS_IN_FLIGHT = 16;

/**
 * BatchWriteItem requests the rebuild keeps in flight. A small account has a dozen items, so a batch of its own
 * would be half empty: the items of all accounts in flight share batches of 25 instead (on the ledger above, 710
 * requests rather than 1,044), and while 6 are out the next ones fill up.
 */
export const SHARED_BATCHES_IN_FLIGHT = 6;

/** Items one page of the account listing examines (see event-store.ts); in AWS a 1 MB page holds about that many. */
export { LISTING_PAGE_SIZE };

/**
 * Segments of the parallel Scan that lists the accounts. The listing reads every item of the ledger (events and
 * idempotency records too) to find the heads, and on DynamoDB Local a page costs more the further into the table it
 * starts: 4 segments listed the ledger above in 1.2 s against 2.1 s as one sequence, using less of the emulator's
 * CPU (1.3 s against 2.0 s). In AWS the segments are read from different partitions in parallel.
 */
export const LISTING_SEGMENTS = 4;

export async function rebuildProjections(options: RebuildOptions = {}): Promise<RebuildResult> {
  const table = options.into ?? projectionsTableName();
  await prepareTarget(table, options);
  const store = new DynamoProjectionStore(table);
  const writer = new SharedBatchWriter((batch) => store.putItems(batch), SHARED_BATCHES_IN_FLIGHT);

  // The total grows as the listing finds accounts: it is final once the listing has reached the end of the ledger.
  const bar =
    options.progress === true
      ? new cliProgress.SingleBar({ format: 'rebuilding |{bar}| {value}/{total} accounts · {events} events', hideCursor: true, emptyOnZero: true }, cliProgress.Presets.shades_classic)
      : undefined;
  bar?.start(0, 0, { events: 0 });
  let listed = 0;
  const finance = new FinanceAccumulator();
  let accounts = 0;
  let events = 0;
  let items = 0;
  try {
    // Each account is read, folded and written on its own (its items share batch writes with other accounts', which
    // changes no item); only the finance months are shared, summed here in any order (the sums are exact integers)
    // and written once every account is done.
    await forEachInFlight(
      listAccounts((found) => {
        listed += found;
        bar?.setTotal(listed);
      }),
      options.accountsInFlight ?? ACCOUNTS_IN_FLIGHT,
      async (accountId) => {
        const ledger = await readEvents(accountId, 1);
        const projections = projectAccount(ledger);
        const written = accountItems(projections);
        await writer.write(written);
        finance.add(accountId, projections.finance);
        accounts += 1;
        events += ledger.length;
        items += written.length;
        bar?.increment(1, { events });
      },
    );
    const financeItems = finance.items();
    await store.putItems(financeItems);
    items += financeItems.length;
  } finally {
    bar?.stop();
  }
  return { table, accounts, events, items };
}

/**
 * Every account id in the ledger, from a parallel Scan of its head items (one per account) in LISTING_SEGMENTS
 * segments, merged in the order pages arrive. `onPage` gets the number of accounts each page found.
 */
function listAccounts(onPage: (found: number) => void): AsyncIterable<string> {
  return merge(Array.from({ length: LISTING_SEGMENTS }, (_, segment) => listSegment(segment, onPage)));
}

/** One segment's account ids, page after page; the next page is read while this one's accounts are taken. */
async function* listSegment(segment: number, onPage: (found: number) => void): AsyncIterable<string> {
  const read = (startKey: Record<string, unknown> | undefined) =>
    scanAccountIds({ limit: LISTING_PAGE_SIZE, startKey, segment: { index: segment, of: LISTING_SEGMENTS } });
  let page = read(undefined);
  for (;;) {
    const { accountIds, lastKey } = await page;
    const following = lastKey === undefined ? null : read(lastKey);
    // If the rebuild stops before it gets there, the read ahead must not fail the process as an unhandled rejection.
    following?.catch(() => undefined);
    onPage(accountIds.length);
    yield* accountIds;
    if (following === null) return;
    page = following;
  }
}

/** The values of several async sources as they come, each source's in its own order; one next() pending per source. */
async function* merge<T>(sources: ReadonlyArray<AsyncIterable<T>>): AsyncIterable<T> {
  const iterators = sources.map((source) => source[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const pull = (index: number): void => {
    const next = (iterators[index] as AsyncIterator<T>).next().then((result) => ({ index, result }));
    next.catch(() => undefined); // raced below; a source left pending when another fails must not go unhandled
    pending.set(index, next);
  };
  iterators.forEach((_, index) => pull(index));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done === true) {
        pending.delete(index);
        continue;
      }
      pull(index);
      yield result.value;
    }
  } finally {
    // Stopped early (the consumer returned, or a source failed): let the other sources end too.
    for (const index of pending.keys()) void (iterators[index] as AsyncIterator<T>).return?.()?.catch(() => undefined);
  }
}

/**
 * Writes the items of many callers in shared batches of BATCH_WRITE_SIZE, at most `limit` batches in flight. A batch
 * goes out as soon as there is room for it, with whatever is queued (up to 25 items), so batches fill up exactly when
 * the store is the bottleneck and nobody waits for a batch to fill. `write` resolves once every one of its items has
 * been written, and rejects if a batch holding one of them failed.
 */
export class SharedBatchWriter {
  private readonly queue: Array<{ item: Record<string, unknown>; owner: { left: number; resolve: () => void; reject: (error: unknown) => void; failed: boolean } }> = [];
  private inFlight = 0;

  constructor(
    private readonly put: (batch: Array<Record<string, unknown>>) => Promise<void>,
    private readonly limit: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number of at least 1, not ${limit}`);
  }

  write(items: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const owner = { left: items.length, resolve, reject, failed: false };
      for (const item of items) this.queue.push({ item, owner });
      this.send();
    });
  }

  private send(): void {
    while (this.inFlight < this.limit && this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH_WRITE_SIZE);
      this.inFlight += 1;
      void this.put(batch.map((entry) => entry.item)).then(
        () => {
          for (const { owner } of batch) {
            owner.left -= 1;
            if (owner.left === 0 && !owner.failed) owner.resolve();
          }
        },
        (error: unknown) => {
          for (const { owner } of batch) {
            if (owner.failed) continue;
            owner.failed = true;
            owner.reject(error);
          }
        },
      ).finally(() => {
        this.inFlight -= 1;
        this.send();
      });
    }
  }
}

/**
 * Runs `work` on each item of `source`, at most `limit` at a time, taking items only as slots free up (so a long
 * source streams through). After a failure no further item starts; the first error is thrown once the work in
 * flight has settled.
 */
export async function forEachInFlight<T>(source: AsyncIterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number of at least 1, not ${limit}`);
  const iterator = source[Symbol.asyncIterator]();
  let stopped = false;
  // Async generators queue concurrent next() calls, so the workers can share one iterator.
  const worker = async (): Promise<void> => {
    try {
      while (!stopped) {
        const next = await iterator.next();
        if (next.done === true || stopped) return;
        await work(next.value);
      }
    } catch (error) {
      stopped = true;
      throw error;
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: limit }, worker));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await iterator.return?.();
    throw failed.reason;
  }
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
