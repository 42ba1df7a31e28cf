import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { fold, type LedgerEvent } from '../../domain/index.js';
import { appendEvents } from '../../functions/lib/event-store.js';
import { parseLedgerEventRecord } from '../../functions/lib/stream-records.js';
import { selectsRecord } from '../../infra/constructs/stream-filters.js';
import { deployedStreamConsumers, LocalStreamPoller, type StreamConsumer } from '../../infra/local/stream-poller.js';
import { LedgerBuilder, openAccount, spend } from '../domain/projections/ledger-builder.js';
import { useTestTables } from '../support/dynamodb.js';
import { localContext } from '../support/local-context.js';

/**
 * The local stream poller hands each consumer what its event source mapping would: only the records its filter
 * selects, and no invocation at all when none of a batch's records pass. Run on DynamoDB Local's real stream.
 */

const tables = useTestTables();
const pollers: LocalStreamPoller[] = [];

afterEach(async () => {
  for (const poller of pollers.splice(0)) await poller.stop();
});

/** A consumer with a given filter that records each invocation's event types instead of acting on them. */
function probe(name: string, filter: (record: DynamoDBRecord) => boolean) {
  const invocations: string[][] = [];
  const consumer: StreamConsumer = {
    name,
    filter,
    handler: async (event: DynamoDBStreamEvent) => {
      invocations.push(event.Records.map((record) => parseLedgerEventRecord(record).type));
      return { batchItemFailures: [] };
    },
  };
  return { consumer, invocations };
}

async function append(events: LedgerEvent[]): Promise<void> {
  for (const accountId of new Set(events.map((e) => e.accountId))) {
    const own = events.filter((e) => e.accountId === accountId);
    await appendEvents({ accountId, expectedVersion: 0, events: own, state: fold(accountId, own) });
  }
}

describe('the local stream poller’s filters', () => {
  it('given an opening, debits and a threshold crossing, each deployed filter hands its consumer only its event types, and a filter matching none never invokes', async () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('filters-acme', 'free', '2026-11-26T10:00:00.000Z'));
    ledger.run(spend('filters-acme', 10, '2026-11-26T11:00:00.000Z'));
    ledger.run(spend('filters-acme', 75, '2026-11-26T12:00:00.000Z'));
    ledger.run(spend('filters-acme', 1, '2026-11-26T13:00:00.000Z'));
    const types = ledger.events.map((e) => e.type);
    expect(types).toEqual(['AccountOpened', 'Granted', 'Debited', 'Debited', 'ThresholdCrossed', 'Debited']);
    await append(ledger.events);

    const deployed = await deployedStreamConsumers();
    const probes = Object.fromEntries(
      deployed.map((consumer) => {
        if (consumer.filter === undefined) throw new Error(`${consumer.name} has no filter`);
        return [consumer.name, probe(consumer.name, consumer.filter)];
      }),
    );
    const planChangesOnly = probe('planChangesOnly', (record) => selectsRecord(['PlanChanged'], record));
    const poller = new LocalStreamPoller({ mappings: [], consumers: [...Object.values(probes).map((p) => p.consumer), planChangesOnly.consumer] });
    pollers.push(poller);
    await poller.start(localContext(tables()));
    await poller.sync();

    expect(probes.projectLedger!.invocations.flat()).toEqual(types);
    expect(probes.scheduleCycleReset!.invocations).toEqual([['Granted']]);
    expect(probes.sendThresholdWarnings!.invocations.flat()).toEqual(['AccountOpened', 'ThresholdCrossed']);
    expect(planChangesOnly.invocations).toEqual([]);
    expect(poller.deadLetters).toEqual([]);
  });
});
