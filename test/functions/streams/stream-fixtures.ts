import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { LedgerEvent } from '../../../domain/index.js';
import {
  addFlows,
  type AccountProjection,
  type FinanceFlows,
  type ProjectionChange,
  type UsageDayView,
  type UsageRecordView,
} from '../../../domain/projections/index.js';
import { eventToItem } from '../../../functions/lib/event-store.js';
import { shardOf, type ProjectionStore } from '../../../functions/lib/projection-store.js';

/** Stream records exactly as Lambda delivers ledger inserts: the event item's NewImage in DynamoDB JSON. */
let sequence = 1000;

export function streamRecord(event: LedgerEvent): DynamoDBRecord {
  return rawRecord(marshall(eventToItem(event), { removeUndefinedValues: true }) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage']);
}

export function rawRecord(image: NonNullable<DynamoDBRecord['dynamodb']>['NewImage']): DynamoDBRecord {
  sequence += 1;
  return {
    eventID: `event-${sequence}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/Ledger/stream/2026-11-26T00:00:00.000',
    dynamodb: { NewImage: image, SequenceNumber: String(sequence).padStart(21, '0'), SizeBytes: 100, StreamViewType: 'NEW_IMAGE' },
  };
}

/** A record that claims to be a ledger event insert but whose data is not a valid event. */
export function poisonRecord(accountId: string): DynamoDBRecord {
  return rawRecord({
    pk: { S: `ACCOUNT#${accountId}` },
    sk: { S: 'EVENT#0000000099' },
    kind: { S: 'event' },
    accountId: { S: accountId },
    version: { N: '99' },
    type: { S: 'Debited' },
    at: { S: 'yesterday' },
    data: { M: { amount: { S: 'lots' } } },
  });
}

export const batchOf = (records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records });

export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i -= 1) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * The projection store's contract in memory: a commit applies all of an event's writes or none, and only when the
 * account's cursor is still the expected version. It keeps a log of commits so a test can count them.
 */
export class MemoryProjectionStore implements ProjectionStore {
  readonly accounts = new Map<string, AccountProjection>();
  readonly usageDays = new Map<string, UsageDayView>();
  readonly usageRecords = new Map<string, UsageRecordView>();
  readonly finance = new Map<string, FinanceFlows>();
  commits = 0;
  conflicts = 0;

  async loadAccount(accountId: string): Promise<AccountProjection | null> {
    await Promise.resolve();
    return structuredClone(this.accounts.get(accountId) ?? null);
  }

  async loadUsageDay(accountId: string, day: string): Promise<UsageDayView | null> {
    await Promise.resolve();
    return structuredClone(this.usageDays.get(`${accountId}|${day}`) ?? null);
  }

  async commit(change: ProjectionChange): Promise<'applied' | 'conflict'> {
    await Promise.resolve();
    const applied = this.accounts.get(change.accountId)?.appliedVersion ?? 0;
    if (applied !== change.expectedVersion) {
      this.conflicts += 1;
      return 'conflict';
    }
    this.accounts.set(change.accountId, structuredClone(change.account));
    if (change.usageDay !== null) this.usageDays.set(`${change.accountId}|${change.usageDay.day}`, structuredClone(change.usageDay));
    if (change.usageRecord !== null) this.usageRecords.set(`${change.accountId}|${change.usageRecord.version}`, structuredClone(change.usageRecord));
    if (change.finance !== null) {
      const key = `${shardOf(change.accountId)}|${change.finance.month}`;
      this.finance.set(key, addFlows(this.finance.get(key) ?? null, change.finance.flows));
    }
    this.commits += 1;
    return 'applied';
  }

  /** Everything stored, in a canonical order, for comparing two stores. */
  snapshot(): unknown {
    const sorted = <V>(map: Map<string, V>): Array<[string, V]> => [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      accounts: sorted(this.accounts),
      usageDays: sorted(this.usageDays),
      usageRecords: sorted(this.usageRecords),
      finance: sorted(this.finance),
    };
  }
}

/** The ledger as the event store would answer a consistent range read. */
export function ledgerReader(events: readonly LedgerEvent[]) {
  return async (accountId: string, fromVersion: number, toVersion: number): Promise<LedgerEvent[]> =>
    events.filter((e) => e.accountId === accountId && e.version >= fromVersion && e.version <= toVersion).sort((a, b) => a.version - b.version);
}
