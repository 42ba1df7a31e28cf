import { beforeAll, describe, expect, it } from 'vitest';
import { fold, type LedgerEvent } from '../../../domain/index.js';
import { projectAccount } from '../../../domain/projections/index.js';
import { appendEvents, readEvents } from '../../../functions/lib/event-store.js';
import { accountItems, canonicalItem, DynamoProjectionStore, FinanceAccumulator, itemId } from '../../../functions/lib/projection-store.js';
import { createProjectLedgerHandler } from '../../../functions/streams/project-ledger.js';
import { createTables } from '../../../infra/local/dynamodb-local.js';
import { PROJECTIONS_TABLE } from '../../../infra/tables.js';
import { LedgerBuilder } from '../../domain/projections/ledger-builder.js';
import { randomWorkload } from '../../domain/projections/workload.js';
import { useTestTables } from '../../support/dynamodb.js';
import { batchOf, poisonRecord, shuffled, streamRecord } from './stream-fixtures.js';

/**
 * The projection handler on DynamoDB Local: real guarded transactions, real ADDs on shared finance items, gaps
 * filled with the event store's consistent reads. Each scenario projects the same ledger into a table of its
 * own; every one must hold exactly the items a replay of the ledger through the pure projections makes.
 */

const tables = useTestTables();
let events: LedgerEvent[] = [];
let expected: string[] = [];
let scenario = 0;

/** Appends an account's events in transactions of at most 50 events, as the command path would have. */
async function appendLedger(all: LedgerEvent[]): Promise<void> {
  for (const accountId of new Set(all.map((e) => e.accountId))) {
    const own = all.filter((e) => e.accountId === accountId);
    for (let i = 0; i < own.length; i += 50) {
      const chunk = own.slice(i, i + 50);
      await appendEvents({ accountId, expectedVersion: i, events: chunk, state: fold(accountId, own.slice(0, i + chunk.length)) });
    }
  }
}

function expectedItems(all: LedgerEvent[]): string[] {
  const finance = new FinanceAccumulator();
  const items: Array<Record<string, unknown>> = [];
  for (const accountId of new Set(all.map((e) => e.accountId))) {
    const projections = projectAccount(all.filter((e) => e.accountId === accountId));
    items.push(...accountItems(projections));
    finance.add(accountId, projections.finance);
  }
  items.push(...finance.items());
  return items.sort((a, b) => (itemId(a) < itemId(b) ? -1 : 1)).map(canonicalItem);
}

async function freshProjections(): Promise<{ table: string; handler: ReturnType<typeof createProjectLedgerHandler>; items: () => Promise<string[]> }> {
  scenario += 1;
  const names = await createTables(tables().client, `${tables().prefix}s${scenario}_`, [PROJECTIONS_TABLE]);
  const table = names[PROJECTIONS_TABLE.id] as string;
  const store = new DynamoProjectionStore(table);
  return {
    table,
    handler: createProjectLedgerHandler(() => ({ store, readEvents: (accountId, from, to) => readEvents(accountId, from, to) })),
    items: async () => {
      const all: Array<Record<string, unknown>> = [];
      for await (const item of store.scanItems()) all.push(item);
      return all.sort((a, b) => (itemId(a) < itemId(b) ? -1 : 1)).map(canonicalItem);
    },
  };
}

beforeAll(async () => {
  const ledger = new LedgerBuilder();
  for (const command of randomWorkload({ seed: 99, accounts: 6, commands: 160 })) ledger.tryRun(command);
  events = ledger.events;
  await appendLedger(events);
  expected = expectedItems(events);
});

describe('the projection handler on DynamoDB Local', () => {
  it('given the ledger in order in batches of 100, then the table holds exactly the items a replay makes', async () => {
    const p = await freshProjections();
    const records = events.map(streamRecord);
    for (let i = 0; i < records.length; i += 100) expect(await p.handler(batchOf(records.slice(i, i + 100)))).toEqual({ batchItemFailures: [] });
    expect(await p.items()).toEqual(expected);
  });

  it('given every batch delivered twice, then nothing is counted twice (finance sums included)', async () => {
    const p = await freshProjections();
    const records = events.map(streamRecord);
    for (let i = 0; i < records.length; i += 100) {
      await p.handler(batchOf(records.slice(i, i + 100)));
      expect(await p.handler(batchOf(records.slice(i, i + 100)))).toEqual({ batchItemFailures: [] });
    }
    expect(await p.items()).toEqual(expected);
  });

  it('given the records shuffled and with every fourth one held back until the end, then gaps are filled from the ledger and late records skipped', async () => {
    const p = await freshProjections();
    const records = shuffled(events.map(streamRecord), 5);
    expect(await p.handler(batchOf(records.filter((_, i) => i % 4 !== 0)))).toEqual({ batchItemFailures: [] });
    expect(await p.handler(batchOf(records.filter((_, i) => i % 4 === 0)))).toEqual({ batchItemFailures: [] });
    expect(await p.items()).toEqual(expected);
  });

  it('given a poison record among them, then only it is reported and the projections are those of a clean run', async () => {
    const p = await freshProjections();
    const poison = poisonRecord('acct-002');
    const records = events.map(streamRecord);
    const response = await p.handler(batchOf([...records.slice(0, 40), poison, ...records.slice(40)]));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: poison.dynamodb?.SequenceNumber }] });
    expect(await p.items()).toEqual(expected);
  });

  it('given two invocations projecting the same records at the same time, then the guarded transactions apply each event once', async () => {
    const p = await freshProjections();
    const records = events.map(streamRecord);
    const responses = await Promise.all([p.handler(batchOf(records)), p.handler(batchOf(shuffled(records, 9)))]);
    expect(responses).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    expect(await p.items()).toEqual(expected);
  });
});
