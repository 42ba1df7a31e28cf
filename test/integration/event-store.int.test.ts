import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { execute, fold, initialState, type AccountState, type Command, type LedgerEvent } from '../../domain/index.js';
import { documentClient } from '../../functions/lib/dynamo.js';
import {
  EventAlreadyExistsError,
  InvalidCursorError,
  VersionConflictError,
  appendEvents,
  eventToItem,
  headItem,
  isEventImage,
  listAccountIds,
  loadAccount,
  readEvents,
  readLedgerPage,
  streamImageToEvent,
} from '../../functions/lib/event-store.js';
import { idempotencyItem } from '../../functions/lib/idempotency.js';
import { accountPartition, eventSortKey } from '../../infra/keys.js';
import { useTestTables } from '../support/dynamodb.js';

/**
 * The event store's contract on DynamoDB Local: appends are all or nothing and guarded by the head's version,
 * events read back in version order, the head caches their fold, pages follow an opaque cursor.
 */
const tables = useTestTables();

const T0 = new Date('2026-11-26T10:00:00.000Z');
const minutesAfter = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

const openFree = (accountId: string): Command => ({ type: 'OpenAccount', accountId, now: T0, plan: 'free' });
/** A positive adjustment; its reason pads the event when a test needs big items. */
const credit = (accountId: string, minute: number, reason = 'goodwill'): Command => ({
  type: 'AdjustCredits',
  accountId,
  now: minutesAfter(minute),
  amount: 1000,
  reason,
});

/** Decides the commands in order and appends each one's events as its own transaction, as the command path does. */
async function record(accountId: string, ...commands: Command[]): Promise<{ events: LedgerEvent[]; state: AccountState }> {
  let state = await loadAccount(accountId);
  const all: LedgerEvent[] = [];
  for (const command of commands) {
    const result = execute(command, state);
    await appendEvents({ accountId, expectedVersion: state.version, events: result.events, state: result.state });
    state = result.state;
    all.push(...result.events);
  }
  return { events: all, state };
}

async function partitionItemCount(accountId: string): Promise<number> {
  const page = await documentClient().send(
    new QueryCommand({
      TableName: tables().names.Ledger,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': accountPartition(accountId) },
      ConsistentRead: true,
      Select: 'COUNT',
    }),
  );
  return page.Count ?? 0;
}

describe('appending events', () => {
  it('given a new account, when its opening is appended, then its events read back in order and the head holds their fold', async () => {
    const { events, state } = await record('append-new', openFree('append-new'));

    expect(events.map((e) => e.type)).toEqual(['AccountOpened', 'Granted']);
    expect(await readEvents('append-new', 1)).toEqual(events);
    expect(await loadAccount('append-new')).toEqual(state);
    expect(await loadAccount('append-new')).toEqual(fold('append-new', events));
  });

  it('given an account nobody opened, when it is loaded, then it is the initial state at version 0', async () => {
    expect(await loadAccount('nobody')).toEqual(initialState('nobody'));
  });

  it('given a head that moved on, when an append still expects the old version, then it is refused as a version conflict and writes nothing', async () => {
    const opened = await record('conflict', openFree('conflict'));
    const stale = opened.state;
    await record('conflict', credit('conflict', 1));
    const itemsBefore = await partitionItemCount('conflict');

    const late = execute(credit('conflict', 2, 'late'), stale);
    const attempt = appendEvents({ accountId: 'conflict', expectedVersion: stale.version, events: late.events, state: late.state });

    await expect(attempt).rejects.toBeInstanceOf(VersionConflictError);
    await expect(attempt).rejects.toMatchObject({ accountId: 'conflict', expectedVersion: stale.version, reason: 'head' });
    expect(await partitionItemCount('conflict')).toBe(itemsBefore);
    expect((await readEvents('conflict', 1)).map((e) => e.data)).not.toContainEqual(expect.objectContaining({ note: 'late' }));
  });

  it('given an existing account, when an append claims to open it anew (expected version 0), then it is a version conflict', async () => {
    await record('reopen', openFree('reopen'));
    const again = execute(openFree('reopen'), initialState('reopen'));

    await expect(
      appendEvents({ accountId: 'reopen', expectedVersion: 0, events: again.events, state: again.state }),
    ).rejects.toMatchObject({ name: 'VersionConflictError', reason: 'head' });
    expect(await readEvents('reopen', 1)).toHaveLength(2);
  });

  it('given an event item at a version the head does not know, when an append reaches that version, then it is refused naming the account and version, and the item is not overwritten', async () => {
    const { state } = await record('stray', openFree('stray'));
    const next = execute(credit('stray', 1, 'real'), state);
    const stray = { ...next.events[0]!, data: { ...next.events[0]!.data, note: 'stray' } } as LedgerEvent;
    await documentClient().send(new PutCommand({ TableName: tables().names.Ledger, Item: eventToItem(stray) }));

    const attempt = appendEvents({ accountId: 'stray', expectedVersion: state.version, events: next.events, state: next.state });

    await expect(attempt).rejects.toBeInstanceOf(EventAlreadyExistsError);
    await expect(attempt).rejects.toMatchObject({ accountId: 'stray', version: 3 });
    expect(await loadAccount('stray')).toEqual(state);
    expect((await readEvents('stray', 3))[0]).toEqual(stray);
  });

  it('given a guarded record already stored, when another append carries the same record, then the append conflicts and none of it is written', async () => {
    const { state } = await record('guarded', openFree('guarded'));
    const recordItem = idempotencyItem({
      accountId: 'guarded',
      key: 'k-1',
      requestHash: 'h',
      response: { statusCode: 201, body: { ok: true } },
      version: 3,
      createdAt: T0.toISOString(),
      expiresAt: 1,
    });
    const first = execute(credit('guarded', 1), state);
    await appendEvents({ accountId: 'guarded', expectedVersion: state.version, events: first.events, state: first.state, extraItems: [recordItem] });

    const second = execute(credit('guarded', 2), first.state);
    await expect(
      appendEvents({ accountId: 'guarded', expectedVersion: first.state.version, events: second.events, state: second.state, extraItems: [recordItem] }),
    ).rejects.toMatchObject({ name: 'VersionConflictError', reason: 'item' });
    expect(await loadAccount('guarded')).toEqual(first.state);
    expect(await readEvents('guarded', 1)).toHaveLength(3);
  });

  it('appends whose events skip a version are rejected before anything is sent', async () => {
    const { state } = await record('gap', openFree('gap'));
    const next = execute(credit('gap', 1), state);
    const skipped = next.events.map((e) => ({ ...e, version: e.version + 1 }));
    await expect(appendEvents({ accountId: 'gap', expectedVersion: state.version, events: skipped, state: next.state })).rejects.toThrow(/expected 3/);
  });
});

describe('reading the ledger', () => {
  it('given seven events, when read three at a time, then the pages follow each other in version order and the last has no cursor', async () => {
    await record('pages', openFree('pages'), credit('pages', 1), credit('pages', 2), credit('pages', 3), credit('pages', 4), credit('pages', 5));
    const all = await readEvents('pages', 1);
    expect(all.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const first = await readLedgerPage('pages', { limit: 3 });
    expect(first.items.map((e) => e.version)).toEqual([1, 2, 3]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await readLedgerPage('pages', { limit: 3, cursor: first.nextCursor! });
    expect(second.items.map((e) => e.version)).toEqual([4, 5, 6]);
    const third = await readLedgerPage('pages', { limit: 3, cursor: second.nextCursor! });
    expect(third.items.map((e) => e.version)).toEqual([7]);
    expect(third.nextCursor).toBeNull();
    expect([...first.items, ...second.items, ...third.items]).toEqual(all);
  });

  it('given a ledger that ends exactly at a page boundary, then the full last page has no cursor (no empty page after it)', async () => {
    await record('boundary', openFree('boundary'), credit('boundary', 1), credit('boundary', 2));
    const first = await readLedgerPage('boundary', { limit: 2 });
    const second = await readLedgerPage('boundary', { limit: 2, cursor: first.nextCursor! });
    expect(second.items.map((e) => e.version)).toEqual([3, 4]);
    expect(second.nextCursor).toBeNull();
  });

  it('an account without events has an empty ledger page', async () => {
    expect(await readLedgerPage('empty-ledger', { limit: 10 })).toEqual({ items: [], nextCursor: null });
  });

  it.each(['not-a-cursor', '', 'MA', Buffer.from('3x').toString('base64url'), Buffer.from('-1').toString('base64url')])(
    'a cursor this API did not hand out (%j) is refused as invalid_cursor',
    async (cursor) => {
      await expect(readLedgerPage('pages', { limit: 3, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
      await expect(readLedgerPage('pages', { limit: 3, cursor })).rejects.toMatchObject({ statusCode: 400, code: 'invalid_cursor' });
    },
  );

  it('reads a range of versions, inclusive at both ends', async () => {
    const events = await readEvents('pages', 3, 5);
    expect(events.map((e) => e.version)).toEqual([3, 4, 5]);
    expect(await readEvents('pages', 8)).toEqual([]);
  });

  it('given more than one DynamoDB page of events (over 1 MB), when all are read, then every page is drained in order', async () => {
    const bigReason = 'x'.repeat(20_000);
    const commands = [openFree('big'), ...Array.from({ length: 70 }, (_, i) => credit('big', i + 1, `${i} ${bigReason}`))];
    await record('big', ...commands);

    const events = await readEvents('big', 1);
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: 72 }, (_, i) => i + 1));
    const page = await readLedgerPage('big', { limit: 71 });
    expect(page.items).toHaveLength(71);
    expect(page.nextCursor).not.toBeNull();
  });

  it('lists every opened account once, page by page', async () => {
    await record('list-a', openFree('list-a'));
    await record('list-b', openFree('list-b'));
    const ids: string[] = [];
    for await (const id of listAccountIds({ pageSize: 2 })) ids.push(id);
    expect(ids).toContain('list-a');
    expect(ids).toContain('list-b');
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain('nobody');
  });
});

describe('stream images', () => {
  it('an event item as the stream delivers it (DynamoDB JSON) parses back to the same event; the head is not an event', async () => {
    const { events, state } = await record('images', openFree('images'), credit('images', 1));
    for (const event of events) {
      const image = marshall(eventToItem(event), { removeUndefinedValues: true });
      expect(isEventImage(image)).toBe(true);
      expect(streamImageToEvent(image)).toEqual(event);
    }
    expect(isEventImage(marshall(headItem(state), { removeUndefinedValues: true }))).toBe(false);
  });

  it('an event image that does not match the schema is refused, naming its key', () => {
    const image = marshall({ pk: accountPartition('bad'), sk: eventSortKey(1), kind: 'event', accountId: 'bad', version: 1, type: 'Debited', at: 'x', data: {} });
    expect(() => streamImageToEvent(image)).toThrow(/ACCOUNT#bad \/ EVENT#0000000001/);
  });
});
