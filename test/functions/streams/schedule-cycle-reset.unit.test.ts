import { ConflictException, CreateScheduleCommand, SchedulerClient, ThrottlingException } from '@aws-sdk/client-scheduler';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../../domain/index.js';
import { ManualClock, resetClock, setClock } from '../../../functions/lib/clock.js';
import { resetConfig } from '../../../functions/lib/config.js';
import { eventToItem } from '../../../functions/lib/event-store.js';
import {
  atExpression,
  cycleScheduleName,
  parseAtExpression,
  resetSchedulerClientFactory,
  SCHEDULE_NAME_PATTERN,
} from '../../../functions/lib/schedules.js';
import { handler } from '../../../functions/streams/schedule-cycle-reset.js';
import { ENV } from '../../../infra/keys.js';

const SETTINGS = {
  [ENV.scheduleGroup]: 'credits-cycle-resets',
  [ENV.rollOverFunctionArn]: 'arn:aws:lambda:eu-west-1:123456789012:function:roll-over-cycle',
  [ENV.schedulerRoleArn]: 'arn:aws:iam::123456789012:role/scheduler-fires-roll-over',
  [ENV.schedulesDlqArn]: 'arn:aws:sqs:eu-west-1:123456789012:cycle-reset-dead-letters',
};

const scheduler = mockClient(SchedulerClient);
const context = { functionName: 'schedule-cycle-reset', awsRequestId: 'test' } as unknown as Context;

let sequence = 0;
function streamRecord(event: LedgerEvent): DynamoDBRecord {
  sequence += 1;
  return {
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      SequenceNumber: String(1000 + sequence),
      NewImage: marshall(eventToItem(event), { removeUndefinedValues: true }) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
      StreamViewType: 'NEW_IMAGE',
    },
  };
}

function granted(accountId: string, cycle: number, cycleStart: string, cycleEnd: string, version = 2): LedgerEvent {
  return {
    accountId,
    version,
    type: 'Granted',
    at: cycleStart,
    data: { cycle, plan: 'free', credits: 100_000, unlimited: false, cycleStart, cycleEnd },
  };
}

beforeEach(() => {
  scheduler.reset();
  Object.assign(process.env, SETTINGS);
  resetConfig();
  resetSchedulerClientFactory();
  setClock(new ManualClock(new Date('2026-11-26T10:00:05.000Z')));
});

afterEach(() => resetClock());
afterAll(() => scheduler.restore());

describe('a cycle that starts gets a one-time schedule at its end', () => {
  it('given a free account granted cycle 0 until 26 Dec 10:00, then the schedule fires once at that instant, UTC, and invokes the roll-over with the account and cycle', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:eu-west-1:123456789012:schedule/g/n' });

    const result = await handler(
      { Records: [streamRecord(granted('acme', 0, '2026-11-26T10:00:00.000Z', '2026-12-26T10:00:00.000Z'))] },
      context,
    );

    expect(result.batchItemFailures).toEqual([]);
    const calls = scheduler.commandCalls(CreateScheduleCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      Name: cycleScheduleName('acme', 0),
      GroupName: 'credits-cycle-resets',
      ScheduleExpression: 'at(2026-12-26T10:00:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Description: 'Roll over cycle 0 of an account at 2026-12-26T10:00:00.000Z',
      Target: {
        Arn: SETTINGS[ENV.rollOverFunctionArn],
        RoleArn: SETTINGS[ENV.schedulerRoleArn],
        Input: JSON.stringify({ accountId: 'acme', cycle: 0 }),
        RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        DeadLetterConfig: { Arn: SETTINGS[ENV.schedulesDlqArn] },
      },
    });
  });

  it('given the schedule already exists (a redelivered record), when Scheduler answers ConflictException, then the record counts as done', async () => {
    scheduler.on(CreateScheduleCommand).rejects(new ConflictException({ message: 'Schedule already exists.', Message: 'Schedule already exists.', $metadata: {} }));

    const result = await handler(
      { Records: [streamRecord(granted('acme', 0, '2026-11-26T10:00:00.000Z', '2026-12-26T10:00:00.000Z'))] },
      context,
    );

    expect(result.batchItemFailures).toEqual([]);
    expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(1);
  });

  it('given Scheduler throttles, then that record is reported failed by its sequence number and the next one is still scheduled', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejectsOnce(new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', $metadata: {} }))
      .resolves({ ScheduleArn: 'arn' });
    const first = streamRecord(granted('acme', 0, '2026-11-26T10:00:00.000Z', '2026-12-26T10:00:00.000Z'));
    const second = streamRecord(granted('globex', 0, '2026-11-26T10:00:00.000Z', '2026-12-26T10:00:00.000Z'));

    const result = await handler({ Records: [first, second] }, context);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: first.dynamodb?.SequenceNumber }]);
    expect(scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input.Name)).toEqual([
      cycleScheduleName('acme', 0),
      cycleScheduleName('globex', 0),
    ]);
  });

  it('given events that start no cycle (usage, warnings, purchases), then no schedule is created', async () => {
    const debit: LedgerEvent = {
      accountId: 'acme',
      version: 3,
      type: 'Debited',
      at: '2026-11-26T10:00:01.000Z',
      data: { reason: 'adjustment', amount: 1000, split: { monthly: 1000, purchased: 0, lots: [] }, unlimited: false, cycle: 0, note: 'x' },
    };

    const result = await handler({ Records: [streamRecord(debit)] }, context);

    expect(result.batchItemFailures).toEqual([]);
    expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
  });

  it('given a record that is not a ledger event, then it alone is reported failed', async () => {
    const broken: DynamoDBRecord = { eventName: 'INSERT', dynamodb: { SequenceNumber: '77', NewImage: { kind: { S: 'event' }, type: { S: 'Granted' } } } };

    const result = await handler({ Records: [broken] }, context);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '77' }]);
    expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
  });
});

describe('schedule names and times', () => {
  it('a name is deterministic, fits 64 characters of [0-9a-zA-Z-_.] for any account id, and differs between accounts', () => {
    const long = 'tenant/ünïcødé @ example.com '.repeat(40);
    for (const id of ['acme', long, 'a:b#c', '🙂']) {
      const name = cycleScheduleName(id, 123_456_789_012);
      expect(name).toMatch(SCHEDULE_NAME_PATTERN);
      expect(name.length).toBeLessThanOrEqual(64);
      expect(cycleScheduleName(id, 123_456_789_012)).toBe(name);
    }
    expect(cycleScheduleName('acme', 1)).not.toBe(cycleScheduleName('acme', 2));
    expect(cycleScheduleName('acme', 1)).not.toBe(cycleScheduleName('acme ', 1));
    expect(cycleScheduleName('x', Number.MAX_SAFE_INTEGER).length).toBeLessThanOrEqual(64);
  });

  it('a cycle end with milliseconds is scheduled at the next whole second, never before the boundary', () => {
    expect(atExpression(new Date('2026-12-26T10:00:00.000Z'))).toBe('at(2026-12-26T10:00:00)');
    expect(atExpression(new Date('2026-12-26T10:00:00.001Z'))).toBe('at(2026-12-26T10:00:01)');
    expect(atExpression(new Date('2026-12-31T23:59:59.500Z'))).toBe('at(2027-01-01T00:00:00)');
    expect(parseAtExpression('at(2027-01-01T00:00:00)').toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
});
