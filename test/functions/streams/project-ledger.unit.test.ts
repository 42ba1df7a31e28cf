import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../../domain/index.js';
import { addFlows, projectAccount, usageDayOf } from '../../../domain/projections/index.js';
import { shardOf } from '../../../functions/lib/projection-store.js';
import { createProjectLedgerHandler, ProjectionGapError, LedgerProjector } from '../../../functions/streams/project-ledger.js';
import { LedgerBuilder } from '../../domain/projections/ledger-builder.js';
import { randomWorkload } from '../../domain/projections/workload.js';
import { isLedgerEventInsert, parseLedgerEventRecord, StreamRecordParseError } from '../../../functions/lib/stream-records.js';
import { batchOf, ledgerReader, MemoryProjectionStore, poisonRecord, rawRecord, shuffled, streamRecord } from './stream-fixtures.js';

/** A ledger of a dozen accounts over several cycles, from the real decider. */
function workloadLedger(seed: number): LedgerEvent[] {
  const ledger = new LedgerBuilder();
  for (const command of randomWorkload({ seed, accounts: 12, commands: 400 })) ledger.tryRun(command);
  return ledger.events;
}

/** The reference: every account's events applied once, in order, straight through the pure projections. */
function cleanRun(events: readonly LedgerEvent[]): MemoryProjectionStore {
  const store = new MemoryProjectionStore();
  for (const accountId of new Set(events.map((e) => e.accountId))) {
    const projections = projectAccount(events.filter((e) => e.accountId === accountId));
    if (projections.account !== null) store.accounts.set(accountId, projections.account);
    for (const day of projections.usageDays.values()) store.usageDays.set(`${accountId}|${day.day}`, day);
    for (const record of projections.usageRecords) store.usageRecords.set(`${accountId}|${record.version}`, record);
    // Finance months are shared by the accounts of a shard: their contributions add up.
    for (const [month, flows] of projections.finance) {
      const key = `${shardOf(accountId)}|${month}`;
      store.finance.set(key, addFlows(store.finance.get(key) ?? null, flows));
    }
  }
  return store;
}

function handlerOn(store: MemoryProjectionStore, events: readonly LedgerEvent[]) {
  return createProjectLedgerHandler(() => ({ store, readEvents: ledgerReader(events) }));
}

describe('the projection handler, fed the way DynamoDB Streams deliver (at least once, ordered per item only)', () => {
  const events = workloadLedger(7);
  const records = events.map(streamRecord);
  const reference = cleanRun(events).snapshot();

  it('given the whole ledger in order, when it is projected in batches of 100, then the projections equal a clean fold of the ledger', async () => {
    const store = new MemoryProjectionStore();
    const handler = handlerOn(store, events);
    for (let i = 0; i < records.length; i += 100) {
      expect(await handler(batchOf(records.slice(i, i + 100)))).toEqual({ batchItemFailures: [] });
    }
    expect(store.snapshot()).toEqual(reference);
    expect(store.commits).toBe(events.length);
  });

  it('given the same batches delivered twice, then nothing is applied twice', async () => {
    const store = new MemoryProjectionStore();
    const handler = handlerOn(store, events);
    for (let i = 0; i < records.length; i += 100) await handler(batchOf(records.slice(i, i + 100)));
    const commitsOnce = store.commits;
    for (let i = 0; i < records.length; i += 100) {
      expect(await handler(batchOf(records.slice(i, i + 100)))).toEqual({ batchItemFailures: [] });
    }
    expect(store.commits).toBe(commitsOnce);
    expect(store.snapshot()).toEqual(reference);
  });

  it('given every record in a shuffled order, then each account still gets its versions in order: the projections equal the clean fold', async () => {
    const store = new MemoryProjectionStore();
    const handler = handlerOn(store, events);
    const mixed = shuffled(records, 42);
    for (let i = 0; i < mixed.length; i += 37) {
      expect(await handler(batchOf(mixed.slice(i, i + 37)))).toEqual({ batchItemFailures: [] });
    }
    expect(store.snapshot()).toEqual(reference);
    expect(store.commits).toBe(events.length);
  });

  it('given a batch with gaps (records missing), then the missing events are read from the ledger and applied first; when the missing records arrive later they are skipped', async () => {
    const store = new MemoryProjectionStore();
    const handler = handlerOn(store, events);
    const lateOnes = records.filter((_, i) => i % 3 === 1);
    expect(await handler(batchOf(records.filter((_, i) => i % 3 !== 1)))).toEqual({ batchItemFailures: [] });
    // Each account is now projected exactly up to the newest version delivered for it: the holes below were filled.
    const delivered = events.filter((_, i) => i % 3 !== 1);
    for (const accountId of new Set(events.map((e) => e.accountId))) {
      const newest = Math.max(...delivered.filter((e) => e.accountId === accountId).map((e) => e.version));
      expect(store.accounts.get(accountId)?.appliedVersion).toBe(newest);
    }
    expect(await handler(batchOf(lateOnes))).toEqual({ batchItemFailures: [] });
    expect(store.snapshot()).toEqual(reference);
    expect(store.commits).toBe(events.length);
  });

  it('given a poison record in the middle of a batch, then it alone is reported failed (by sequence number) and every other record is applied', async () => {
    const store = new MemoryProjectionStore();
    const handler = handlerOn(store, events);
    const poison = poisonRecord('acct-003');
    const batch = [...records.slice(0, 150), poison, ...records.slice(150)];
    const response = await handler(batchOf(batch));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: poison.dynamodb?.SequenceNumber }] });
    expect(store.snapshot()).toEqual(reference);
  });

  it('given the same batch delivered to two invocations at once, then the cursor guard lets exactly one of them apply each event', async () => {
    const store = new MemoryProjectionStore();
    const handler = handlerOn(store, events);
    const [a, b] = await Promise.all([handler(batchOf(records)), handler(batchOf(records))]);
    expect(a).toEqual({ batchItemFailures: [] });
    expect(b).toEqual({ batchItemFailures: [] });
    expect(store.commits).toBe(events.length);
    expect(store.snapshot()).toEqual(reference);
  });
});

describe('a gap the ledger cannot fill', () => {
  it('given v5 arrives while v4 is missing from the ledger too, then v5 fails (to be retried) and nothing past v3 is applied', async () => {
    const ledger = new LedgerBuilder();
    for (const command of randomWorkload({ seed: 3, accounts: 1, commands: 20 })) ledger.tryRun(command);
    const events = ledger.events.slice(0, 5);
    const store = new MemoryProjectionStore();
    const withoutV4 = events.filter((e) => e.version !== 4);
    const handler = createProjectLedgerHandler(() => ({ store, readEvents: ledgerReader(withoutV4) }));
    const v5 = streamRecord(events[4] as LedgerEvent);

    const response = await handler(batchOf([...events.slice(0, 3).map(streamRecord), v5]));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: v5.dynamodb?.SequenceNumber }]);
    expect(store.accounts.get('acct-000')?.appliedVersion).toBe(3);
    await expect(new LedgerProjector({ store, readEvents: ledgerReader(withoutV4) }).project(events[4] as LedgerEvent)).rejects.toThrow(ProjectionGapError);
  });
});

describe('usage lands on its day even when the records of two days interleave', () => {
  it('given usage of two days delivered newest first, then each day holds exactly its own usage', async () => {
    const events = workloadLedger(11).filter((e) => e.accountId === 'acct-001');
    const store = new MemoryProjectionStore();
    const handler = handlerOn(store, events);
    await handler(batchOf([...events].reverse().map(streamRecord)));
    const expected = projectAccount(events);
    for (const [day, view] of expected.usageDays) expect(store.usageDays.get(`acct-001|${day}`)).toEqual(view);
    expect(events.some((e) => usageDayOf(e) !== null)).toBe(true);
  });
});

describe('reading a stream record (functions/lib/stream-records.ts, shared by every stream consumer)', () => {
  const ledger = new LedgerBuilder();
  for (const command of randomWorkload({ seed: 1, accounts: 1, commands: 5 })) ledger.tryRun(command);
  const event = ledger.events[0] as LedgerEvent;

  it('parses an event insert back into the very event that was stored', () => {
    expect(parseLedgerEventRecord(streamRecord(event))).toEqual(event);
  });

  it('is the mapping’s filter: inserts of event items only, not head items nor modifications', () => {
    const insert = streamRecord(event);
    expect(isLedgerEventInsert(insert)).toBe(true);
    expect(isLedgerEventInsert({ ...insert, eventName: 'MODIFY' })).toBe(false);
    const head = rawRecord({ pk: { S: 'ACCOUNT#acct-000' }, sk: { S: 'HEAD' }, kind: { S: 'head' }, version: { N: '2' } });
    expect(isLedgerEventInsert(head)).toBe(false);
    expect(() => parseLedgerEventRecord(head)).toThrow(StreamRecordParseError);
  });

  it('refuses an image that is not a valid event, naming the fields', () => {
    expect(() => parseLedgerEventRecord(poisonRecord('acct-000'))).toThrow(/not a valid ledger event \(at, data\.reason, data\.amount/);
  });
});
