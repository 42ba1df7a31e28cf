import { TransactionCanceledException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { initialState, ledgerEventSchema, type AccountState, type LedgerEvent } from '../../domain/index.js';
import {
  HEAD_SORT_KEY,
  ITEM_KINDS,
  LEDGER_KEYS,
  accountPartition,
  eventSortKey,
} from '../../infra/keys.js';
import { ledgerTableName } from './config.js';
import { documentClient } from './dynamo.js';
import { ApiError } from './errors.js';

/**
 * The event store: an account's events and its head live in the account's partition of the ledger table.
 * - event items: sk `EVENT#<version, 10 digits>`, written once (`attribute_not_exists`), never updated;
 * - the head item: sk `HEAD`, the folded state and its version, moved only by a transaction that also puts the
 *   events that lead to it (`version = :expected`). It is a cache of the fold, never a second truth: folding the
 *   event items gives the same state.
 * Every read that a decision or a projection depends on is strongly consistent.
 */

/** DynamoDB's limit on the items of one TransactWriteItems. */
export const MAX_TRANSACTION_ITEMS = 100;

/** Versions fit the ten digits of the event sort key. */
const MAX_VERSION = 9_999_999_999;

const K = LEDGER_KEYS;

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** The head moved since it was read (or another transaction touched the same items): reload and decide again. */
export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
  constructor(
    readonly accountId: string,
    readonly expectedVersion: number,
    /** `head`: the head is no longer at the expected version · `item`: another guarded item of the transaction
     * already exists (an idempotency record written concurrently) · `transaction`: DynamoDB cancelled the
     * transaction because another one was writing the same items. */
    readonly reason: 'head' | 'item' | 'transaction',
  ) {
    super(`Account "${accountId}" is no longer at version ${expectedVersion} (${reason} conflict).`);
  }
}

/**
 * An event item at this version already exists although the head said it did not: the head and the events
 * disagree. Retrying cannot help; this is reported, never overwritten.
 */
export class EventAlreadyExistsError extends Error {
  override readonly name = 'EventAlreadyExistsError';
  constructor(
    readonly accountId: string,
    readonly version: number,
  ) {
    super(`Account "${accountId}" already has an event at version ${version}.`);
  }
}

/** An item that claims to be an event but does not parse as one. */
export class InvalidEventItemError extends Error {
  override readonly name = 'InvalidEventItemError';
  constructor(
    readonly pk: unknown,
    readonly sk: unknown,
    cause: unknown,
  ) {
    super(`Item ${String(pk)} / ${String(sk)} is not a valid ledger event.`, { cause });
  }
}

export class InvalidCursorError extends ApiError {
  override readonly name = 'InvalidCursorError';
  constructor(parameter = 'cursor') {
    super(400, 'invalid_cursor', 'The cursor is not one this API returned.', { field: parameter });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Items

export function eventToItem(event: LedgerEvent): Record<string, unknown> {
  return {
    [K.partitionKey]: accountPartition(event.accountId),
    [K.sortKey]: eventSortKey(event.version),
    [K.kindAttribute]: ITEM_KINDS.event,
    accountId: event.accountId,
    version: event.version,
    type: event.type,
    at: event.at,
    data: event.data,
  };
}

/** Parses an event item (as the document client returns it) with the domain's own event schema. */
export function itemToEvent(item: Record<string, unknown>): LedgerEvent {
  const result = ledgerEventSchema.safeParse({
    accountId: item.accountId,
    version: item.version,
    type: item.type,
    at: item.at,
    data: item.data,
  });
  if (!result.success) throw new InvalidEventItemError(item[K.partitionKey], item[K.sortKey], result.error);
  return result.data;
}

/** Whether a stream image (DynamoDB JSON) is an event item, without parsing it. */
export function isEventImage(image: Record<string, unknown>): boolean {
  const kind = image[K.kindAttribute] as { S?: string } | undefined;
  return kind?.S === ITEM_KINDS.event;
}

/** The stream-image parser: a NEW_IMAGE in DynamoDB JSON (`{ "version": { "N": "3" } … }`) to a ledger event. */
export function streamImageToEvent(image: Record<string, unknown>): LedgerEvent {
  return itemToEvent(unmarshall(image as Record<string, AttributeValue>));
}

export function headKey(accountId: string): Record<string, string> {
  return { [K.partitionKey]: accountPartition(accountId), [K.sortKey]: HEAD_SORT_KEY };
}

// debt: the head holds the whole state, including every paymentRef ever credited; DynamoDB caps an item at 400 KB,
// which some thousands of purchases on one account would reach. Moving paymentRefs to their own items fixes it.
export function headItem(state: AccountState): Record<string, unknown> {
  return {
    ...headKey(state.accountId),
    [K.kindAttribute]: ITEM_KINDS.head,
    accountId: state.accountId,
    version: state.version,
    state,
  };
}

/** The state a head item caches, or the initial state when the account has no head yet. */
export function headItemToState(accountId: string, item: Record<string, unknown> | undefined): AccountState {
  if (item === undefined) return initialState(accountId);
  const state = item.state as AccountState | undefined;
  if (state === undefined || typeof state !== 'object' || state.version !== item.version) {
    throw new Error(`The head item of account "${accountId}" is malformed.`);
  }
  return state;
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

/** The account's folded state from one consistent read of its head; the initial state when it has none. */
export async function loadAccount(accountId: string): Promise<AccountState> {
  const { Item } = await documentClient().send(
    new GetCommand({ TableName: ledgerTableName(), Key: headKey(accountId), ConsistentRead: true }),
  );
  return headItemToState(accountId, Item);
}

export function encodeCursor(version: number): string {
  return Buffer.from(String(version), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9]\d{0,9}$/.test(text) || encodeCursor(Number(text)) !== cursor) throw new InvalidCursorError();
  return Number(text);
}

function eventRange(accountId: string, fromVersion: number, toVersion: number): Omit<QueryCommandInput, 'Limit'> {
  return {
    TableName: ledgerTableName(),
    KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
    ExpressionAttributeNames: { '#pk': K.partitionKey, '#sk': K.sortKey },
    ExpressionAttributeValues: {
      ':pk': accountPartition(accountId),
      ':from': eventSortKey(fromVersion),
      ':to': eventSortKey(toVersion),
    },
    ConsistentRead: true,
  };
}

/**
 * One page of an account's ledger in version order. The cursor is opaque to clients (base64url of the last
 * version returned); `nextCursor` is null exactly when there is nothing after this page.
 */
export async function readLedgerPage(
  accountId: string,
  opts: { limit: number; cursor?: string },
): Promise<{ items: LedgerEvent[]; nextCursor: string | null }> {
  const { limit } = opts;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RangeError('limit must be a whole number from 1 to 1000');
  const after = opts.cursor === undefined ? 0 : decodeCursor(opts.cursor);
  if (after >= MAX_VERSION) return { items: [], nextCursor: null };
  // One more than asked, to know whether another page exists without handing out a cursor to an empty page.
  const wanted = limit + 1;
  const items: LedgerEvent[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documentClient().send(
      new QueryCommand({ ...eventRange(accountId, after + 1, MAX_VERSION), Limit: wanted - items.length, ExclusiveStartKey: startKey }),
    );
    for (const item of page.Items ?? []) items.push(itemToEvent(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined && items.length < wanted);

  if (items.length <= limit) return { items, nextCursor: null };
  const pageItems = items.slice(0, limit);
  return { items: pageItems, nextCursor: encodeCursor(pageItems[pageItems.length - 1]!.version) };
}

/** Events `fromVersion..toVersion` (inclusive; to the end when omitted), draining every page. */
export async function readEvents(accountId: string, fromVersion: number, toVersion: number = MAX_VERSION): Promise<LedgerEvent[]> {
  const from = Math.max(1, fromVersion);
  if (toVersion < from) return [];
  const events: LedgerEvent[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documentClient().send(new QueryCommand({ ...eventRange(accountId, from, toVersion), ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) events.push(itemToEvent(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return events;
}

/**
 * One page of account ids, from a scan of the head items (every opened account has exactly one). The cursor is
 * opaque (base64url JSON of the scan position). A page may hold fewer ids than `limit`, or none, while
 * `nextCursor` is not null: the scan's limit counts items read, not heads found.
 */
export async function listAccountIdsPage(opts: { limit?: number; cursor?: string } = {}): Promise<{ accountIds: string[]; nextCursor: string | null }> {
  let startKey: Record<string, unknown> | undefined;
  if (opts.cursor !== undefined) {
    try {
      startKey = JSON.parse(Buffer.from(opts.cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new InvalidCursorError();
    }
    if (startKey === null || typeof startKey !== 'object') throw new InvalidCursorError();
  }
  const page = await scanAccountIds({ ...(opts.limit === undefined ? {} : { limit: opts.limit }), startKey });
  return {
    accountIds: page.accountIds,
    nextCursor: page.lastKey === undefined ? null : Buffer.from(JSON.stringify(page.lastKey), 'utf8').toString('base64url'),
  };
}

/**
 * One page of a consistent scan of the head items (every opened account has exactly one): their account ids and
 * where the scan stopped (undefined at the end). `segment` reads one part of a parallel scan.
 */
export async function scanAccountIds(opts: {
  limit?: number;
  startKey?: Record<string, unknown> | undefined;
  segment?: { index: number; of: number };
}): Promise<{ accountIds: string[]; lastKey: Record<string, unknown> | undefined }> {
  const page = await documentClient().send(
    new ScanCommand({
      TableName: ledgerTableName(),
      FilterExpression: '#kind = :head',
      ProjectionExpression: '#accountId',
      ExpressionAttributeNames: { '#kind': K.kindAttribute, '#accountId': 'accountId' },
      ExpressionAttributeValues: { ':head': ITEM_KINDS.head },
      ConsistentRead: true,
      ...(opts.limit === undefined ? {} : { Limit: opts.limit }),
      ...(opts.startKey === undefined ? {} : { ExclusiveStartKey: opts.startKey }),
      ...(opts.segment === undefined ? {} : { Segment: opts.segment.index, TotalSegments: opts.segment.of }),
    }),
  );
  return { accountIds: (page.Items ?? []).map((item) => String(item.accountId)), lastKey: page.LastEvaluatedKey };
}

/**
 * Items a listing scan reads per page. A page without a `Limit` reads up to 1 MB; DynamoDB Local then rereads the
 * rest of the table for every page (a ledger of 40,000 items took some 26 s to list, against 2 s in pages of 1,000).
 */
export const LISTING_PAGE_SIZE = 1_000;

/** Every account id, page after page (for rebuilding projections, verifying the ledger, the local scheduler). */
export async function* listAccountIds(opts: { pageSize?: number } = {}): AsyncIterable<string> {
  let cursor: string | undefined;
  do {
    const page = await listAccountIdsPage({ limit: opts.pageSize ?? LISTING_PAGE_SIZE, ...(cursor === undefined ? {} : { cursor }) });
    yield* page.accountIds;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

export interface Append {
  accountId: string;
  /** The head version the events follow (0 for an account without a head). */
  expectedVersion: number;
  /** New events, versions `expectedVersion + 1 …` without gaps; may be empty when only `extraItems` are written. */
  events: readonly LedgerEvent[];
  /** The state after the events (what the head will cache). */
  state: AccountState;
  /** Further guarded puts in the same transaction (idempotency records): each must not exist yet. */
  extraItems?: ReadonlyArray<Record<string, unknown>>;
}

/**
 * The TransactWriteItems of one append: the event puts (`attribute_not_exists`), then the head (a put at the new
 * version guarded by `version = :expected`, or by `attribute_not_exists` for a new account; a ConditionCheck at
 * the expected version when no event is appended), then the extra items (`attribute_not_exists`).
 */
export function appendTransaction(append: Append): TransactItem[] {
  const { accountId, expectedVersion, events, state } = append;
  events.forEach((event, i) => {
    if (event.accountId !== accountId || event.version !== expectedVersion + i + 1) {
      throw new Error(`event ${i} of the append to "${accountId}" is version ${event.version} of "${event.accountId}", expected ${expectedVersion + i + 1}`);
    }
  });
  if (state.version !== expectedVersion + events.length) {
    throw new Error(`the head state of "${accountId}" is at version ${state.version}, expected ${expectedVersion + events.length}`);
  }
  const TableName = ledgerTableName();
  const mustBeNew = { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': K.partitionKey } };
  const headGuard =
    expectedVersion === 0
      ? mustBeNew
      : {
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':expected': expectedVersion },
        };
  const items: TransactItem[] = [
    ...events.map((event): TransactItem => ({ Put: { TableName, Item: eventToItem(event), ...mustBeNew } })),
    events.length > 0
      ? { Put: { TableName, Item: headItem(state), ...headGuard } }
      : { ConditionCheck: { TableName, Key: headKey(accountId), ...headGuard } },
    ...(append.extraItems ?? []).map((Item): TransactItem => ({ Put: { TableName, Item, ...mustBeNew } })),
  ];
  if (items.length > MAX_TRANSACTION_ITEMS) {
    throw new RangeError(`an append is at most ${MAX_TRANSACTION_ITEMS} items; this one has ${items.length}`);
  }
  return items;
}

/**
 * Appends atomically: the events, the head and the extra items, or nothing. Throws VersionConflictError when the
 * head moved or a guarded extra item exists (the caller reloads and decides again), EventAlreadyExistsError when
 * an event version is taken although the head matched.
 */
export async function appendEvents(append: Append): Promise<void> {
  const items = appendTransaction(append);
  try {
    await documentClient().send(new TransactWriteCommand({ TransactItems: items }));
  } catch (error) {
    throw appendFailure(append, error);
  }
}

function appendFailure(append: Append, error: unknown): unknown {
  const { accountId, expectedVersion, events } = append;
  if (error instanceof Error && error.name === 'TransactionConflictException') {
    return new VersionConflictError(accountId, expectedVersion, 'transaction');
  }
  if (!(error instanceof TransactionCanceledException) && !(error instanceof Error && error.name === 'TransactionCanceledException')) {
    return error;
  }
  const codes = ((error as TransactionCanceledException).CancellationReasons ?? []).map((r) => r.Code ?? 'None');
  const headIndex = events.length;
  if (codes[headIndex] === 'ConditionalCheckFailed') return new VersionConflictError(accountId, expectedVersion, 'head');
  const failedEvent = codes.slice(0, headIndex).findIndex((code) => code === 'ConditionalCheckFailed');
  if (failedEvent >= 0) return new EventAlreadyExistsError(accountId, expectedVersion + failedEvent + 1);
  if (codes.slice(headIndex + 1).includes('ConditionalCheckFailed')) return new VersionConflictError(accountId, expectedVersion, 'item');
  if (codes.length === 0 || codes.includes('TransactionConflict')) return new VersionConflictError(accountId, expectedVersion, 'transaction');
  return error;
}
