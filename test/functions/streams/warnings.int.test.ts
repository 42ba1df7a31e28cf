import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { OptedOutException, PublishCommand, SNSClient, SubscribeCommand, ThrottledException } from '@aws-sdk/client-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Contact, LedgerEvent } from '../../../domain/index.js';
import { ManualClock, resetClock, setClock } from '../../../functions/lib/clock.js';
import { resetConfig } from '../../../functions/lib/config.js';
import { readDelivery } from '../../../functions/lib/deliveries.js';
import { documentClient } from '../../../functions/lib/dynamo.js';
import { eventToItem, readEvents } from '../../../functions/lib/event-store.js';
import { handleCommand } from '../../../functions/lib/handle-command.js';
import { ledgerTableName } from '../../../functions/lib/config.js';
import { resetSnsClientFactory } from '../../../functions/lib/notifications.js';
import { handler } from '../../../functions/streams/send-threshold-warnings.js';
import { accountPartition, deliverySortKey, ENV } from '../../../infra/keys.js';
import { useTestTables } from '../../support/dynamodb.js';

/**
 * A ThresholdCrossed becomes one message per channel, exactly once in effect: redelivered records send nothing
 * twice, a failed publish fails the record so the stream retries it, and the retry sends only what is missing.
 */

useTestTables();
const sns = mockClient(SNSClient);
const clock = new ManualClock();
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:credits-alerts';
const context = { functionName: 'send-threshold-warnings', awsRequestId: 'test' } as unknown as Context;

beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'message-id' });
  sns.on(SubscribeCommand).resolves({ SubscriptionArn: `${TOPIC}:subscription-id` });
  process.env[ENV.alertsTopicArn] = TOPIC;
  resetConfig();
  resetSnsClientFactory();
  setClock(clock);
});
afterEach(() => resetClock());
afterAll(() => sns.restore());

let sequence = 0;
function record(event: LedgerEvent): DynamoDBRecord {
  sequence += 1;
  return {
    eventName: 'INSERT',
    dynamodb: {
      SequenceNumber: String(sequence),
      NewImage: marshall(eventToItem(event), { removeUndefinedValues: true }) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
    },
  };
}

const topicPublishes = () => sns.commandCalls(PublishCommand).filter((c) => c.args[0].input.TopicArn !== undefined);
const smsPublishes = () => sns.commandCalls(PublishCommand).filter((c) => c.args[0].input.PhoneNumber !== undefined);

async function run<T>(accountId: string, build: (now: Date) => T): Promise<void> {
  await handleCommand({ accountId, command: build as never, respond: () => ({ statusCode: 200, body: {} }) });
}

/** A free account (100 credits, reset 26 Dec 10:00) that spends `credits` on standard images (4 credits each). */
async function freeAccountThatSpent(contact: Contact, ...spends: number[]): Promise<{ accountId: string; warnings: LedgerEvent[] }> {
  const accountId = `warn-${Math.random().toString(36).slice(2, 10)}`;
  clock.set(new Date('2026-11-26T10:00:00.000Z'));
  await run(accountId, (now) => ({ type: 'OpenAccount', accountId, now, plan: 'free', contact }));
  for (const credits of spends) {
    clock.advance(60_000);
    await run(accountId, (now) => ({ type: 'RecordUsage', accountId, now, usage: { feature: 'image', quality: 'standard', units: credits / 4 } }));
  }
  const warnings = (await readEvents(accountId, 1)).filter((e) => e.type === 'ThresholdCrossed');
  return { accountId, warnings };
}

describe('a warning is published to the alerts topic and texted to the phone', () => {
  it('given a free account with email and phone at 4 credits after crossing 5%, then one topic publish with its attributes and one SMS to its phone, with words a person understands', async () => {
    const { accountId, warnings } = await freeAccountThatSpent({ email: 'ops@acme.test', phone: '+14155550123' }, 84, 12);
    expect(warnings.map((w) => w.type === 'ThresholdCrossed' && w.data.threshold)).toEqual([20, 5]);
    const fivePercent = warnings[1] as LedgerEvent;

    const result = await handler({ Records: [record(fivePercent)] }, context);

    expect(result.batchItemFailures).toEqual([]);
    const text = 'You have 4 credits left, below 5% of your 100 monthly credits. Buy a pack or wait for your reset on 26 Dec.';
    expect(topicPublishes().map((c) => c.args[0].input)).toEqual([
      {
        TopicArn: TOPIC,
        Subject: 'CleverAI: your credits are below 5%',
        Message: text,
        MessageAttributes: {
          accountId: { DataType: 'String', StringValue: accountId },
          threshold: { DataType: 'Number', StringValue: '5' },
          plan: { DataType: 'String', StringValue: 'free' },
          eventVersion: { DataType: 'Number', StringValue: String(fivePercent.version) },
          email: { DataType: 'String', StringValue: 'ops@acme.test' },
        },
      },
    ]);
    expect(smsPublishes().map((c) => c.args[0].input)).toEqual([
      {
        PhoneNumber: '+14155550123',
        Message: `CleverAI: ${text}`,
        MessageAttributes: {
          'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' },
          accountId: { DataType: 'String', StringValue: accountId },
          threshold: { DataType: 'Number', StringValue: '5' },
          eventVersion: { DataType: 'Number', StringValue: String(fivePercent.version) },
        },
      },
    ]);
  });

  it('given an account without a phone, then the warning is published to the topic only, without an email attribute when there is no address', async () => {
    const { warnings } = await freeAccountThatSpent({}, 84);

    await handler({ Records: [record(warnings[0] as LedgerEvent)] }, context);

    expect(topicPublishes()).toHaveLength(1);
    expect(topicPublishes()[0]?.args[0].input.MessageAttributes).not.toHaveProperty('email');
    expect(smsPublishes()).toHaveLength(0);
  });

  it('given the phone changed after the debit and before delivery, then the SMS goes to the number the account has now', async () => {
    const { accountId, warnings } = await freeAccountThatSpent({ phone: '+14155550123' }, 84);
    await run(accountId, (now) => ({ type: 'UpdateContact', accountId, now, contact: { phone: '+447700900123' } }));

    await handler({ Records: [record(warnings[0] as LedgerEvent)] }, context);

    expect(smsPublishes().map((c) => c.args[0].input.PhoneNumber)).toEqual(['+447700900123']);
  });

  it('given events that are not warnings (usage, grants), then nothing is published', async () => {
    const { accountId } = await freeAccountThatSpent({ phone: '+14155550123' }, 8);
    const others = (await readEvents(accountId, 1)).filter((e) => e.type !== 'AccountOpened');

    const result = await handler({ Records: others.map(record) }, context);

    expect(result.batchItemFailures).toEqual([]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });
});

describe('once, never twice, never lost', () => {
  it('given the same ThresholdCrossed record is delivered three times, then each channel gets one message', async () => {
    const { warnings } = await freeAccountThatSpent({ email: 'ops@acme.test', phone: '+14155550123' }, 84);
    const warning = warnings[0] as LedgerEvent;

    await handler({ Records: [record(warning), record(warning)] }, context);
    const again = await handler({ Records: [record(warning)] }, context);

    expect(again.batchItemFailures).toEqual([]);
    expect(topicPublishes()).toHaveLength(1);
    expect(smsPublishes()).toHaveLength(1);
  });

  it('given SNS throttles the topic publish once, then the record is reported failed, and its retry sends one message per channel', async () => {
    const { warnings } = await freeAccountThatSpent({ phone: '+14155550123' }, 84);
    sns
      .on(PublishCommand, { TopicArn: TOPIC })
      .rejectsOnce(new ThrottledException({ message: 'Rate exceeded', $metadata: {} }))
      .resolves({ MessageId: 'topic-message' });
    const warningRecord = record(warnings[0] as LedgerEvent);

    const first = await handler({ Records: [warningRecord] }, context);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: warningRecord.dynamodb?.SequenceNumber }]);
    expect(smsPublishes()).toHaveLength(0);

    const retry = await handler({ Records: [warningRecord] }, context);
    expect(retry.batchItemFailures).toEqual([]);
    expect(topicPublishes()).toHaveLength(2); // the throttled attempt and the one that went through
    expect(smsPublishes()).toHaveLength(1);

    await handler({ Records: [warningRecord] }, context);
    expect(topicPublishes()).toHaveLength(2);
    expect(smsPublishes()).toHaveLength(1);
  });

  it('given the SMS fails after the topic publish went through, then the retry sends the SMS only', async () => {
    const { accountId, warnings } = await freeAccountThatSpent({ phone: '+14155550123' }, 84);
    sns
      .on(PublishCommand, { PhoneNumber: '+14155550123' })
      .rejectsOnce(new ThrottledException({ message: 'Rate exceeded', $metadata: {} }))
      .resolves({ MessageId: 'sms-message' });
    const warning = warnings[0] as LedgerEvent;
    const warningRecord = record(warning);

    expect((await handler({ Records: [warningRecord] }, context)).batchItemFailures).toHaveLength(1);
    expect(await readDelivery({ accountId, version: warning.version, channel: 'sms' })).toMatchObject({ status: 'failed' });
    expect((await handler({ Records: [warningRecord] }, context)).batchItemFailures).toEqual([]);

    expect(topicPublishes()).toHaveLength(1);
    expect(smsPublishes()).toHaveLength(2);
    expect(await readDelivery({ accountId, version: warning.version, channel: 'sms' })).toMatchObject({ status: 'done', outcome: 'sent', reference: 'sms-message' });
  });

  it('given another worker holds a live claim on the delivery, then nothing is sent and the record fails; once the claim lapses, the retry sends it', async () => {
    const { accountId, warnings } = await freeAccountThatSpent({}, 84);
    const warning = warnings[0] as LedgerEvent;
    const key = { pk: accountPartition(accountId), sk: deliverySortKey('topic', warning.version) };
    await documentClient().send(
      new UpdateCommand({
        TableName: ledgerTableName(),
        Key: key,
        UpdateExpression: 'SET #status = :inProgress, leaseUntil = :later, claimToken = :other, kind = :kind',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':inProgress': 'in_progress', ':later': Date.now() + 600_000, ':other': 'another-worker', ':kind': 'delivery' },
      }),
    );
    const warningRecord = record(warning);

    expect((await handler({ Records: [warningRecord] }, context)).batchItemFailures).toHaveLength(1);
    expect(topicPublishes()).toHaveLength(0);

    await documentClient().send(
      new UpdateCommand({ TableName: ledgerTableName(), Key: key, UpdateExpression: 'SET leaseUntil = :past', ExpressionAttributeValues: { ':past': Date.now() - 1 } }),
    );
    expect((await handler({ Records: [warningRecord] }, context)).batchItemFailures).toEqual([]);
    expect(topicPublishes()).toHaveLength(1);
  });

  it('given the phone has opted out of SMS, then that is recorded as declined and the record is not retried for it', async () => {
    const { accountId, warnings } = await freeAccountThatSpent({ phone: '+14155550123' }, 84);
    sns.on(PublishCommand, { PhoneNumber: '+14155550123' }).rejects(new OptedOutException({ message: 'opted out', $metadata: {} }));
    const warning = warnings[0] as LedgerEvent;

    const result = await handler({ Records: [record(warning)] }, context);
    await handler({ Records: [record(warning)] }, context);

    expect(result.batchItemFailures).toEqual([]);
    expect(smsPublishes()).toHaveLength(1);
    expect(await readDelivery({ accountId, version: warning.version, channel: 'sms' })).toMatchObject({ status: 'done', outcome: 'declined' });
  });
});

describe('email addresses are subscribed before any warning', () => {
  it('given an account opened with an email address, then the address is subscribed to the alerts topic once, filtered on itself, however often the record comes', async () => {
    const { accountId } = await freeAccountThatSpent({ email: 'ops@acme.test' });
    const [opened] = await readEvents(accountId, 1);

    await handler({ Records: [record(opened as LedgerEvent)] }, context);
    await handler({ Records: [record(opened as LedgerEvent)] }, context);

    expect(sns.commandCalls(SubscribeCommand).map((c) => c.args[0].input)).toEqual([
      {
        TopicArn: TOPIC,
        Protocol: 'email',
        Endpoint: 'ops@acme.test',
        Attributes: { FilterPolicy: '{"email":["ops@acme.test"]}', FilterPolicyScope: 'MessageAttributes' },
        ReturnSubscriptionArn: true,
      },
    ]);
  });

  it('given the address was replaced before the record was processed, then the old address is not subscribed and the new one is, from its own event', async () => {
    const { accountId } = await freeAccountThatSpent({ email: 'old@acme.test' });
    await run(accountId, (now) => ({ type: 'UpdateContact', accountId, now, contact: { email: 'new@acme.test' } }));
    const events = await readEvents(accountId, 1);

    const result = await handler({ Records: events.map(record) }, context);

    expect(result.batchItemFailures).toEqual([]);
    expect(sns.commandCalls(SubscribeCommand).map((c) => c.args[0].input.Endpoint)).toEqual(['new@acme.test']);
  });
});
