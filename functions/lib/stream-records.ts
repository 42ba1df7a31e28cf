import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { ledgerEventSchema, type LedgerEvent } from '../../domain/index.js';
import { ITEM_KINDS, LEDGER_KEYS } from '../../infra/keys.js';

/**
 * DynamoDB stream records of the ledger table → domain events. Every stream consumer (projections, warnings,
 * cycle-reset schedules) reads its records through here, so they all accept and refuse exactly the same images.
 */

/** A record whose image is not a valid ledger event: the batch reports it failed, alone (a poison record). */
export class StreamRecordParseError extends Error {
  override readonly name = 'StreamRecordParseError';
  constructor(
    readonly sequenceNumber: string | undefined,
    message: string,
    readonly issues: unknown = undefined,
  ) {
    super(`Stream record ${sequenceNumber ?? '(no sequence number)'}: ${message}`);
  }
}

type StreamImage = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['NewImage']>;

/** The stream's wire format is the same as the SDK's AttributeValue; only the TypeScript types differ. */
export function unmarshallImage(image: StreamImage): Record<string, unknown> {
  return unmarshall(image as unknown as Record<string, SdkAttributeValue>);
}

/**
 * The filter of the event source mapping, as a predicate: only inserts of event items reach the consumers.
 * The local stream poller applies it; in AWS the mapping does, and consumers need not check again.
 */
export function isLedgerEventInsert(record: DynamoDBRecord): boolean {
  if (record.eventName !== 'INSERT') return false;
  const kind = record.dynamodb?.NewImage?.[LEDGER_KEYS.kindAttribute];
  return kind?.S === ITEM_KINDS.event;
}

/** The event's envelope and data out of a stored event item (key and `kind` attributes dropped). */
export function eventFromItem(item: Record<string, unknown>): LedgerEvent {
  const { accountId, version, type, at, data } = item;
  return ledgerEventSchema.parse({ accountId, version, type, at, data });
}

/**
 * Parses a record's NewImage with the domain's zod schema. Throws StreamRecordParseError when the record is not
 * an event insert or its image is not a valid event, so a batch processor fails that record and no other.
 */
export function parseLedgerEventRecord(record: DynamoDBRecord): LedgerEvent {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  const image = record.dynamodb?.NewImage;
  if (image === undefined) throw new StreamRecordParseError(sequenceNumber, 'has no NewImage');
  if (!isLedgerEventInsert(record)) throw new StreamRecordParseError(sequenceNumber, `is not an event insert (${record.eventName ?? 'no eventName'})`);
  let item: Record<string, unknown>;
  try {
    item = unmarshallImage(image);
  } catch (error) {
    throw new StreamRecordParseError(sequenceNumber, `cannot be unmarshalled: ${(error as Error).message}`);
  }
  const { accountId, version, type, at, data } = item;
  const parsed = ledgerEventSchema.safeParse({ accountId, version, type, at, data });
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new StreamRecordParseError(sequenceNumber, `is not a valid ledger event (${paths})`, parsed.error.issues);
  }
  return parsed.data;
}

/** The sequence number Lambda uses as a DynamoDB stream record's `itemIdentifier` in batchItemFailures. */
export function sequenceNumberOf(record: DynamoDBRecord): string {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if (sequenceNumber === undefined) throw new StreamRecordParseError(undefined, 'has no SequenceNumber');
  return sequenceNumber;
}
