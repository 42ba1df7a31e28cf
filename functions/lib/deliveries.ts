import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { accountPartition, deliverySortKey, ITEM_KINDS, LEDGER_KEYS } from '../../infra/keys.js';
import { ledgerTableName } from './config.js';
import { documentClient } from './dynamo.js';

/**
 * Side effects done once per ledger event and channel (an SNS publish), recorded in the account's partition of
 * the ledger table (`DELIVERY#<channel>#<version>`, kind `delivery`; the stream filter keeps these items away
 * from the consumers).
 *
 * A delivery goes through a claim with a lease, the send, and a completion:
 *   1. claim: a conditional put succeeds only if no record exists, the last attempt failed, or an attempt's
 *      lease has run out (its worker died); a `done` record means "already sent": nothing is sent again;
 *   2. send;
 *   3. done: the record is marked `done` (only by the claim holder). A send that fails marks it `failed` and
 *      the error propagates, so the stream record fails and is retried: never dropped.
 * Duplicates: a redelivered or concurrent record finds `done` or a live claim and sends nothing. The one window
 * left is a worker dying between a successful send and step 3: after the lease the retry sends again. SNS has
 * no idempotency key for standard topics or SMS, so that window cannot be closed, only kept small; we prefer a
 * rare duplicate to a lost warning.
 */

export type DeliveryChannel = 'topic' | 'sms' | 'email-subscription';

export interface DeliveryKey {
  accountId: string;
  /** The version of the ledger event the delivery is for. */
  version: number;
  channel: DeliveryChannel;
}

/** What a send reports: `sent`, or `declined` when the provider refused for good (an opted-out phone). */
export interface SendResult {
  outcome: 'sent' | 'declined';
  /** The provider's id (SNS MessageId, subscription ARN) or the reason it declined. */
  reference?: string | undefined;
}

export type DeliveryResult = { status: 'delivered'; result: SendResult } | { status: 'already-delivered' };

/**
 * How long a claim keeps others away. It must outlast the consumer's Lambda timeout (infra keeps that at a
 * minute or less), so a live attempt is never taken over, and it is short enough that a retry after a crash
 * goes through within the stream's retry window.
 */
export const DELIVERY_LEASE_MS = 2 * 60_000;

/** Another worker holds a live claim on this delivery: fail the record; its retry will find it done. */
export class DeliveryInProgressError extends Error {
  override readonly name = 'DeliveryInProgressError';
  constructor(readonly key: DeliveryKey) {
    super(`Delivery ${key.channel} of event ${key.version} of account "${key.accountId}" is in progress elsewhere.`);
  }
}

export interface DeliveryOptions {
  /**
   * The lease is about elapsed real time (is the worker that claimed still alive?), not about the ledger's
   * business clock, which the local runtime moves at will: so it reads the system time unless a test says.
   */
  now?: () => number;
  leaseMs?: number;
}

/** Every attribute goes through a placeholder: several of these names are DynamoDB reserved words. */
const NAMES = { '#status': 'status', '#leaseUntil': 'leaseUntil', '#claimToken': 'claimToken' };

const keyOf = (key: DeliveryKey) => ({
  [LEDGER_KEYS.partitionKey]: accountPartition(key.accountId),
  [LEDGER_KEYS.sortKey]: deliverySortKey(key.channel, key.version),
});

/** The stored record of a delivery, if any (strongly consistent). */
export async function readDelivery(key: DeliveryKey): Promise<Record<string, unknown> | undefined> {
  const { Item } = await documentClient().send(new GetCommand({ TableName: ledgerTableName(), Key: keyOf(key), ConsistentRead: true }));
  return Item;
}

/** Runs `send` unless this delivery is already done; records the outcome. See the module comment. */
export async function deliverOnce(key: DeliveryKey, send: () => Promise<SendResult>, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  const now = options.now ?? Date.now;
  const leaseMs = options.leaseMs ?? DELIVERY_LEASE_MS;
  const table = ledgerTableName();
  const client = documentClient();
  const claimToken = crypto.randomUUID();
  const claimedAt = now();

  try {
    await client.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...keyOf(key),
          [LEDGER_KEYS.kindAttribute]: ITEM_KINDS.delivery,
          accountId: key.accountId,
          version: key.version,
          channel: key.channel,
          status: 'in_progress',
          claimToken,
          claimedAt: new Date(claimedAt).toISOString(),
          leaseUntil: claimedAt + leaseMs,
        },
        ConditionExpression: 'attribute_not_exists(#pk) OR #status = :failed OR (#status = :inProgress AND #leaseUntil < :now)',
        ExpressionAttributeNames: { '#pk': LEDGER_KEYS.partitionKey, '#status': 'status', '#leaseUntil': 'leaseUntil' },
        ExpressionAttributeValues: { ':failed': 'failed', ':inProgress': 'in_progress', ':now': claimedAt },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const existing = await readDelivery(key);
    if (existing?.status === 'done') return { status: 'already-delivered' };
    throw new DeliveryInProgressError(key);
  }

  const claimHeld = { ':token': claimToken };
  let result: SendResult;
  try {
    result = await send();
  } catch (error) {
    await client
      .send(
        new UpdateCommand({
          TableName: table,
          Key: keyOf(key),
          UpdateExpression: 'SET #status = :failed, #lastError = :error, #failedAt = :at REMOVE #leaseUntil',
          ConditionExpression: '#claimToken = :token',
          ExpressionAttributeNames: { ...NAMES, '#lastError': 'lastError', '#failedAt': 'failedAt' },
          ExpressionAttributeValues: { ...claimHeld, ':failed': 'failed', ':error': describe(error), ':at': new Date(now()).toISOString() },
        }),
      )
      // Recording the failure is a courtesy (the lease would run out anyway); the send's error is what matters.
      .catch(() => undefined);
    throw error;
  }

  try {
    await client.send(
      new UpdateCommand({
        TableName: table,
        Key: keyOf(key),
        UpdateExpression: 'SET #status = :done, #outcome = :outcome, #completedAt = :at, #reference = :reference REMOVE #leaseUntil',
        ConditionExpression: '#claimToken = :token',
        ExpressionAttributeNames: { ...NAMES, '#outcome': 'outcome', '#completedAt': 'completedAt', '#reference': 'reference' },
        ExpressionAttributeValues: {
          ...claimHeld,
          ':done': 'done',
          ':outcome': result.outcome,
          ':at': new Date(now()).toISOString(),
          ':reference': result.reference ?? null,
        },
      }),
    );
  } catch (error) {
    // The claim was taken over after our lease ran out: the other worker records its own send.
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  return { status: 'delivered', result };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 1000);
  return String(error).slice(0, 1000);
}
