import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  GetCommand,
  type BatchWriteCommandInput,
  type BatchWriteCommandOutput,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import {
  addFlows,
  EMPTY_FLOWS,
  FLOW_COUNTERS,
  FLOW_FRACTIONS,
  type AccountProjection,
  type AccountProjections,
  type FinanceFlows,
  type ProjectionChange,
  type UsageDayView,
  type UsageRecordView,
} from '../../domain/projections/index.js';
import { ENV } from '../../infra/keys.js';
import { PROJECTIONS_TABLE } from '../../infra/tables.js';
import { env } from './config.js';
import { documentClient } from './dynamo.js';

/**
 * The projections table: the read models of domain/projections, stored so that every write of one ledger event
 * is one TransactWriteItems guarded by the account's projection cursor.
 *
 * | item          | pk                  | sk                                   | written                        |
 * |---------------|---------------------|--------------------------------------|--------------------------------|
 * | account       | `ACCOUNTS#<shard>`  | `ACCOUNT#<accountId>`                | put, `appliedVersion = v − 1`  |
 * | usage day     | `USAGE#<accountId>` | `DAY#<YYYY-MM-DD>`                   | put                            |
 * | usage record  | `USAGE#<accountId>` | `RECORD#<occurredAt>#<version>`      | put                            |
 * | finance month | `FINANCE#<shard>`   | `MONTH#<YYYY-MM>`                    | ADD of the event's flows       |
 *
 * The account item is the cursor (`appliedVersion`), the balance view and the lot book in one; its condition
 * makes the whole transaction apply once per event, so the non-idempotent ADD on the shared finance item is safe
 * under redelivery, and the put of a usage day computed from a read of it cannot lose an update (only the
 * transaction that moves the cursor from v − 1 to v can write the account's items for v).
 *
 * Shards: each account hashes to one of SHARDS partitions for its account item and its finance contributions.
 * A partition takes about 1,000 writes/s; no item or partition is shared by every account, and a balances listing
 * or a finance report reads SHARDS partitions, not one item per account.
 */

/** 32 partitions carry ~32,000 projected events/s before throttling, and a report still reads only 32 of them. */
export const SHARDS = 32;

const K = { partitionKey: PROJECTIONS_TABLE.partitionKey, sortKey: PROJECTIONS_TABLE.sortKey } as const;

export const PROJECTION_KINDS = {
  account: 'account',
  usageDay: 'usage-day',
  usageRecord: 'usage-record',
  financeMonth: 'finance-month',
} as const;

const projectionsTableSchema = z.object({ [ENV.projectionsTable]: z.string().trim().min(1) });

export function projectionsTableName(): string {
  return env(projectionsTableSchema)[ENV.projectionsTable];
}

/** FNV-1a (32 bits) of the account id: stable across runtimes and releases, so an account never changes shard. */
export function shardOf(accountId: string, shards: number = SHARDS): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(accountId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

const shardLabel = (shard: number): string => String(shard).padStart(2, '0');

export type Key = Record<string, string>;

export const accountsPartition = (shard: number): string => `ACCOUNTS#${shardLabel(shard)}`;
export const accountKey = (accountId: string): Key => ({
  [K.partitionKey]: accountsPartition(shardOf(accountId)),
  [K.sortKey]: `ACCOUNT#${accountId}`,
});
export const usagePartition = (accountId: string): string => `USAGE#${accountId}`;
export const usageDaySortKey = (day: string): string => `DAY#${day}`;
export const usageDayKey = (accountId: string, day: string): Key => ({ [K.partitionKey]: usagePartition(accountId), [K.sortKey]: usageDaySortKey(day) });
export const usageRecordSortKey = (occurredAt: string, version: number): string => `RECORD#${occurredAt}#${String(version).padStart(10, '0')}`;
export const usageRecordKey = (record: Pick<UsageRecordView, 'accountId' | 'occurredAt' | 'version'>): Key => ({
  [K.partitionKey]: usagePartition(record.accountId),
  [K.sortKey]: usageRecordSortKey(record.occurredAt, record.version),
});
export const financePartition = (shard: number): string => `FINANCE#${shardLabel(shard)}`;
export const financeMonthSortKey = (month: string): string => `MONTH#${month}`;
export const financeKey = (shard: number, month: string): Key => ({ [K.partitionKey]: financePartition(shard), [K.sortKey]: financeMonthSortKey(month) });

// ---------------------------------------------------------------------------------------------------------------
// Items: each view as exactly one item shape, so the live path and a rebuild write the same bytes.

type Item = Record<string, unknown>;

export function accountItem(account: AccountProjection): Item {
  return {
    ...accountKey(account.accountId),
    kind: PROJECTION_KINDS.account,
    accountId: account.accountId,
    appliedVersion: account.appliedVersion,
    balance: account.balance,
    lots: account.lots,
  };
}

export function itemToAccount(item: Item): AccountProjection {
  return {
    accountId: item.accountId as string,
    appliedVersion: item.appliedVersion as number,
    balance: item.balance as AccountProjection['balance'],
    lots: item.lots as AccountProjection['lots'],
  };
}

export function usageDayItem(view: UsageDayView): Item {
  return { ...usageDayKey(view.accountId, view.day), kind: PROJECTION_KINDS.usageDay, accountId: view.accountId, day: view.day, lines: view.lines };
}

export function itemToUsageDay(item: Item): UsageDayView {
  return { accountId: item.accountId as string, day: item.day as string, lines: item.lines as UsageDayView['lines'] };
}

export function usageRecordItem(record: UsageRecordView): Item {
  return { ...usageRecordKey(record), kind: PROJECTION_KINDS.usageRecord, ...record };
}

export function itemToUsageRecord(item: Item): UsageRecordView {
  const { [K.partitionKey]: _pk, [K.sortKey]: _sk, kind: _kind, ...record } = item;
  return record as unknown as UsageRecordView;
}

/**
 * Exact revenue fractions (recognised, released) are flattened into one numeric attribute per denominator
 * (`recognized#10000`, `released#1000`), so ADD can sum them.
 */
const fractionAttributes = (flows: FinanceFlows): Array<[string, number]> =>
  FLOW_FRACTIONS.flatMap((field) => Object.entries(flows[field]).map(([denominator, numerator]): [string, number] => [`${field}#${denominator}`, numerator]));

export function financeItem(shard: number, month: string, flows: FinanceFlows): Item {
  const item: Item = { ...financeKey(shard, month), kind: PROJECTION_KINDS.financeMonth, shard, month };
  for (const counter of FLOW_COUNTERS) item[counter] = flows[counter];
  for (const [attribute, numerator] of fractionAttributes(flows)) item[attribute] = numerator;
  return item;
}

export function itemToFlows(item: Item): FinanceFlows {
  const flows: FinanceFlows = { ...EMPTY_FLOWS, recognized: {}, released: {} };
  for (const counter of FLOW_COUNTERS) flows[counter] = Number(item[counter] ?? 0);
  for (const [name, value] of Object.entries(item)) {
    for (const field of FLOW_FRACTIONS) {
      if (name.startsWith(`${field}#`)) flows[field][name.slice(field.length + 1)] = Number(value);
    }
  }
  return flows;
}

/** The update that adds an event's flows to its month (creating the item on first use). */
function financeUpdate(TableName: string, shard: number, month: string, flows: FinanceFlows): NonNullable<TransactWriteCommandInput['TransactItems']>[number] {
  const names: Record<string, string> = { '#kind': 'kind', '#shard': 'shard', '#month': 'month' };
  const values: Record<string, unknown> = { ':kind': PROJECTION_KINDS.financeMonth, ':shard': shard, ':month': month };
  const adds: string[] = [];
  const add = (attribute: string, value: number): void => {
    const i = adds.length;
    names[`#a${i}`] = attribute;
    values[`:a${i}`] = value;
    adds.push(`#a${i} :a${i}`);
  };
  // Every counter is added, zeros too: the item then has the same attributes as the one a rebuild puts.
  for (const counter of FLOW_COUNTERS) add(counter, flows[counter]);
  for (const [attribute, numerator] of fractionAttributes(flows)) add(attribute, numerator);
  return {
    Update: {
      TableName,
      Key: financeKey(shard, month),
      UpdateExpression: `SET #kind = :kind, #shard = :shard, #month = :month ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The store

/** The writes of the stream handler: what it reads before deciding, and the guarded commit of one event. */
export interface ProjectionStore {
  /** Consistent read of an account's projection (its cursor); null before its first event is applied. */
  loadAccount(accountId: string): Promise<AccountProjection | null>;
  loadUsageDay(accountId: string, day: string): Promise<UsageDayView | null>;
  /**
   * Writes one event's change atomically if the account's cursor is still `change.expectedVersion`; 'conflict'
   * when it is not (the event, or a later one, was applied meanwhile: reload and look again).
   */
  commit(change: ProjectionChange): Promise<'applied' | 'conflict'>;
}

/** Another transaction held an item of ours (a finance month shared with other accounts): try again shortly. */
export class ProjectionContentionError extends Error {
  override readonly name = 'ProjectionContentionError';
}

/** Attempts of one commit while other transactions hold a shared finance item, with jittered waits between. */
const MAX_CONTENTION_ATTEMPTS = 6;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface UsageRecordPage {
  records: UsageRecordView[];
  /** The sort key after which the next page starts; null on the last page. */
  next: string | null;
}

export interface BalancesPage {
  accounts: AccountProjection[];
  /** Where the next page starts; null on the last page. */
  next: { shard: number; after: string | null } | null;
}

export class DynamoProjectionStore implements ProjectionStore {
  constructor(
    readonly tableName: string = projectionsTableName(),
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async loadAccount(accountId: string): Promise<AccountProjection | null> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: accountKey(accountId), ConsistentRead: true }));
    return Item === undefined ? null : itemToAccount(Item);
  }

  async loadUsageDay(accountId: string, day: string): Promise<UsageDayView | null> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: usageDayKey(accountId, day), ConsistentRead: true }));
    return Item === undefined ? null : itemToUsageDay(Item);
  }

  /** The TransactWriteItems of one event: the guarded account item first, then the views it changes. */
  transactionOf(change: ProjectionChange): NonNullable<TransactWriteCommandInput['TransactItems']> {
    const TableName = this.tableName;
    const guard: { ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } =
      change.expectedVersion === 0
        ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': K.partitionKey } }
        : {
            ConditionExpression: '#applied = :expected',
            ExpressionAttributeNames: { '#applied': 'appliedVersion' },
            ExpressionAttributeValues: { ':expected': change.expectedVersion },
          };
    const items: NonNullable<TransactWriteCommandInput['TransactItems']> = [{ Put: { TableName, Item: accountItem(change.account), ...guard } }];
    if (change.usageDay !== null) items.push({ Put: { TableName, Item: usageDayItem(change.usageDay) } });
    if (change.usageRecord !== null) items.push({ Put: { TableName, Item: usageRecordItem(change.usageRecord) } });
    if (change.finance !== null) items.push(financeUpdate(TableName, shardOf(change.accountId), change.finance.month, change.finance.flows));
    return items;
  }

  async commit(change: ProjectionChange): Promise<'applied' | 'conflict'> {
    const TransactItems = this.transactionOf(change);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems }));
        return 'applied';
      } catch (error) {
        const outcome = classify(error);
        if (outcome === 'cursor') return 'conflict';
        if (outcome === 'other') throw error;
        if (attempt >= MAX_CONTENTION_ATTEMPTS) {
          throw new ProjectionContentionError(`projection of ${change.accountId} v${change.version} kept meeting concurrent transactions`, { cause: error });
        }
        await sleep(Math.random() * 20 * 2 ** attempt);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Reads for the query routes

  /** The account's usage days from `fromDay` to `toDay` (inclusive, `YYYY-MM-DD`), in order. */
  async *usageDays(accountId: string, fromDay: string, toDay: string): AsyncIterable<UsageDayView> {
    if (toDay < fromDay) return;
    yield* this.queryAll(
      {
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': usagePartition(accountId), ':from': usageDaySortKey(fromDay), ':to': usageDaySortKey(toDay) },
      },
      itemToUsageDay,
    );
  }

  /**
   * A page of the account's usage records with `from ≤ occurredAt < to`, in occurrence order (then version).
   * `after` is the `next` of the previous page. DynamoDB pages of 1 MB are read until `limit` records are found.
   */
  async usageRecordPage(accountId: string, range: { from: string; to: string }, opts: { limit: number; after?: string }): Promise<UsageRecordPage> {
    const lower = usageRecordSortKey(range.from, 0);
    const upper = usageRecordSortKey(range.to, 0); // the first record at `to` sorts after it: excluded
    if (opts.after !== undefined && (opts.after < lower || opts.after >= upper)) return { records: [], next: null };
    const records: UsageRecordView[] = [];
    let startKey: Record<string, unknown> | undefined =
      opts.after === undefined ? undefined : { [K.partitionKey]: usagePartition(accountId), [K.sortKey]: opts.after };
    let lastSortKey: string | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': K.partitionKey, '#sk': K.sortKey },
          ExpressionAttributeValues: { ':pk': usagePartition(accountId), ':from': lower, ':to': upper },
          // One more than needed tells whether a next page exists without handing out a cursor to an empty one.
          Limit: opts.limit + 1 - records.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        if (records.length === opts.limit) return { records, next: lastSortKey ?? null };
        records.push(itemToUsageRecord(item));
        lastSortKey = item[K.sortKey] as string;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return { records, next: null };
  }

  /** A page of account projections (balances), shard after shard, in account id order within a shard. */
  async balancesPage(opts: { limit: number; from?: { shard: number; after: string | null } }): Promise<BalancesPage> {
    const accounts: AccountProjection[] = [];
    let shard = opts.from?.shard ?? 0;
    let after = opts.from?.after ?? null;
    while (shard < SHARDS) {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': K.partitionKey },
          ExpressionAttributeValues: { ':pk': accountsPartition(shard) },
          Limit: opts.limit - accounts.length,
          ...(after === null ? {} : { ExclusiveStartKey: { [K.partitionKey]: accountsPartition(shard), [K.sortKey]: after } }),
        }),
      );
      for (const item of page.Items ?? []) accounts.push(itemToAccount(item));
      const last = page.LastEvaluatedKey?.[K.sortKey] as string | undefined;
      if (last === undefined) {
        shard += 1;
        after = null;
      } else {
        after = last;
      }
      if (accounts.length >= opts.limit) return { accounts, next: shard < SHARDS ? { shard, after } : null };
    }
    return { accounts, next: null };
  }

  /** Every shard's flows of every month up to and including `month`: what a finance report of it sums. */
  async financeFlowsUpTo(month: string): Promise<Array<[string, FinanceFlows]>> {
    const perShard = await Promise.all(
      Array.from({ length: SHARDS }, async (_, shard) => {
        const out: Array<[string, FinanceFlows]> = [];
        for await (const item of this.queryAll(
          {
            KeyConditionExpression: '#pk = :pk AND #sk <= :to',
            ExpressionAttributeValues: { ':pk': financePartition(shard), ':to': financeMonthSortKey(month) },
          },
          (i) => i,
        )) {
          out.push([item.month as string, itemToFlows(item)]);
        }
        return out;
      }),
    );
    return perShard.flat();
  }

  private async *queryAll<T>(
    input: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'>,
    map: (item: Item) => T,
  ): AsyncIterable<T> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          ...input,
          ExpressionAttributeNames: {
            '#pk': K.partitionKey,
            ...(input.KeyConditionExpression?.includes('#sk') === true ? { '#sk': K.sortKey } : {}),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) yield map(item);
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Whole-table access for rebuild and verify

  /** Every item of the table, page by page (keys and attributes as stored). */
  async *scanItems(): AsyncIterable<Item> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }));
      yield* page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  async getItem(key: Key): Promise<Item | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Item;
  }

  /** The account's usage items (days and records) as stored. */
  async usageItems(accountId: string): Promise<Item[]> {
    const items: Item[] = [];
    for await (const item of this.queryAll(
      { KeyConditionExpression: '#pk = :pk', ExpressionAttributeValues: { ':pk': usagePartition(accountId) } },
      (i) => i,
    )) {
      items.push(item);
    }
    return items;
  }

  /**
   * Unconditional puts (a rebuild into an empty table): BatchWriteItem of 25, a few in flight, what DynamoDB leaves
   * unprocessed written again after a backoff (see `batchPutItems`).
   */
  async putItems(items: readonly Item[]): Promise<void> {
    await batchPutItems((input) => this.client.send(new BatchWriteCommand(input)), this.tableName, items);
  }
}

/** DynamoDB's limit of requests in one BatchWriteItem. */
export const BATCH_WRITE_SIZE = 25;

/**
 * Batch writes one `batchPutItems` call keeps in flight when it is given more than 25 items (the rebuild's finance
 * months, up to 32 per month): a few at a time, so a caller that already runs several calls at once (the rebuild's
 * shared batches) does not multiply its requests against a throttled table.
 */
export const BATCH_WRITES_IN_FLIGHT = 4;

/**
 * Writes of one batch before its unprocessed items are given up on. Waits between them double from 50 ms up to 5 s,
 * each a random part of that (full jitter, so batches throttled together do not retry together): up to 26 s of
 * waiting (13 s on average) before the rebuild stops with an error rather than spin against a throttled table. (A
 * request refused as a whole, ProvisionedThroughputExceeded, is retried by the SDK itself first.)
 */
export const MAX_BATCH_WRITE_ATTEMPTS = 12;
const BATCH_BACKOFF_BASE_MS = 50;
const BATCH_BACKOFF_CAP_MS = 5_000;

/** Some items stayed unprocessed through every attempt: the table is throttled beyond what the backoff rides out. */
export class UnprocessedItemsError extends Error {
  override readonly name = 'UnprocessedItemsError';
  constructor(
    readonly tableName: string,
    readonly unprocessed: number,
    attempts: number,
  ) {
    super(`${unprocessed} items for ${tableName} were still unprocessed after ${attempts} batch writes`);
  }
}

export type BatchWriteSend = (input: BatchWriteCommandInput) => Promise<Pick<BatchWriteCommandOutput, 'UnprocessedItems'>>;

export interface BatchPutOptions {
  inFlight?: number;
  maxAttempts?: number;
  /** How a backoff waits (tests pass one that records the wait instead). */
  wait?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * Puts `items` with BatchWriteItem, BATCH_WRITE_SIZE per request and `inFlight` requests at a time. What a response
 * returns as UnprocessedItems is sent again after a jittered exponential backoff. After a failure no further batch
 * starts, and the error is thrown once the batches in flight have settled.
 */
export async function batchPutItems(send: BatchWriteSend, tableName: string, items: readonly Item[], options: BatchPutOptions = {}): Promise<void> {
  const { inFlight = BATCH_WRITES_IN_FLIGHT, maxAttempts = MAX_BATCH_WRITE_ATTEMPTS, wait = sleep, random = Math.random } = options;
  const batches: Item[][] = [];
  for (let i = 0; i < items.length; i += BATCH_WRITE_SIZE) batches.push(items.slice(i, i + BATCH_WRITE_SIZE));
  const writeBatch = async (batch: Item[]): Promise<void> => {
    let requests: NonNullable<BatchWriteCommandInput['RequestItems']>[string] = batch.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 1; ; attempt += 1) {
      const result = await send({ RequestItems: { [tableName]: requests } });
      requests = result.UnprocessedItems?.[tableName] ?? [];
      if (requests.length === 0) return;
      if (attempt >= maxAttempts) throw new UnprocessedItemsError(tableName, requests.length, attempt);
      await wait(random() * Math.min(BATCH_BACKOFF_CAP_MS, BATCH_BACKOFF_BASE_MS * 2 ** (attempt - 1)));
    }
  };
  let next = 0;
  let stopped = false;
  const worker = async (): Promise<void> => {
    try {
      while (!stopped && next < batches.length) await writeBatch(batches[next++] as Item[]);
    } catch (error) {
      stopped = true; // start no other batch: the call fails once the ones in flight have settled
      throw error;
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(inFlight, batches.length) }, worker));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

function classify(error: unknown): 'cursor' | 'contention' | 'other' {
  if (error instanceof Error && error.name === 'TransactionConflictException') return 'contention';
  if (!(error instanceof TransactionCanceledException) && !(error instanceof Error && error.name === 'TransactionCanceledException')) return 'other';
  const codes = ((error as TransactionCanceledException).CancellationReasons ?? []).map((r) => r.Code ?? 'None');
  if (codes[0] === 'ConditionalCheckFailed') return 'cursor';
  if (codes.includes('TransactionConflict')) return 'contention';
  return 'other';
}

/** The items one account's projections consist of (its finance contributions are summed across accounts). */
export function accountItems(projections: AccountProjections): Item[] {
  const items: Item[] = [];
  if (projections.account !== null) items.push(accountItem(projections.account));
  for (const day of projections.usageDays.values()) items.push(usageDayItem(day));
  for (const record of projections.usageRecords) items.push(usageRecordItem(record));
  return items;
}

/** `pk|sk` of an item: identifies it in comparisons. */
export const itemId = (item: Item): string => `${String(item[K.partitionKey])}|${String(item[K.sortKey])}`;

/** The finance month items of many accounts, summed by shard and month as the live ADDs sum them. */
export class FinanceAccumulator {
  private readonly months = new Map<string, { shard: number; month: string; flows: FinanceFlows }>();

  add(accountId: string, finance: ReadonlyMap<string, FinanceFlows>): void {
    const shard = shardOf(accountId);
    for (const [month, flows] of finance) {
      const key = `${shard}|${month}`;
      const current = this.months.get(key);
      this.months.set(key, { shard, month, flows: addFlows(current?.flows ?? null, flows) });
    }
  }

  items(): Item[] {
    return [...this.months.values()].map(({ shard, month, flows }) => financeItem(shard, month, flows));
  }
}

/** An item as canonical JSON (keys sorted at every depth): equal items give equal strings. */
export function canonicalItem(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Set) return canonicalItem([...value].sort());
  if (Array.isArray(value)) return `[${value.map(canonicalItem).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalItem(v)}`).join(',')}}`;
}
