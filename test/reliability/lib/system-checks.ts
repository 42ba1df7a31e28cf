import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { LedgerEvent } from '../../../domain/index.js';
import { eventToItem, readEvents } from '../../../functions/lib/event-store.js';
import { canonicalItem, DynamoProjectionStore, itemId, projectionsTableName } from '../../../functions/lib/projection-store.js';
import { createProjectLedgerHandler } from '../../../functions/streams/project-ledger.js';
import { createTables } from '../../../infra/local/dynamodb-local.js';
import { accountPartition, eventSortKey } from '../../../infra/keys.js';
import { PROJECTIONS_TABLE } from '../../../infra/tables.js';
import { rebuildProjections } from '../../../scripts/rebuild-projections.js';
import { verifyLedger } from '../../../scripts/verify-ledger.js';
import type { Random } from './random.js';
import type { ReliabilityServices } from './services.js';

/**
 * Checks of the asynchronous side after a workload, once the local services are quiet: the projections equal a
 * replay of the ledger (the live ones, a rebuild into an empty table, and projections fed redelivered and
 * reordered stream batches), each ThresholdCrossed went out exactly once, and nothing was dead-lettered.
 */

/** The live projections equal a replay of the ledger, and a rebuild into an empty table holds the same items. */
export async function checkProjectionsEqualRebuild(rebuiltTable: string): Promise<{ anomalies: string[]; accounts: number; events: number; items: number }> {
  const anomalies: string[] = [];
  const verified = await verifyLedger();
  for (const d of verified.differences.slice(0, 50)) anomalies.push(`projections (${d.kind}) ${d.where}: ${d.message}`);
  if (verified.differences.length > 50) anomalies.push(`… and ${verified.differences.length - 50} more differences`);

  const rebuilt = await rebuildProjections({ into: rebuiltTable, create: true });
  const live = await itemsOf(projectionsTableName());
  const fresh = await itemsOf(rebuiltTable);
  for (const [id, item] of fresh) {
    const stored = live.get(id);
    if (stored === undefined) anomalies.push(`rebuild has ${id}, the live projections do not`);
    else if (canonicalItem(stored) !== canonicalItem(item)) anomalies.push(`live ${id} differs from its rebuild`);
  }
  for (const id of live.keys()) if (!fresh.has(id)) anomalies.push(`live projections have ${id}, the rebuild does not`);
  return { anomalies, accounts: rebuilt.accounts, events: rebuilt.events, items: fresh.size };
}

async function itemsOf(table: string): Promise<Map<string, Record<string, unknown>>> {
  const items = new Map<string, Record<string, unknown>>();
  for await (const item of new DynamoProjectionStore(table).scanItems()) items.set(itemId(item), item);
  return items;
}

/** A stream record of an event item, as DynamoDB Streams delivers it (after the mapping's filter). */
export function streamRecordOf(event: LedgerEvent, sequence: number): DynamoDBRecord {
  return {
    eventID: `reliability-${sequence}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      Keys: marshall({ pk: accountPartition(event.accountId), sk: eventSortKey(event.version) }) as never,
      NewImage: marshall(eventToItem(event), { removeUndefinedValues: true }) as never,
      SequenceNumber: String(sequence).padStart(21, '0'),
      StreamViewType: 'NEW_IMAGE',
    },
  };
}

export interface RedeliveryReport {
  anomalies: string[];
  /** Records handed to the handler, duplicates included. */
  recordsDelivered: number;
  duplicates: number;
  batches: number;
  batchesRedelivered: number;
  /** Records the handler reported failed (and that were then delivered again, as the mapping would). */
  recordsFailed: number;
}

/**
 * Feeds the deployed projection handler every event of the given accounts in a hostile order (shuffled across
 * accounts and versions, a fifth of the records twice, random batch sizes, some batches delivered again whole)
 * into an empty projections table, redelivering what it reports failed, then checks that table equals a replay.
 */
export async function checkRedeliveryAndReordering(options: {
  client: DynamoDBClient;
  prefix: string;
  accountIds: readonly string[];
  random: Random;
}): Promise<RedeliveryReport> {
  const { random } = options;
  const table = (await createTables(options.client, options.prefix, [PROJECTIONS_TABLE]))[PROJECTIONS_TABLE.id] as string;
  const handler = createProjectLedgerHandler(() => ({ store: new DynamoProjectionStore(table), readEvents: (a, f, t) => readEvents(a, f, t) }));

  const events: LedgerEvent[] = [];
  for (const accountId of options.accountIds) events.push(...(await readEvents(accountId, 1)));
  let sequence = 0;
  let records = events.map((e) => streamRecordOf(e, ++sequence));
  const duplicates = records.filter(() => random.chance(0.2)).map((r) => ({ ...r }));
  records = random.shuffle([...records, ...duplicates]);

  const report: RedeliveryReport = { anomalies: [], recordsDelivered: 0, duplicates: duplicates.length, batches: 0, batchesRedelivered: 0, recordsFailed: 0 };
  let queue = records;
  for (let round = 0; queue.length > 0 && round < 20; round += 1) {
    const retry: DynamoDBRecord[] = [];
    for (let i = 0; i < queue.length; ) {
      const size = random.int(1, 100);
      const batch = queue.slice(i, i + size);
      i += size;
      const deliveries = random.chance(0.1) ? 2 : 1;
      if (deliveries === 2) report.batchesRedelivered += 1;
      for (let d = 0; d < deliveries; d += 1) {
        report.batches += 1;
        report.recordsDelivered += batch.length;
        const response = await handler({ Records: batch });
        const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        if (d === deliveries - 1) {
          const again = batch.filter((r) => failed.has(r.dynamodb?.SequenceNumber ?? ''));
          report.recordsFailed += again.length;
          retry.push(...again);
        }
      }
    }
    queue = random.shuffle(retry);
  }
  if (queue.length > 0) report.anomalies.push(`${queue.length} records still failed after 20 rounds of redelivery`);

  const verified = await verifyLedger({ projectionsTable: table });
  for (const d of verified.differences.slice(0, 50)) report.anomalies.push(`redelivered projections (${d.kind}) ${d.where}: ${d.message}`);
  if (verified.differences.length > 50) report.anomalies.push(`… and ${verified.differences.length - 50} more differences`);
  return report;
}

/**
 * Each ThresholdCrossed went out exactly once to the topic and at most once by SMS; nothing went out for an event
 * that is not a ThresholdCrossed; the local outbox holds one item per warning; no stream record or schedule fire
 * was dead-lettered.
 */
export function checkNotifications(services: ReliabilityServices, ledgers: ReadonlyMap<string, readonly LedgerEvent[]>): { anomalies: string[]; warnings: number } {
  const anomalies: string[] = [];
  const warnings = new Set<string>();
  for (const events of ledgers.values()) {
    for (const e of events) if (e.type === 'ThresholdCrossed') warnings.add(`${e.accountId}#${e.version}`);
  }
  for (const warning of warnings) {
    const topic = services.published.get(`${warning}#topic`) ?? 0;
    const sms = services.published.get(`${warning}#sms`) ?? 0;
    if (topic !== 1) anomalies.push(`ThresholdCrossed ${warning} was published to the topic ${topic} times`);
    if (sms > 1) anomalies.push(`ThresholdCrossed ${warning} was sent by SMS ${sms} times`);
  }
  for (const key of services.published.keys()) {
    const warning = key.split('#').slice(0, 2).join('#');
    if (!warnings.has(warning)) anomalies.push(`a warning went out for ${warning}, which is not a ThresholdCrossed event`);
  }
  const outbox = new Map<string, number>();
  for (const item of services.notifier.outbox) outbox.set(`${item.accountId}#${item.eventVersion}`, (outbox.get(`${item.accountId}#${item.eventVersion}`) ?? 0) + 1);
  for (const warning of warnings) if (outbox.get(warning) !== 1) anomalies.push(`the outbox holds ${outbox.get(warning) ?? 0} items for ${warning}`);
  for (const letter of services.poller.deadLetters) anomalies.push(`stream record dead-lettered by ${letter.consumer}: ${letter.reason}`);
  for (const letter of services.scheduler.deadLetters) anomalies.push(`schedule ${letter.name} dead-lettered: ${letter.lastError ?? ''}`);
  return { anomalies, warnings: warnings.size };
}
