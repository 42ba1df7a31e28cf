import { setTimeout as sleep } from 'node:timers/promises';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { AccountNotFoundError, DomainError, execute, fold, type AccountState, type Command, type LedgerEvent } from '../../domain/index.js';
import { HEAD_SORT_KEY, LEDGER_KEYS, accountPartition, idempotencySortKey } from '../../infra/keys.js';
import { clock } from './clock.js';
import { ledgerTableName } from './config.js';
import { documentClient } from './dynamo.js';
import { ApiError, ConcurrencyConflictError, IdempotencyKeyReusedError } from './errors.js';
import { MAX_TRANSACTION_ITEMS, VersionConflictError, appendEvents, headItemToState, headKey } from './event-store.js';
import {
  batchRecordItem,
  batchRecordKey,
  idempotencyExpiresAt,
  itemToBatchRecord,
  idempotencyItem,
  itemToIdempotencyRecord,
  refusalResponse,
  type Idempotency,
  type IdempotencyRecord,
  type StoredResponse,
} from './idempotency.js';

export type { Idempotency, StoredResponse } from './idempotency.js';

/**
 * The command path (emmett's recipe on DynamoDB): load → decide → append with the expected version.
 * 1. One read: a consistent GetItem of the head, or, with an idempotency key, one consistent BatchGetItem of the
 *    head and the key's record (one round trip).
 * 2. A stored record for the key is the answer: the same request hash replays its response, another hash is
 *    refused (422 idempotency_key_reused).
 * 3. The domain decides.
 * 4. One TransactWriteItems: the events, the head at the new version (guarded by the version read in 1) and the
 *    idempotency record (guarded by attribute_not_exists). A failed guard means someone else wrote first: reload
 *    and decide again, with full-jitter backoff, within the retry budget (`mayRetry`: a minimum number of retries,
 *    then as long as a deadline allows, under a hard cap).
 *    A refusal by the domain on an existing account is an answer too (SPEC §5.3: the same key replays the first
 *    response, as Stripe does; a new attempt needs a new key): with a key, its error response is stored in the same
 *    kind of transaction, a ConditionCheck of the head at the version it was decided on and the record, so it is
 *    serialized with the account's other writes and retried like a success on a conflict; then the DomainError
 *    propagates to the HTTP edge, which answers it with the same bytes (`refusalResponse`). An unknown account is
 *    not stored: nothing was decided.
 */

/**
 * The retry budget on version conflicts adapts to load. A conflict means another command on the same account
 * committed during our round trip (read + write), so each retry makes progress for someone; but on one hot account
 * with 32 to 50 requests at once, an unlucky request can lose many races in a row, and a fixed count of 10 retries
 * sometimes ran out (a 409 after 11 attempts) while the account was still serving others. So:
 * - MIN_CONFLICT_RETRIES = 10: always allowed, however slow the round trips. With the backoff below (windows
 *   doubling from one round trip, capped at 1 s) ten waits average 2 to 3 s at AWS latencies, and add up to at
 *   most about 6.5 s with round trips up to 50 ms.
 * - CONFLICT_RETRY_DEADLINE_MS = 6 s: after the minimum, a request keeps retrying as long as its next attempt
 *   starts within 6 s of its first. The deadline is well inside API Gateway's 30 s and leaves room, after the
 *   last attempt (one read and one transaction), inside the HTTP functions' 10 s Lambda timeout (HTTP_TIMEOUT in
 *   infra/credits-ledger.ts), so a request that gives up answers 409 concurrent_update rather than timing out.
 *   With waits near the 1 s cap by then, a request gets some six to eight more retries in that time, while
 *   fifty contenders need only about fifty commits on the account, a second or two of round trips.
 * - MAX_CONFLICT_RETRIES = 50: a hard cap on the reads and writes one request may spend, whatever waits the
 *   jitter happens to draw.
 * When the budget is spent the caller gets 409 concurrent_update and may retry with the same key.
 */
export const MIN_CONFLICT_RETRIES = 10;
export const CONFLICT_RETRY_DEADLINE_MS = 6_000;
export const MAX_CONFLICT_RETRIES = 50;

export interface ConflictRetryPolicy {
  minRetries: number;
  deadlineMs: number;
  maxRetries: number;
}

export const DEFAULT_CONFLICT_RETRY_POLICY: Readonly<ConflictRetryPolicy> = Object.freeze({
  minRetries: MIN_CONFLICT_RETRIES,
  deadlineMs: CONFLICT_RETRY_DEADLINE_MS,
  maxRetries: MAX_CONFLICT_RETRIES,
});

let conflictRetryPolicy: Readonly<ConflictRetryPolicy> = DEFAULT_CONFLICT_RETRY_POLICY;

/** Replaces parts of the retry budget (tests use a short or long deadline instead of waiting on the clock). */
export function setConflictRetryPolicy(policy: Partial<ConflictRetryPolicy>): void {
  conflictRetryPolicy = Object.freeze({ ...conflictRetryPolicy, ...policy });
}

export function resetConflictRetryPolicy(): void {
  conflictRetryPolicy = DEFAULT_CONFLICT_RETRY_POLICY;
}

/**
 * Whether a request that has retried `retriesDone` times may try once more, its next attempt starting
 * `elapsedAtNextAttemptMs` after its first: within the minimum always, then while the deadline allows, never past
 * the cap.
 */
export function mayRetry(retriesDone: number, elapsedAtNextAttemptMs: number, policy: Readonly<ConflictRetryPolicy> = conflictRetryPolicy): boolean {
  if (retriesDone >= policy.maxRetries) return false;
  return retriesDone < policy.minRetries || elapsedAtNextAttemptMs < policy.deadlineMs;
}

const BACKOFF_BASE_MS = 10;
const BACKOFF_CAP_MS = 1000;

/** BatchGetItem reads at most 100 keys per call. */
const MAX_BATCH_GET_KEYS = 100;

/**
 * Rollovers due for more than this many events (an account idle for some forty months) are written on their own
 * first, so the command's own transaction stays within DynamoDB's 100 items.
 */
const ROLLOVER_CATCH_UP_EVENTS = MAX_TRANSACTION_ITEMS - 10;

export interface CommandResult {
  response: StoredResponse;
  /** True when the response is the stored answer to an earlier request with the same key. */
  replayed: boolean;
}

export interface CommandOutcome {
  /** The events appended (none when the command changed nothing). */
  events: LedgerEvent[];
  /** The account's state after them. */
  state: AccountState;
  now: Date;
}

export interface CommandInput {
  accountId: string;
  idempotency?: Idempotency;
  /** Builds the command at `now`, read from the one clock (functions/lib/clock.ts) at each attempt. */
  command: (now: Date) => Command;
  /** The response to send and to store for the key. */
  respond: (outcome: CommandOutcome) => StoredResponse;
}

/**
 * Runs a command. Commands for one account that arrive while another of its commands is in flight in this process
 * wait in the account's lane and are then decided together and written in one transaction (group commit, see
 * `commitGroup`): on a hot account, concurrent requests to one process queue behind one write instead of racing
 * each other to the head and losing most rounds to version conflicts. The first command of an idle account runs at
 * once, as a group of one. Other processes (other Lambda instances) are not in the lane: against
 * them the version guard and the conflict retries below decide, as before.
 */
export async function handleCommand(input: CommandInput): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve, reject) => {
    const waiter: Waiter = { input, resolve, reject };
    if (!groupCommit) {
      void commitGroupSafely(input.accountId, [waiter]);
      return;
    }
    const lane = lanes.get(input.accountId);
    if (lane !== undefined) {
      lane.push(waiter);
      return;
    }
    const fresh = [waiter];
    lanes.set(input.accountId, fresh);
    void drainLane(input.accountId, fresh);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Lanes: group commit per account within a process

interface Waiter {
  input: CommandInput;
  resolve: (result: CommandResult) => void;
  reject: (error: unknown) => void;
}

/** The commands waiting per account; an account has a lane while one of its commands is in flight. */
const lanes = new Map<string, Waiter[]>();

/**
 * At most this many waiting commands are decided together: a usage debit with a key writes two items (its event
 * and its idempotency record), so 49 of them and the head fill one transaction. A group whose decisions need more
 * items is cut at a command boundary and the rest wait for the next group.
 */
export const MAX_GROUP_COMMANDS = Math.floor((MAX_TRANSACTION_ITEMS - 1) / 2);

let groupCommit = true;

/**
 * Turns the lanes off (every command runs alone and races on the version guard, as separate processes do) or on.
 * The reliability suite's conflict storm turns them off to stand for many Lambda instances in one process.
 */
export function setGroupCommit(enabled: boolean): void {
  groupCommit = enabled;
}

async function drainLane(accountId: string, lane: Waiter[]): Promise<void> {
  try {
    while (lane.length > 0) {
      const deferred = await commitGroupSafely(accountId, lane.splice(0, MAX_GROUP_COMMANDS));
      lane.unshift(...deferred);
    }
  } finally {
    lanes.delete(accountId);
  }
}

/** Answers every waiter of the group, one way or another; returns those cut off for the next group. */
async function commitGroupSafely(accountId: string, group: Waiter[]): Promise<Waiter[]> {
  try {
    return await commitGroup(accountId, group);
  } catch (error) {
    for (const waiter of group) waiter.reject(error);
    return [];
  }
}

/**
 * One command, or several for one account, decided in their order of arrival against one state and written in one
 * transaction: their events, the head at the last one's version and their idempotency records (or nothing of
 * them). Each waiter then gets what it would have got alone: its response, a replay of its key's stored answer
 * (also when an earlier command of the group carried the same key and body), or its error; refusals on an
 * existing account are stored under their keys. A conflict with another process decides
 * the whole group again, within the same retry budget as one command. Returns the waiters that did not fit the
 * transaction: they were not written, and are decided again with the next group.
 */
async function commitGroup(accountId: string, group: Waiter[]): Promise<Waiter[]> {
  const entries = group.map((waiter) => waiter.input);
  const keys = [...new Set(entries.flatMap((entry) => (entry.idempotency === undefined ? [] : [entry.idempotency.key])))];
  const firstStarted = performance.now();
  for (let attempt = 0; ; attempt += 1) {
    const started = performance.now();
    try {
      const loaded = await loadForCommand(accountId, keys);
      const now = clock.now();
      if (await caughtUpRollovers(loaded.state, now)) continue;

      const { results, pending } = decideInOrder(accountId, entries, loaded, now, { nonDomainErrors: 'per-entry' });
      const cut = firstEntryBeyondOneTransaction(entries.length, pending);
      if (cut === 0) {
        // The first command alone needs more than one transaction (idle rollovers are written apart, so no command
        // should): it fails on its own, writing nothing; the rest go on.
        group[0]!.reject(new RangeError(`a command on "${accountId}" needs more than ${MAX_TRANSACTION_ITEMS} items in one transaction`));
        return group.slice(1);
      }
      const written = pending.filter((p) => p.entry < cut);
      if (written.length > 0) {
        const last = written[written.length - 1]!;
        await appendEvents({
          accountId,
          expectedVersion: loaded.state.version,
          events: written.flatMap((p) => p.events),
          state: last.state,
          extraItems: written.flatMap((p) => (p.item === undefined ? [] : [p.item])),
        });
      }
      for (let i = 0; i < cut; i += 1) {
        const result = results[i]!;
        if ('error' in result) group[i]!.reject(result.error);
        else group[i]!.resolve(result);
      }
      return group.slice(cut);
    } catch (error) {
      await afterConflict(error, accountId, attempt, started, firstStarted);
    }
  }
}

/** The index of the first entry whose writes no longer fit one transaction with the ones before it (or the count). */
export function firstEntryBeyondOneTransaction(count: number, pending: ReadonlyArray<{ entry: number; events: readonly unknown[]; item?: unknown }>): number {
  const capacity = MAX_TRANSACTION_ITEMS - 1; // the head (or its condition check)
  let size = 0;
  for (const p of pending) {
    size += itemsOf(p);
    if (size > capacity) return p.entry;
  }
  return count;
}

export interface BatchRecord {
  idempotency: Idempotency;
  command: (now: Date) => Command;
  respond: (outcome: CommandOutcome) => StoredResponse;
}

/** A record's result: its response, or why it was refused (a business rule, or its key reused for another request). */
export type BatchResult = CommandResult | { error: DomainError | ApiError };

/**
 * One account's records, decided in order against one state: a refused record gets its error (stored under its key
 * like a success, when the account exists) and the others go on. The appends are written atomically, in one transaction when they fit DynamoDB's 100 items, otherwise in
 * several cut at record boundaries, each guarded by the head version. If the process stops between two of them,
 * what was written stays written with its idempotency records: sending the batch again with the same keys
 * replays those records and applies the rest.
 */
export async function handleCommandBatch(accountId: string, records: readonly BatchRecord[]): Promise<BatchResult[]> {
  const keys = [...new Set(records.map((r) => r.idempotency.key))];
  /** Keys this call committed in an earlier chunk of an attempt that then conflicted: theirs are not replays. */
  const committedHere = new Set<string>();
  const firstStarted = performance.now();
  for (let attempt = 0; ; attempt += 1) {
    const started = performance.now();
    try {
      const results = await attemptBatch(accountId, records, keys, committedHere);
      if (results !== undefined) return results;
    } catch (error) {
      await afterConflict(error, accountId, attempt, started, firstStarted);
    }
  }
}

/** One attempt of a batch; undefined when idle rollovers were written first and the batch must be decided again. */
async function attemptBatch(
  accountId: string,
  records: readonly BatchRecord[],
  keys: readonly string[],
  committedHere: Set<string>,
): Promise<BatchResult[] | undefined> {
  const loaded = await loadForCommand(accountId, keys);
  const now = clock.now();
  if (await caughtUpRollovers(loaded.state, now)) return undefined;

  const { results, pending } = decideInOrder(accountId, records, loaded, now, { nonDomainErrors: 'throw', committedHere });
  let expectedVersion = loaded.state.version;
  for (const chunk of chunkAtRecordBoundaries(pending)) {
    const last = chunk[chunk.length - 1]!;
    await appendEvents({
      accountId,
      expectedVersion,
      events: chunk.flatMap((p) => p.events),
      state: last.state,
      extraItems: chunk.flatMap((p) => (p.item === undefined ? [] : [p.item])),
    });
    for (const p of chunk) if (p.key !== undefined) committedHere.add(p.key);
    expectedVersion = last.state.version;
  }
  return results;
}

interface Entry {
  idempotency?: Idempotency | undefined;
  command: (now: Date) => Command;
  respond: (outcome: CommandOutcome) => StoredResponse;
}

interface DecideOptions {
  /**
   * A batch fails as a whole on an error that is not a business rule (a defect); a group of separate requests
   * gives it to the request that raised it, as that request would have got it alone.
   */
  nonDomainErrors: 'throw' | 'per-entry';
  /**
   * A batch's keys committed by an earlier, interrupted attempt of the same call: found stored now, they are this
   * call's own answers (replayed: false) rather than replays. Without it (a group: one transaction, all or
   * nothing), a key answered earlier in the same call is a replay for every later request that carries it.
   */
  committedHere?: ReadonlySet<string>;
}

/**
 * Decides entries in order against one loaded state: each one's result, and what each one that is to be written
 * writes (its events, the state after them, its idempotency record). A key already stored, or answered earlier in
 * the call, answers the same request again and refuses another body (422 idempotency_key_reused). A refusal on an
 * existing account is stored under its key like a success; an entry without a key stores nothing.
 */
function decideInOrder(accountId: string, entries: readonly Entry[], loaded: Loaded, now: Date, options: DecideOptions): { results: BatchResult[]; pending: PendingRecord[] } {
  const { committedHere } = options;
  const results: BatchResult[] = [];
  /** Per key, its answer and whether this call gave it (so a later request with the key is or is not a replay). */
  const answered = new Map<string, { requestHash: string; response: StoredResponse; here: boolean }>();
  for (const [key, { requestHash, response }] of loaded.records) answered.set(key, { requestHash, response, here: committedHere?.has(key) ?? false });
  const pending: PendingRecord[] = [];
  let state = loaded.state;

  entries.forEach((entry, index) => {
    const { idempotency } = entry;
    const earlier = idempotency === undefined ? undefined : answered.get(idempotency.key);
    if (idempotency !== undefined && earlier !== undefined) {
      const replayed = committedHere === undefined ? true : !earlier.here;
      results.push(earlier.requestHash === idempotency.requestHash ? { response: earlier.response, replayed } : { error: new IdempotencyKeyReusedError(idempotency.key) });
      return;
    }
    const key = idempotency?.key;
    try {
      const decided = execute(commandFor(accountId, entry.command, now), state);
      const response = entry.respond({ events: decided.events, state: decided.state, now });
      state = decided.state;
      const item = idempotency === undefined ? undefined : recordItem(accountId, idempotency, response, state.version, now);
      pending.push({ entry: index, key, events: decided.events, state, item });
      if (idempotency !== undefined) answered.set(idempotency.key, { requestHash: idempotency.requestHash, response, here: true });
      results.push({ response, replayed: false });
    } catch (error) {
      if (!(error instanceof DomainError) && options.nonDomainErrors === 'throw') throw error;
      results.push({ error: error as DomainError | ApiError });
      if (idempotency !== undefined && isStoredRefusal(error, state)) {
        // Stored like a success, in the same transaction as its neighbours, guarded by the head it was decided on.
        const response = refusalResponse(error);
        pending.push({ entry: index, key, events: [], state, item: recordItem(accountId, idempotency, response, state.version, now) });
        answered.set(idempotency.key, { requestHash: idempotency.requestHash, response, here: true });
      }
    }
  });
  return { results, pending };
}

/**
 * A usage batch's own Idempotency-Key (SPEC §5.3 applies to the batch request too). One consistent read of the
 * batch record first: the same request hash replays the stored batch answer, another hash is refused (422
 * idempotency_key_reused) before any record is processed. Otherwise the batch is processed and its answer stored
 * with attribute_not_exists, unless `process` says it must not be (a record that may succeed when sent again).
 *
 * Two identical batches racing with one key both process; the records' own keys make sure each record is applied
 * once. The one whose put loses answers with the winner's stored answer, so one key has one answer.
 */
export async function handleBatchKey(
  idempotency: Idempotency,
  process: () => Promise<{ response: StoredResponse; replayed: boolean; store: boolean }>,
): Promise<CommandResult> {
  const TableName = ledgerTableName();
  const Key = batchRecordKey(idempotency.key);
  const readStored = async () => {
    const { Item } = await documentClient().send(new GetCommand({ TableName, Key, ConsistentRead: true }));
    return Item === undefined ? undefined : itemToBatchRecord(Item);
  };
  const earlier = await readStored();
  if (earlier !== undefined) return replay(earlier, idempotency);

  const outcome = await process();
  if (!outcome.store) return { response: outcome.response, replayed: outcome.replayed };
  const now = clock.now();
  const item = batchRecordItem({
    key: idempotency.key,
    requestHash: idempotency.requestHash,
    response: outcome.response,
    createdAt: now.toISOString(),
    expiresAt: idempotencyExpiresAt(now),
  });
  try {
    await documentClient().send(
      new PutCommand({
        TableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': LEDGER_KEYS.partitionKey },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException) && !(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
    // Another batch with this key stored its answer first: the same request answers as it did.
    const winner = await readStored();
    if (winner !== undefined && winner.requestHash === idempotency.requestHash) return { response: winner.response, replayed: true };
  }
  return { response: outcome.response, replayed: outcome.replayed };
}

interface PendingRecord {
  /** The index of the entry (the batch record or the group's command) that writes this. */
  entry: number;
  key: string | undefined;
  events: LedgerEvent[];
  /** The state after this record. */
  state: AccountState;
  /** Its idempotency record, when it has a key. */
  item: Record<string, unknown> | undefined;
}

/** The transaction items a record writes besides the head: its events and its idempotency record. */
function itemsOf(record: { events: readonly unknown[]; item?: unknown }): number {
  return record.events.length + (record.item === undefined ? 0 : 1);
}

/** Groups records so that each group's events, idempotency records and the head fit one transaction. */
export function chunkAtRecordBoundaries<T extends { events: readonly unknown[]; item?: unknown }>(records: readonly T[]): T[][] {
  const capacity = MAX_TRANSACTION_ITEMS - 1; // the head (or its condition check) is one item of every transaction
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const record of records) {
    const items = itemsOf(record);
    if (items > capacity) throw new RangeError(`one record needs ${items} items; a transaction holds ${capacity} besides the head`);
    if (size + items > capacity) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(record);
    size += items;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function commandFor(accountId: string, build: (now: Date) => Command, now: Date): Command {
  const command = build(now);
  if (command.accountId !== accountId) {
    throw new Error(`a command for account "${command.accountId}" was handled as account "${accountId}"`);
  }
  return command;
}

/**
 * A refusal the domain decided on an account that exists: stored for the key. Not an unknown account (nothing was
 * decided, and the partition has nothing yet to serialize the record with).
 */
function isStoredRefusal(error: unknown, state: AccountState): error is DomainError {
  return error instanceof DomainError && !(error instanceof AccountNotFoundError) && state.version > 0;
}

function replay(stored: Pick<IdempotencyRecord, 'requestHash' | 'response'>, idempotency: Idempotency): CommandResult {
  if (stored.requestHash !== idempotency.requestHash) throw new IdempotencyKeyReusedError(idempotency.key);
  return { response: stored.response, replayed: true };
}

function recordItem(accountId: string, idempotency: Idempotency, response: StoredResponse, version: number, now: Date): Record<string, unknown> {
  return idempotencyItem({
    accountId,
    key: idempotency.key,
    requestHash: idempotency.requestHash,
    response,
    version,
    createdAt: now.toISOString(),
    expiresAt: idempotencyExpiresAt(now),
  });
}

/**
 * Rethrows anything but a version conflict. Otherwise draws a random wait (full jitter) in a window that doubles
 * with each retry, counted in round trips of the attempt that lost, and waits it when the retry budget allows the
 * next attempt then (`mayRetry`); when it does not, gives up with 409 concurrent_update.
 */
async function afterConflict(error: unknown, accountId: string, attempt: number, attemptStarted: number, firstStarted: number): Promise<void> {
  if (!(error instanceof VersionConflictError)) throw error;
  const now = performance.now();
  const wait = Math.random() * backoffWindowMs(attempt, now - attemptStarted);
  if (!mayRetry(attempt, now + wait - firstStarted)) throw new ConcurrencyConflictError(accountId, attempt + 1);
  await sleep(wait);
}

export function backoffWindowMs(attempt: number, roundTripMs: number): number {
  return Math.min(BACKOFF_CAP_MS, Math.max(BACKOFF_BASE_MS, roundTripMs) * 2 ** attempt);
}

/**
 * When an account has been idle so long that its due rollovers alone would overflow a transaction, writes them
 * first, a few cycles per transaction (cut after each Granted, so every cycle's expiry, plan change and grant stay
 * together), and says so: the caller then reloads and decides its command on the rolled-over state.
 */
async function caughtUpRollovers(state: AccountState, now: Date): Promise<boolean> {
  if (state.opened === null || Date.parse(state.cycleEnd) > now.getTime()) return false;
  const { events } = execute({ type: 'RollOverCycles', accountId: state.accountId, now }, state);
  if (events.length <= ROLLOVER_CATCH_UP_EVENTS) return false;

  const cycles: LedgerEvent[][] = [];
  let cycle: LedgerEvent[] = [];
  for (const event of events) {
    cycle.push(event);
    if (event.type === 'Granted') {
      cycles.push(cycle);
      cycle = [];
    }
  }
  if (cycle.length > 0) cycles.push(cycle);

  let current = state;
  for (const chunk of chunkAtRecordBoundaries(cycles.map((group) => ({ events: group })))) {
    const chunkEvents = chunk.flatMap((c) => c.events);
    const folded = fold(state.accountId, chunkEvents, current);
    await appendEvents({ accountId: state.accountId, expectedVersion: current.version, events: chunkEvents, state: folded });
    current = folded;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

interface Loaded {
  state: AccountState;
  records: Map<string, IdempotencyRecord>;
}

/**
 * The head and the idempotency records of the given keys, all read consistently: one GetItem without keys, one
 * BatchGetItem with up to 99 keys (a usage batch of 100 records takes two, sent together).
 */
async function loadForCommand(accountId: string, keys: readonly string[]): Promise<Loaded> {
  const TableName = ledgerTableName();
  if (keys.length === 0) {
    const { Item } = await documentClient().send(new GetCommand({ TableName, Key: headKey(accountId), ConsistentRead: true }));
    return { state: headItemToState(accountId, Item), records: new Map() };
  }
  const wanted = [headKey(accountId), ...keys.map((key) => idempotencyKey(accountId, key))];
  const groups: Array<Array<Record<string, string>>> = [];
  for (let i = 0; i < wanted.length; i += MAX_BATCH_GET_KEYS) groups.push(wanted.slice(i, i + MAX_BATCH_GET_KEYS));
  const items = (await Promise.all(groups.map((group) => batchGetConsistent(TableName, group)))).flat();

  let head: Record<string, unknown> | undefined;
  const records = new Map<string, IdempotencyRecord>();
  for (const item of items) {
    if (item[LEDGER_KEYS.sortKey] === HEAD_SORT_KEY) head = item;
    else {
      const record = itemToIdempotencyRecord(item);
      records.set(record.key, record);
    }
  }
  return { state: headItemToState(accountId, head), records };
}

function idempotencyKey(accountId: string, key: string): Record<string, string> {
  return { [LEDGER_KEYS.partitionKey]: accountPartition(accountId), [LEDGER_KEYS.sortKey]: idempotencySortKey(key) };
}

/** BatchGetItem returns what it could not read under throttling as UnprocessedKeys: read those again. */
async function batchGetConsistent(TableName: string, keys: Array<Record<string, string>>): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let remaining: Array<Record<string, unknown>> = keys;
  for (let round = 0; remaining.length > 0; round += 1) {
    if (round > 0) await sleep(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** round));
    const page = await documentClient().send(
      new BatchGetCommand({ RequestItems: { [TableName]: { Keys: remaining, ConsistentRead: true } } }),
    );
    items.push(...(page.Responses?.[TableName] ?? []));
    remaining = page.UnprocessedKeys?.[TableName]?.Keys ?? [];
  }
  return items;
}
