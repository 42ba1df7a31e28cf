import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  SchedulerClient,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import * as z from 'zod';
import { ENV } from '../../infra/keys.js';
import { env } from './config.js';

/**
 * One-time EventBridge Scheduler schedules that roll an account's cycle over at its end. One schedule per cycle,
 * named deterministically, so creating it twice (a redelivered stream record) finds the first one: Scheduler
 * answers ConflictException, which counts as done.
 */

/** What the schedule hands the roll-over function: the account, and the cycle whose end it fires at. */
export const rollOverInputSchema = z.object({
  accountId: z.string().min(1),
  cycle: z.number().int().nonnegative(),
});
export type RollOverInput = z.infer<typeof rollOverInputSchema>;

/** Scheduler's limits on a schedule name: 1–64 characters of [0-9a-zA-Z-_.]. */
export const SCHEDULE_NAME_MAX_LENGTH = 64;
export const SCHEDULE_NAME_PATTERN = /^[0-9a-zA-Z\-_.]{1,64}$/;

/**
 * Account ids are free text of any length, so the name carries a digest of the id, not the id: 40 hex digits
 * (160 bits) make a collision between two accounts practically impossible and leave room for the cycle number
 * (`cycle-` + 40 + `-` + up to 17 digits = 64).
 */
const ACCOUNT_DIGEST_HEX_LENGTH = 40;

export function cycleScheduleName(accountId: string, cycle: number): string {
  if (!Number.isSafeInteger(cycle) || cycle < 0) throw new RangeError(`cycle must be a non-negative integer, got ${cycle}`);
  const digest = createHash('sha256').update(accountId, 'utf8').digest('hex').slice(0, ACCOUNT_DIGEST_HEX_LENGTH);
  return `cycle-${digest}-${cycle}`;
}

/**
 * `at(yyyy-mm-ddThh:mm:ss)` in UTC. Scheduler has whole seconds only; a cycle end with milliseconds is rounded
 * up, so the schedule never fires before the boundary (an early fire would find nothing due).
 */
export function atExpression(instant: Date): string {
  const seconds = Math.ceil(instant.getTime() / 1000);
  return `at(${new Date(seconds * 1000).toISOString().slice(0, 19)})`;
}

/** Parses an `at(...)` expression (UTC) back to its instant: the local scheduler reads what the handler sent. */
export function parseAtExpression(expression: string): Date {
  const match = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  if (match === null) throw new Error(`not an at() expression: ${expression}`);
  return new Date(`${match[1]}Z`);
}

/**
 * Scheduler's retry policy for a fire whose invocation fails (throttling, Lambda unavailable): the most it
 * allows, a day and 185 attempts, because a lost fire leaves an idle account unreset until its next command.
 * What still fails goes to the dead-letter queue. Errors thrown by the function itself are retried by Lambda's
 * asynchronous invocation, not by this policy.
 */
export const SCHEDULE_RETRY_POLICY = { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 } as const;

const scheduleSettingsSchema = z.object({
  [ENV.scheduleGroup]: z.string().trim().min(1),
  [ENV.rollOverFunctionArn]: z.string().trim().min(1),
  [ENV.schedulerRoleArn]: z.string().trim().min(1),
  [ENV.schedulesDlqArn]: z.string().trim().min(1),
});

export interface ScheduleSettings {
  groupName: string;
  rollOverFunctionArn: string;
  schedulerRoleArn: string;
  deadLetterQueueArn: string;
}

export function scheduleSettings(): ScheduleSettings {
  const values = env(scheduleSettingsSchema);
  return {
    groupName: values[ENV.scheduleGroup],
    rollOverFunctionArn: values[ENV.rollOverFunctionArn],
    schedulerRoleArn: values[ENV.schedulerRoleArn],
    deadLetterQueueArn: values[ENV.schedulesDlqArn],
  };
}

/** The exact CreateSchedule request for the end of an account's cycle. Pure. */
export function cycleResetScheduleInput(settings: ScheduleSettings, accountId: string, cycle: number, cycleEnd: Date): CreateScheduleCommandInput {
  const input: RollOverInput = { accountId, cycle };
  return {
    Name: cycleScheduleName(accountId, cycle),
    GroupName: settings.groupName,
    ScheduleExpression: atExpression(cycleEnd),
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'DELETE',
    State: 'ENABLED',
    Description: `Roll over cycle ${cycle} of an account at ${cycleEnd.toISOString()}`,
    Target: {
      Arn: settings.rollOverFunctionArn,
      RoleArn: settings.schedulerRoleArn,
      Input: JSON.stringify(input),
      RetryPolicy: { ...SCHEDULE_RETRY_POLICY },
      DeadLetterConfig: { Arn: settings.deadLetterQueueArn },
    },
  };
}

let factory: () => SchedulerClient = () => new SchedulerClient({});
let client: SchedulerClient | undefined;

/** The Scheduler client the handlers use: created once per cold start. */
export function schedulerClient(): SchedulerClient {
  client ??= factory();
  return client;
}

/**
 * Replaces how the Scheduler client is made: the local runtime installs a client whose transport is the local
 * scheduler, so the handler sends the very same CreateScheduleCommand it sends in AWS.
 */
export function setSchedulerClientFactory(next: () => SchedulerClient): void {
  factory = next;
  client = undefined;
}

export function resetSchedulerClientFactory(): void {
  setSchedulerClientFactory(() => new SchedulerClient({}));
}

/** Creates the schedule; an existing schedule of the same name is the same schedule, so that is done too. */
export async function createCycleResetSchedule(accountId: string, cycle: number, cycleEnd: Date): Promise<'created' | 'exists'> {
  const input = cycleResetScheduleInput(scheduleSettings(), accountId, cycle, cycleEnd);
  try {
    await schedulerClient().send(new CreateScheduleCommand(input));
    return 'created';
  } catch (error) {
    if (error instanceof ConflictException || (error as Error).name === 'ConflictException') return 'exists';
    throw error;
  }
}
