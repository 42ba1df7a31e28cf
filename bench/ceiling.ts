import { GetItemCommand, PutItemCommand, TransactWriteItemsCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DEFAULT_CATALOG, execute, initialState, type Command } from '../domain/index.js';
import { accountPartition, eventSortKey, HEAD_SORT_KEY, idempotencySortKey, ITEM_KINDS, LEDGER_KEYS } from '../infra/keys.js';
import { itemSize } from './lib/item-size.js';
import { runLoad, type LoadResult } from './lib/stats.js';

/**
 * The store's ceiling: the least I/O a safe debit needs, with no ledger code around it. Each operation is one
 * consistent GetItem of an account's head and one TransactWriteItems of three items (the new event, the head
 * guarded by its version, the idempotency record), with the same conditions and item sizes a real debit has.
 */
export type Item = Record<string, AttributeValue>;

export interface DebitItems {
  event: Item;
  head: Item;
  idempotency: Item;
}

export interface CeilingOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Item templates of a real debit (sizes matter, not values); see `debitItemsFromDomain`/`debitItemsFromTransaction`. */
  template: DebitItems;
  accounts: number;
  operations: number;
  concurrency: number;
  /** Prefix of the account ids, so runs do not collide in one table. */
  prefix: string;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

/**
 * Items of the sizes a debit writes, built from the domain: a pro account's head after one usage debit, the
 * Debited event, and an idempotency record holding a 201 response shaped like SPEC §9. Used until a real debit's
 * transaction can be captured (see `debitItemsFromTransaction`), which is preferred.
 */
export function debitItemsFromDomain(): DebitItems {
  const accountId = 'acct-000000';
  const now = new Date('2026-11-26T10:00:00.000Z');
  const open: Command = { type: 'OpenAccount', accountId, now, plan: 'pro' };
  const opened = execute(open, initialState(accountId), DEFAULT_CATALOG);
  const usage: Command = {
    type: 'RecordUsage',
    accountId,
    now,
    usage: { feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 },
  };
  const debited = execute(usage, opened.state, DEFAULT_CATALOG);
  const event = debited.events[0];
  if (event === undefined) throw new Error('the domain decided no event for a usage debit');
  const state = debited.state;
  const pk = accountPartition(accountId);
  const response = {
    accountId,
    version: state.version,
    charged: 3.602,
    split: { monthly: 3.602, purchased: 0 },
    balance: {
      accountId,
      plan: 'pro',
      unlimited: false,
      monthly: { allocation: 5000, remaining: 4996.398 },
      purchased: { remaining: 0 },
      total: 4996.398,
      cycle: { start: state.cycleStart, end: state.cycleEnd },
      version: state.version,
    },
  };
  return {
    event: marshall({ pk, sk: eventSortKey(event.version), kind: ITEM_KINDS.event, ...event }, { removeUndefinedValues: true }),
    head: marshall({ pk, sk: HEAD_SORT_KEY, kind: ITEM_KINDS.head, accountId, version: state.version, state }, { removeUndefinedValues: true }),
    idempotency: marshall(
      {
        pk,
        sk: idempotencySortKey('usage-0000000000000000-0000'),
        kind: ITEM_KINDS.idempotency,
        requestHash: 'a'.repeat(64),
        response: { statusCode: 201, body: JSON.stringify(response) },
        expiresAt: Math.floor(now.getTime() / 1000) + 8 * 86_400,
      },
      { removeUndefinedValues: true },
    ),
  };
}

/**
 * Item templates out of a captured TransactWriteItems of a real debit: the Put items whose sort keys are an
 * event, the head and an idempotency record. Undefined when the transaction does not have all three as Puts.
 */
export function debitItemsFromTransaction(transaction: { TransactItems?: Array<{ Put?: { Item?: Record<string, unknown> } }> }): DebitItems | undefined {
  const puts = (transaction.TransactItems ?? []).map((a) => a.Put?.Item).filter((i): i is Record<string, unknown> => i !== undefined);
  const wire = puts.map((i) => (isWire(i) ? (i as Item) : marshall(i, { removeUndefinedValues: true, convertClassInstanceToMap: true })));
  const bySk = (test: (sk: string) => boolean): Item | undefined => wire.find((i) => test(i['sk']?.S ?? ''));
  const event = bySk((sk) => sk.startsWith('EVENT#'));
  const head = bySk((sk) => sk === HEAD_SORT_KEY);
  const idempotency = bySk((sk) => sk.startsWith('IDEMPOTENCY#'));
  return event && head && idempotency ? { event, head, idempotency } : undefined;
}

const isWire = (item: Record<string, unknown>): boolean =>
  Object.values(item).every((v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1);

export function templateSizes(template: DebitItems): { eventBytes: number; headBytes: number; idempotencyBytes: number } {
  return { eventBytes: itemSize(template.event), headBytes: itemSize(template.head), idempotencyBytes: itemSize(template.idempotency) };
}

const ceilingPartition = (prefix: string, i: number): string => accountPartition(`${prefix}-${String(i).padStart(6, '0')}`);

/**
 * The head the loop writes: the template's, with its `kind` changed to another word of the same length, so the
 * ledger's account listing (which selects `kind = "head"`) never mistakes the loop's accounts for real ones when
 * the loop runs in the ledger table. Same size, same conditions.
 */
const ceilingHead = (template: DebitItems): Item => ({ ...template.head, [LEDGER_KEYS.kindAttribute]: S('Head') });

/** Puts one head per account at version 0 (untimed set-up; the loop reads each head's version as it goes). */
export async function seedCeiling(options: Pick<CeilingOptions, 'client' | 'tableName' | 'template' | 'accounts' | 'prefix'>): Promise<void> {
  const { client, tableName, template, accounts, prefix } = options;
  const seeded = await runLoad(accounts, 16, async (i) => {
    await client.send(new PutItemCommand({ TableName: tableName, Item: { ...ceilingHead(template), pk: S(ceilingPartition(prefix, i)), version: N(0) } }));
  });
  if (seeded.failures > 0) throw new Error(`seeding the ceiling's heads failed: ${seeded.failureSamples.join('; ')}`);
}

/** The ceiling loop over heads put by `seedCeiling` with the same prefix and account count. */
export async function runCeiling(options: CeilingOptions): Promise<LoadResult> {
  const { client, tableName, template, accounts, operations, concurrency, prefix } = options;
  const pkOf = (i: number): string => ceilingPartition(prefix, i);
  let idempotencyCounter = 0;
  // Each worker owns the accounts congruent to its number, so the loop measures I/O, not conflicts.
  const owned = (worker: number): number[] => {
    const list: number[] = [];
    for (let i = worker % accounts; i < accounts; i += concurrency) list.push(i);
    return list.length > 0 ? list : [worker % accounts];
  };
  const ownedBy = Array.from({ length: concurrency }, (_, w) => owned(w));
  const cursor = new Array<number>(concurrency).fill(0);
  const runId = Math.random().toString(36).slice(2, 8);
  return runLoad(operations, concurrency, async (_i, worker) => {
    const mine = ownedBy[worker] as number[];
    const account = mine[(cursor[worker] = ((cursor[worker] as number) + 1) % mine.length)] as number;
    const pk = pkOf(account);
    const got = await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: S(pk), sk: S(HEAD_SORT_KEY) }, ConsistentRead: true }));
    const version = Number(got.Item?.['version']?.N ?? '0');
    const next = version + 1;
    const key = `ceiling-${runId}-${idempotencyCounter++}`;
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName,
              Item: { ...template.event, pk: S(pk), sk: S(eventSortKey(next)), version: N(next) },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': LEDGER_KEYS.partitionKey },
            },
          },
          {
            Put: {
              TableName: tableName,
              Item: { ...ceilingHead(template), pk: S(pk), version: N(next) },
              ConditionExpression: '#version = :expected',
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':expected': N(version) },
            },
          },
          {
            Put: {
              TableName: tableName,
              Item: { ...template.idempotency, pk: S(pk), sk: S(idempotencySortKey(key)) },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': LEDGER_KEYS.partitionKey },
            },
          },
        ],
      }),
    );
  });
}
