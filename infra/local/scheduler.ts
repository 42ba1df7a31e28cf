import {
  ConflictException,
  ResourceNotFoundException,
  SchedulerClient,
  ValidationException,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { resetConfig } from '../../functions/lib/config.js';
import { listAccountIds, loadAccount } from '../../functions/lib/event-store.js';
import { handler as rollOverHandler } from '../../functions/scheduled/roll-over-cycle.js';
import {
  cycleResetScheduleInput,
  parseAtExpression,
  resetSchedulerClientFactory,
  scheduleSettings,
  setSchedulerClientFactory,
} from '../../functions/lib/schedules.js';
import { ENV } from '../keys.js';
import type { LocalContext, LocalRoute, LocalService } from './services.js';

/**
 * The local stand-in for EventBridge Scheduler. The schedule-cycle-reset handler sends the very same
 * CreateScheduleCommand it sends in AWS, through a SchedulerClient whose transport is this service (a middleware
 * answers the command in process instead of sending it), and the service:
 * - keeps the one-time `at()` schedules, refusing a time in the past and a name taken (ConflictException), as
 *   Scheduler does;
 * - fires each one when the local clock passes it, by invoking roll-over-cycle's handler with the schedule's
 *   input, then deletes it (ActionAfterCompletion DELETE); a fire that fails is tried again, at most
 *   `maxAttempts` times (Lambda's asynchronous invocation: one try and two retries), then dead-lettered;
 * - rebuilds its schedules from the ledger at start (one per account, at the end of its current cycle), so a
 *   restart of `npm start` loses none: the ledger, not this process, is the truth.
 * `sync()` fires everything due now and says how many fires it made; a timer does the same every second, so a
 * schedule also fires when the running local clock passes it on its own.
 */

/** What the local runtime puts in the handlers' environment (the names a deployment gives them). */
export const LOCAL_SCHEDULE_ENVIRONMENT = {
  [ENV.scheduleGroup]: 'credits-cycle-resets',
  [ENV.rollOverFunctionArn]: 'arn:aws:lambda:us-east-1:000000000000:function:credits-roll-over-cycle',
  [ENV.schedulerRoleArn]: 'arn:aws:iam::000000000000:role/credits-scheduler',
  [ENV.schedulesDlqArn]: 'arn:aws:sqs:us-east-1:000000000000:credits-cycle-reset-dead-letters',
} as const;

export interface LocalSchedule {
  name: string;
  groupName: string;
  /** The `at(...)` expression as sent. */
  expression: string;
  /** When it fires (ISO, UTC). */
  at: string;
  targetArn: string;
  /** The target input, parsed: `{accountId, cycle}`. */
  input: unknown;
  /** Fires tried so far that failed. */
  attempts: number;
  lastError?: string;
}

export interface LocalSchedulerOptions {
  /** What a fire invokes. Default: roll-over-cycle's handler (the schedule's target). */
  invoke?: (input: unknown) => Promise<unknown>;
  /** How often due schedules are looked for between syncs; 0 turns the timer off. Default 1 s. */
  tickMs?: number;
  /** Tries of a failing fire before it is dead-lettered. Default 3. */
  maxAttempts?: number;
}

const DEFAULT_TICK_MS = 1000;
const DEFAULT_MAX_ATTEMPTS = 3;

export class LocalScheduler implements LocalService {
  readonly name = 'scheduler';
  readonly deadLetters: Array<LocalSchedule & { failedAt: string }> = [];
  readonly routes: readonly LocalRoute[] = [
    { method: 'GET', path: '/_local/schedules', handle: async () => ({ statusCode: 200, body: { items: this.list() } }) },
  ];

  private readonly schedules = new Map<string, LocalSchedule>();
  private readonly invoke: (input: unknown) => Promise<unknown>;
  private readonly tickMs: number;
  private readonly maxAttempts: number;
  private ctx: LocalContext | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Fires are serialized: the timer and sync() never fire the same schedule twice at once. */
  private firing: Promise<unknown> = Promise.resolve();

  constructor(options: LocalSchedulerOptions = {}) {
    this.invoke = options.invoke ?? rollOverHandler;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  async start(ctx: LocalContext): Promise<void> {
    this.ctx = ctx;
    for (const [name, value] of Object.entries(LOCAL_SCHEDULE_ENVIRONMENT)) process.env[name] ??= value;
    resetConfig();
    setSchedulerClientFactory(() => this.client(ctx.region));
    const rebuilt = await this.rebuildFromLedger();
    ctx.log(`${rebuilt} cycle reset${rebuilt === 1 ? '' : 's'} scheduled from the ledger`);
    if (this.tickMs > 0) {
      this.timer = setInterval(() => {
        this.fireDue().catch((error: unknown) => ctx.log(`firing failed: ${(error as Error).message}`));
      }, this.tickMs);
      this.timer.unref();
    }
  }

  async sync(): Promise<number> {
    return this.fireDue();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.firing.catch(() => undefined);
    resetSchedulerClientFactory();
  }

  /** The schedules waiting, soonest first. */
  list(): LocalSchedule[] {
    return [...this.schedules.values()].sort((a, b) => a.at.localeCompare(b.at) || a.name.localeCompare(b.name));
  }

  /** A Scheduler client that never leaves the process: a middleware answers each command from this service. */
  client(region = 'us-east-1'): SchedulerClient {
    const client = new SchedulerClient({ region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    client.middlewareStack.add(
      (_next, context) => async (args) => ({
        output: { ...this.handle(context.commandName ?? '', args.input as Record<string, unknown>), $metadata: { httpStatusCode: 200 } },
        response: {},
      }),
      { step: 'initialize', name: 'localSchedulerTransport', priority: 'high' },
    );
    return client;
  }

  private handle(commandName: string, input: Record<string, unknown>): Record<string, unknown> {
    if (commandName !== 'CreateScheduleCommand') {
      throw new ResourceNotFoundException({ message: `The local scheduler does not implement ${commandName}.`, Message: undefined, $metadata: {} });
    }
    const schedule = this.accept(input as unknown as CreateScheduleCommandInput);
    return { ScheduleArn: `arn:aws:scheduler:us-east-1:000000000000:schedule/${schedule.groupName}/${schedule.name}` };
  }

  /** CreateSchedule, with the checks Scheduler makes that matter here. */
  private accept(input: CreateScheduleCommandInput): LocalSchedule {
    const invalid = (message: string) => new ValidationException({ message, Message: message, $metadata: {} });
    const name = input.Name ?? '';
    const groupName = input.GroupName ?? 'default';
    const expression = input.ScheduleExpression ?? '';
    let at: Date;
    try {
      at = parseAtExpression(expression);
    } catch {
      throw invalid(`The local scheduler handles one-time at() schedules only, not "${expression}".`);
    }
    if ((input.ScheduleExpressionTimezone ?? 'UTC') !== 'UTC') throw invalid('The local scheduler evaluates schedules in UTC only.');
    if (at.getTime() <= this.now().getTime()) throw invalid(`The schedule time ${expression} is in the past.`);
    const key = `${groupName}/${name}`;
    if (this.schedules.has(key)) {
      throw new ConflictException({ message: `Schedule ${name} already exists.`, Message: `Schedule ${name} already exists.`, $metadata: {} });
    }
    const schedule = this.store(input, at);
    this.ctx?.log(`scheduled ${name} at ${schedule.at}`);
    return schedule;
  }

  private store(input: CreateScheduleCommandInput, at: Date): LocalSchedule {
    const schedule: LocalSchedule = {
      name: input.Name ?? '',
      groupName: input.GroupName ?? 'default',
      expression: input.ScheduleExpression ?? '',
      at: at.toISOString(),
      targetArn: input.Target?.Arn ?? '',
      input: JSON.parse(input.Target?.Input ?? 'null') as unknown,
      attempts: 0,
    };
    this.schedules.set(`${schedule.groupName}/${schedule.name}`, schedule);
    return schedule;
  }

  /**
   * One schedule per opened account, at the end of its current cycle, made with the same request the handler
   * makes. A cycle that ended while the runtime was stopped is due at once: the first sync rolls it over.
   */
  private async rebuildFromLedger(): Promise<number> {
    const settings = scheduleSettings();
    let count = 0;
    for await (const accountId of listAccountIds()) {
      const state = await loadAccount(accountId);
      if (state.opened === null || state.cycleEnd === '') continue;
      const input = cycleResetScheduleInput(settings, accountId, state.cycle, new Date(state.cycleEnd));
      if (this.schedules.has(`${input.GroupName}/${input.Name}`)) continue;
      this.store(input, parseAtExpression(input.ScheduleExpression ?? ''));
      count += 1;
    }
    return count;
  }

  private now(): Date {
    if (this.ctx === undefined) throw new Error('the local scheduler is not started');
    return this.ctx.clock.now();
  }

  /** Fires every schedule due by the local clock, soonest first; the number of fires made (0: nothing was due). */
  private fireDue(): Promise<number> {
    const run = this.firing.catch(() => undefined).then(() => this.fireDueNow());
    this.firing = run;
    return run;
  }

  private async fireDueNow(): Promise<number> {
    const now = this.now().getTime();
    const due = this.list().filter((s) => Date.parse(s.at) <= now);
    for (const schedule of due) {
      const key = `${schedule.groupName}/${schedule.name}`;
      try {
        const outcome = await this.invoke(schedule.input);
        this.schedules.delete(key); // ActionAfterCompletion: DELETE
        this.ctx?.log(`fired ${schedule.name}: ${JSON.stringify(outcome)}`);
      } catch (error) {
        schedule.attempts += 1;
        schedule.lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        if (schedule.attempts >= this.maxAttempts) {
          this.schedules.delete(key);
          this.deadLetters.push({ ...schedule, failedAt: new Date(now).toISOString() });
          this.ctx?.log(`${schedule.name} dead-lettered after ${schedule.attempts} failed fires: ${schedule.lastError}`);
        } else {
          this.ctx?.log(`fire of ${schedule.name} failed (${schedule.attempts}/${this.maxAttempts}): ${schedule.lastError}`);
        }
      }
    }
    return due.length;
  }
}
