import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { EventOf, LedgerEvent } from '../../domain/index.js';
import { deliverOnce, type DeliveryResult, type SendResult } from '../lib/deliveries.js';
import { loadAccount } from '../lib/event-store.js';
import {
  alertsTopicArn,
  emailSubscriptionInput,
  publish,
  smsPublishInput,
  subscribe,
  topicPublishInput,
  type WarningRecipient,
} from '../lib/notifications.js';
import { parseLedgerEventRecord } from '../lib/stream-records.js';

/**
 * A stream consumer that delivers low-balance warnings, each exactly once in effect:
 * - `ThresholdCrossed`: one publish to the alerts topic (email subscribers get it through their filter policy)
 *   and, when the account has a phone, one SMS straight to it. Contact channels and plan are read from the
 *   account's state when the warning is delivered; the numbers come from the event.
 * - `AccountOpened` / `ContactUpdated` with an email address: subscribes that address to the alerts topic, well
 *   before any warning, because SNS holds email for an address until its owner confirms the subscription.
 * Each publish or subscribe is guarded by a delivery record per event and channel (functions/lib/deliveries.ts):
 * a redelivered record sends nothing twice, and a failed publish fails the record so the stream retries it.
 */

const logger = new Logger({ serviceName: 'credits-ledger' });

export type WarningOutcome =
  | { status: 'ignored' }
  | { status: 'warned'; accountId: string; version: number; topic: DeliveryResult; sms?: DeliveryResult }
  | { status: 'subscribed'; accountId: string; version: number; email: string; subscription: DeliveryResult }
  | { status: 'subscription-skipped'; accountId: string; version: number; reason: string };

export async function sendThresholdWarning(event: LedgerEvent): Promise<WarningOutcome> {
  switch (event.type) {
    case 'ThresholdCrossed':
      return deliverWarning(event);
    case 'AccountOpened':
    case 'ContactUpdated':
      return subscribeEmail(event.accountId, event.version, event.data.contact.email);
    default:
      return { status: 'ignored' };
  }
}

async function deliverWarning(event: EventOf<'ThresholdCrossed'>): Promise<WarningOutcome> {
  const { accountId, version } = event;
  const state = await loadAccount(accountId);
  const recipient: WarningRecipient = { accountId, plan: state.plan, contact: state.contact, eventVersion: version };
  const facts = event.data;
  const topicArn = alertsTopicArn();

  const topic = await deliverOnce({ accountId, version, channel: 'topic' }, async () => ({
    outcome: 'sent',
    reference: await publish(topicPublishInput(topicArn, recipient, facts)),
  }));
  const phone = state.contact.phone;
  if (phone === undefined) return { status: 'warned', accountId, version, topic };
  const sms = await deliverOnce({ accountId, version, channel: 'sms' }, () => sendSms(phone, recipient, facts));
  return { status: 'warned', accountId, version, topic, sms };
}

async function sendSms(phone: string, recipient: WarningRecipient, facts: EventOf<'ThresholdCrossed'>['data']): Promise<SendResult> {
  try {
    return { outcome: 'sent', reference: await publish(smsPublishInput(phone, recipient, facts)) };
  } catch (error) {
    // The number opted out of SMS: retrying cannot succeed, and it is the customer's choice; recorded, not retried.
    if ((error as Error).name === 'OptedOutException') return { outcome: 'declined', reference: 'opted out of SMS' };
    throw error;
  }
}

async function subscribeEmail(accountId: string, version: number, email: string | undefined): Promise<WarningOutcome> {
  if (email === undefined) return { status: 'ignored' };
  // A later change may have replaced the address already: its own event subscribes the new one.
  const state = await loadAccount(accountId);
  if (state.contact.email !== email) return { status: 'subscription-skipped', accountId, version, reason: 'the address is no longer the contact' };
  const subscription = await deliverOnce({ accountId, version, channel: 'email-subscription' }, async () => ({
    outcome: 'sent',
    reference: await subscribe(emailSubscriptionInput(alertsTopicArn(), email)),
  }));
  return { status: 'subscribed', accountId, version, email, subscription };
}

async function recordHandler(record: DynamoDBRecord): Promise<void> {
  const outcome = await sendThresholdWarning(parseLedgerEventRecord(record));
  if (outcome.status !== 'ignored') logger.info('Warning delivery', { ...outcome });
}

const processor = new BatchProcessor(EventType.DynamoDBStreams);

/** Records in stream order, one at a time; failures reported per record (the mapping retries from the first). */
export const handler = async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> =>
  processPartialResponse(event, recordHandler, processor, { context, processInParallel: false, throwOnFullBatchFailure: false });
