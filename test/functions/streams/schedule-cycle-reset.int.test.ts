import { CreateScheduleCommand, SchedulerClient, ValidationException } from '@aws-sdk/client-scheduler';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../../domain/index.js';
import { ManualClock, resetClock, setClock } from '../../../functions/lib/clock.js';
import { resetConfig } from '../../../functions/lib/config.js';
import { eventToItem, readEvents } from '../../../functions/lib/event-store.js';
import { handleCommand } from '../../../functions/lib/handle-command.js';
import { cycleScheduleName, resetSchedulerClientFactory } from '../../../functions/lib/schedules.js';
import { handler } from '../../../functions/streams/schedule-cycle-reset.js';
import { ENV } from '../../../infra/keys.js';
import { useTestTables } from '../../support/dynamodb.js';

/**
 * Every Granted leads to the next schedule; a Granted whose cycle has already ended when it is processed (Scheduler
 * refuses a time in the past) is rolled over on the spot, so an idle account never ends up without its reset.
 */

useTestTables();
const scheduler = mockClient(SchedulerClient);
const clock = new ManualClock();
const context = { functionName: 'schedule-cycle-reset', awsRequestId: 'test' } as unknown as Context;

beforeEach(() => {
  scheduler.reset();
  scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
  Object.assign(process.env, {
    [ENV.scheduleGroup]: 'cycle-resets',
    [ENV.rollOverFunctionArn]: 'arn:aws:lambda:eu-west-1:123456789012:function:roll-over',
    [ENV.schedulerRoleArn]: 'arn:aws:iam::123456789012:role/scheduler',
    [ENV.schedulesDlqArn]: 'arn:aws:sqs:eu-west-1:123456789012:schedules-dlq',
  });
  resetConfig();
  resetSchedulerClientFactory();
  setClock(clock);
});
afterEach(() => resetClock());
afterAll(() => scheduler.restore());

let sequence = 0;
const records = (events: LedgerEvent[]): DynamoDBRecord[] =>
  events.map((event) => {
    sequence += 1;
    return {
      eventName: 'INSERT',
      dynamodb: {
        SequenceNumber: String(sequence),
        NewImage: marshall(eventToItem(event), { removeUndefinedValues: true }) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
      },
    };
  });

async function openFreeAccount(at: string): Promise<string> {
  const accountId = `sched-${Math.random().toString(36).slice(2, 10)}`;
  clock.set(new Date(at));
  await handleCommand({
    accountId,
    command: (now) => ({ type: 'OpenAccount', accountId, now, plan: 'free' }),
    respond: () => ({ statusCode: 201, body: {} }),
  });
  return accountId;
}

const granted = (events: LedgerEvent[]) => events.filter((e) => e.type === 'Granted');
const scheduledNames = () => scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input.Name);

describe('the next schedule follows every grant', () => {
  it('given a new account processed in time, then its cycle-0 reset is scheduled and nothing is rolled over', async () => {
    const accountId = await openFreeAccount('2026-11-26T10:00:00.000Z');
    const events = await readEvents(accountId, 1);

    const result = await handler({ Records: records(events) }, context);

    expect(result.batchItemFailures).toEqual([]);
    expect(scheduledNames()).toEqual([cycleScheduleName(accountId, 0)]);
    expect(scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input.ScheduleExpression).toBe('at(2026-12-26T10:00:00)');
    expect(await readEvents(accountId, 1)).toEqual(events);
  });

  it('given the Granted is processed only after its cycle ended, then no schedule is asked for, the cycle is rolled over at once, and its new Granted gets the next schedule', async () => {
    const accountId = await openFreeAccount('2026-11-26T10:00:00.000Z');
    const opening = await readEvents(accountId, 1);
    clock.set(new Date('2026-12-26T10:00:03.000Z'));

    expect((await handler({ Records: records(opening) }, context)).batchItemFailures).toEqual([]);

    expect(scheduledNames()).toEqual([]);
    const afterRollover = await readEvents(accountId, opening.length + 1);
    expect(afterRollover.map((e) => e.type)).toEqual(['Expired', 'Granted']);

    expect((await handler({ Records: records(afterRollover) }, context)).batchItemFailures).toEqual([]);
    expect(scheduledNames()).toEqual([cycleScheduleName(accountId, 1)]);
    expect(scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input.ScheduleExpression).toBe('at(2027-01-26T10:00:00)');
  });

  it('given one command caught up three resets at once, then only the cycle still running is scheduled and the ended ones add nothing', async () => {
    const accountId = await openFreeAccount('2026-11-26T10:00:00.000Z');
    clock.set(new Date('2027-02-27T08:00:00.000Z'));
    await handleCommand({
      accountId,
      command: (now) => ({ type: 'RollOverCycles', accountId, now }),
      respond: () => ({ statusCode: 200, body: {} }),
    });
    const all = await readEvents(accountId, 1);
    expect(granted(all).map((e) => e.data.cycle)).toEqual([0, 1, 2, 3]);

    const result = await handler({ Records: records(all.slice(2)) }, context);

    expect(result.batchItemFailures).toEqual([]);
    expect(scheduledNames()).toEqual([cycleScheduleName(accountId, 3)]);
    expect(await readEvents(accountId, 1)).toEqual(all);
  });

  it('given the cycle ends while the request is on its way and Scheduler refuses the past time, then the cycle is rolled over directly', async () => {
    const accountId = await openFreeAccount('2026-11-26T10:00:00.000Z');
    const opening = await readEvents(accountId, 1);
    clock.set(new Date('2026-12-26T09:59:59.900Z'));
    scheduler.on(CreateScheduleCommand).callsFake(() => {
      clock.set(new Date('2026-12-26T10:00:00.100Z'));
      throw new ValidationException({ message: 'The schedule expression is in the past.', Message: 'The schedule expression is in the past.', $metadata: {} });
    });

    const result = await handler({ Records: records(opening) }, context);

    expect(result.batchItemFailures).toEqual([]);
    expect(granted(await readEvents(accountId, 1)).map((e) => e.data.cycle)).toEqual([0, 1]);
  });

  it('given Scheduler refuses the request as invalid while the cycle is still running, then the record fails and is retried', async () => {
    const accountId = await openFreeAccount('2026-11-26T10:00:00.000Z');
    const [, grant] = await readEvents(accountId, 1);
    scheduler.on(CreateScheduleCommand).rejects(new ValidationException({ message: 'Invalid role', Message: 'Invalid role', $metadata: {} }));

    const [record] = records([grant as LedgerEvent]);
    const result = await handler({ Records: [record as DynamoDBRecord] }, context);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: record?.dynamodb?.SequenceNumber }]);
    expect(granted(await readEvents(accountId, 1)).map((e) => e.data.cycle)).toEqual([0]);
  });
});
