import type { DynamoDBRecord } from 'aws-lambda';
import type { LedgerEventType } from '../../domain/index.js';
import { ITEM_KINDS, LEDGER_KEYS } from '../keys.js';
import type { STREAM_CONSUMERS } from '../routes.js';

/**
 * What each stream consumer is handed: inserts of event items, and of those only the event types it acts on.
 * Lambda neither invokes nor bills a mapping for records its filter drops, so a consumer that acts on one event
 * in a hundred is invoked for that one, not for every debit.
 *
 * Plain data, no CDK: the event source mappings (stream-consumer.ts) and the local stream poller
 * (infra/local/stream-poller.ts) both read it, so AWS and `npm start` hand each consumer the same records.
 */

/** The attribute of an event item that holds its type (`Debited`, `Granted`, …), written by the event store. */
export const EVENT_TYPE_ATTRIBUTE = 'type';

/** Every event insert, whatever its type. */
export const EVERY_EVENT = 'every event';

export type ConsumerSelection = typeof EVERY_EVENT | readonly LedgerEventType[];

/**
 * Each consumer's event types: the ones its handler does something for (every other type it ignores).
 * - projectLedger folds every event into the read models;
 * - scheduleCycleReset creates the schedule of the cycle a `Granted` starts;
 * - sendThresholdWarnings publishes each `ThresholdCrossed`, and subscribes the email of an `AccountOpened` or
 *   `ContactUpdated`.
 * A type added to a handler must be added here too: test/infra/stream-filters.unit.test.ts fails otherwise.
 */
export const CONSUMER_EVENT_TYPES = {
  projectLedger: EVERY_EVENT,
  scheduleCycleReset: ['Granted'],
  sendThresholdWarnings: ['ThresholdCrossed', 'AccountOpened', 'ContactUpdated'],
} as const satisfies Record<keyof typeof STREAM_CONSUMERS, ConsumerSelection>;

/**
 * The mapping's filter pattern (Lambda event filtering syntax: every field must match one of its listed values).
 * Values are DynamoDB JSON, as the stream record carries them.
 */
export function filterPattern(selection: ConsumerSelection): Record<string, unknown> {
  const newImage: Record<string, unknown> = { [LEDGER_KEYS.kindAttribute]: { S: [ITEM_KINDS.event] } };
  if (selection !== EVERY_EVENT) newImage[EVENT_TYPE_ATTRIBUTE] = { S: [...selection] };
  return { eventName: ['INSERT'], dynamodb: { NewImage: newImage } };
}

/** The same filter as a predicate over a record, for the local stream poller. */
export function selectsRecord(selection: ConsumerSelection, record: DynamoDBRecord): boolean {
  if (record.eventName !== 'INSERT') return false;
  const image = record.dynamodb?.NewImage;
  if (image?.[LEDGER_KEYS.kindAttribute]?.S !== ITEM_KINDS.event) return false;
  if (selection === EVERY_EVENT) return true;
  const type = image[EVENT_TYPE_ATTRIBUTE]?.S;
  return type !== undefined && (selection as readonly string[]).includes(type);
}
