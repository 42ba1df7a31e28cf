import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { fold, type LedgerEvent } from '../../domain/index.js';
import { appendEvents } from '../../functions/lib/event-store.js';
import { parseLedgerEventRecord } from '../../functions/lib/stream-records.js';
import { LocalStreamPoller, MemoryCheckpointStore, type StreamConsumer } from '../../infra/local/stream-poller.js';
import { LedgerBuilder, openAccount, spend } from '../domain/projections/ledger-builder.js';
import { useTestTables } from '../support/dynamodb.js';
import { localContext } from '../support/local-context.js';

/**
 * The local stand-in for the event source mapping, on DynamoDB Local's real stream of the ledger table: the same
 * batches Lambda would hand a consumer (event inserts only, NewImage in DynamoDB JSON, sequence numbers),
 * batchItemFailures honoured by retrying from the first failed record, a record that keeps failing dead-lettered
 * without blocking the shard, consumers independent of each other, and checkpoints that let a restart resume.
 * Every scenario uses accounts of its own; consumers ignore other scenarios' records.
 */

const tables = useTestTables();
const pollers: LocalStreamPoller[] = [];

afterEach(async () => {
  for (const poller of pollers.splice(0)) await poller.stop();
});

async function started(poller: LocalStreamPoller): Promise<LocalStreamPoller> {
  pollers.push(poller);
  await poller.start(localContext(tables()));
  return poller;
}

/** Appends ledgers for the given accounts (open + some usage), as the command path would. */
async function writeLedger(accountIds: string[], debits = 3): Promise<LedgerEvent[]> {
  const ledger = new LedgerBuilder();
  for (const accountId of accountIds) {
    ledger.run(openAccount(accountId, 'pro', '2026-11-26T10:00:00.000Z'));
    for (let i = 0; i < debits; i += 1) ledger.run(spend(accountId, 10 + i, `2026-11-26T1${i}:30:00.000Z`));
  }
  await append(ledger.events);
  return ledger.events;
}

async function append(events: LedgerEvent[], after: LedgerEvent[] = []): Promise<void> {
  for (const accountId of new Set(events.map((e) => e.accountId))) {
    const before = after.filter((e) => e.accountId === accountId);
    const own = events.filter((e) => e.accountId === accountId);
    await appendEvents({ accountId, expectedVersion: before.length, events: own, state: fold(accountId, [...before, ...own]) });
  }
}

/** A consumer that keeps what it was handed, for the scenario's accounts only; `fail` decides per record. */
function recorder(name: string, prefix: string, fail: (event: LedgerEvent, attempt: number) => boolean = () => false) {
  const batches: DynamoDBRecord[][] = [];
  const applied: string[] = [];
  const attempts = new Map<string, number>();
  const consumer: StreamConsumer = {
    name,
    batchSize: 4,
    handler: async (batch: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
      const mine = batch.Records.filter((r) => parseLedgerEventRecord(r).accountId.startsWith(prefix));
      if (mine.length > 0) batches.push(mine);
      for (const record of mine) {
        const event = parseLedgerEventRecord(record);
        const id = `${event.accountId}@${event.version}`;
        const attempt = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, attempt);
        // The mapping retries from the first failure; the records after it in this batch are not done either.
        if (fail(event, attempt)) return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber as string }] };
        applied.push(id);
      }
      return { batchItemFailures: [] };
    },
  };
  return { consumer, batches, applied, attempts };
}

const idsOf = (events: LedgerEvent[]) => events.map((e) => `${e.accountId}@${e.version}`);
const perAccount = (ids: string[], accountId: string) => ids.filter((id) => id.startsWith(`${accountId}@`));

describe('the local stream poller', () => {
  it('hands a consumer Lambda-shaped batches of the ledger’s event inserts only, and sync returns once every earlier write is delivered', async () => {
    const events = await writeLedger(['shape-a', 'shape-b']);
    const seen = recorder('shape', 'shape-');
    const poller = await started(new LocalStreamPoller({ consumers: [seen.consumer] }));
    expect(await poller.sync()).toBeGreaterThanOrEqual(events.length);
    // Head items are written in the same transactions: had the filter let one through, parsing it would have failed.
    expect(poller.deadLetters).toEqual([]);

    expect([...seen.applied].sort()).toEqual(idsOf(events).sort());
    // Each account's events in version order (one item each, one shard locally).
    for (const accountId of ['shape-a', 'shape-b']) expect(perAccount(seen.applied, accountId)).toEqual(perAccount(idsOf(events), accountId));
    const record = seen.batches[0]?.[0] as DynamoDBRecord;
    expect(record).toMatchObject({ eventName: 'INSERT', eventSource: 'aws:dynamodb', dynamodb: { StreamViewType: 'NEW_IMAGE' } });
    expect(record.eventSourceARN).toMatch(/stream/);
    expect(record.dynamodb?.NewImage?.kind).toEqual({ S: 'event' });
    expect(Math.max(...seen.batches.map((b) => b.length))).toBeLessThanOrEqual(4);

    const more = await writeLedger(['shape-c'], 1);
    await poller.sync();
    expect(perAccount(seen.applied, 'shape-c')).toEqual(idsOf(more));
  });

  it('given a record reported failed twice, then the batch is retried from that record (the ones before it are not redelivered) until it passes', async () => {
    const events = await writeLedger(['retry-a'], 4);
    const target = 'retry-a@3';
    const seen = recorder('retry', 'retry-', (e, attempt) => `${e.accountId}@${e.version}` === target && attempt <= 2);
    const poller = await started(new LocalStreamPoller({ consumers: [seen.consumer], maxRetries: 3 }));
    await poller.sync();

    expect(seen.applied).toEqual(idsOf(events));
    expect(seen.attempts.get(target)).toBe(3);
    expect(seen.attempts.get('retry-a@2')).toBe(1);
    expect(poller.deadLetters).toEqual([]);
  });

  it('given a record that always fails, then it is dead-lettered after the retries and the shard moves on; another consumer is not held up', async () => {
    const events = await writeLedger(['poison-a'], 4);
    const target = 'poison-a@4';
    const failing = recorder('failing', 'poison-', (e) => `${e.accountId}@${e.version}` === target);
    const healthy = recorder('healthy', 'poison-');
    const poller = await started(new LocalStreamPoller({ consumers: [failing.consumer, healthy.consumer], maxRetries: 2 }));
    await poller.sync();

    expect(failing.attempts.get(target)).toBe(3);
    expect(failing.applied).toEqual(idsOf(events).filter((id) => id !== target));
    expect(healthy.applied).toEqual(idsOf(events));
    expect(poller.deadLetters.map((d) => [d.consumer, parseLedgerEventRecord(d.record).version, d.attempts])).toEqual([['failing', 4, 3]]);
  });

  it('given the poller is stopped and started again with its checkpoints, then it resumes after the last record it delivered, without redelivery', async () => {
    const checkpoints = new MemoryCheckpointStore();
    const first = await writeLedger(['resume-a'], 2);
    const before = recorder('resume', 'resume-');
    const poller = await started(new LocalStreamPoller({ consumers: [before.consumer], checkpoints }));
    await poller.sync();
    await poller.stop();
    expect(before.applied).toEqual(idsOf(first));

    const later = new LedgerBuilder();
    later.run(openAccount('resume-b', 'free', '2026-11-26T10:00:00.000Z'));
    await append(later.events);

    const after = recorder('resume', 'resume-');
    const again = await started(new LocalStreamPoller({ consumers: [after.consumer], checkpoints }));
    await again.sync();
    expect(after.applied).toEqual(idsOf(later.events));
  });
});
