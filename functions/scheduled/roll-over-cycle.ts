import { Logger } from '@aws-lambda-powertools/logger';
import { AccountNotFoundError } from '../../domain/index.js';
import { handleCommand } from '../lib/handle-command.js';
import { rollOverInputSchema, type RollOverInput } from '../lib/schedules.js';

/**
 * The target of each cycle's one-time schedule: applies the rollovers due now (RollOverCycles at the clock's
 * now). Idempotent per cycle by construction: the domain rolls over only boundaries that have passed and are not
 * yet in the ledger, so a duplicate fire, or a late one after a command already rolled the cycle lazily, appends
 * nothing, and a missing fire is made up by the next fire or command (one grant per cycle, never skipped).
 */

const logger = new Logger({ serviceName: 'credits-ledger' });

export type RollOverOutcome =
  /** The fire applied the rollover: `events` appended (expiry, plan change, grant per boundary). */
  | { status: 'rolled-over'; accountId: string; cycle: number; events: number }
  /** Someone got there first (a command's lazy rollover, an earlier fire): nothing appended. */
  | { status: 'already-rolled-over'; accountId: string; cycle: number }
  | { status: 'account-not-found'; accountId: string };

/**
 * The schedule fired although the cycle it names has not ended by this function's clock (clock skew between
 * Scheduler and Lambda, at most a moment). Failing makes Lambda's asynchronous retry fire it again shortly,
 * instead of leaving an idle account with no rollover and no next schedule.
 */
export class RolloverNotDueError extends Error {
  override readonly name = 'RolloverNotDueError';
  constructor(
    readonly accountId: string,
    readonly cycle: number,
    readonly cycleEnd: string,
    readonly now: string,
  ) {
    super(`Cycle ${cycle} of account "${accountId}" ends at ${cycleEnd}, after now (${now}); nothing to roll over yet.`);
  }
}

export async function rollOverCycle(input: RollOverInput): Promise<RollOverOutcome> {
  const { accountId, cycle } = input;
  const decided: { after?: { cycle: number; cycleEnd: string; events: number; now: Date } } = {};
  try {
    await handleCommand({
      accountId,
      command: (now) => ({ type: 'RollOverCycles', accountId, now }),
      respond: ({ events, state, now }) => {
        decided.after = { cycle: state.cycle, cycleEnd: state.cycleEnd, events: events.length, now };
        return { statusCode: 200, body: { accountId, cycle: state.cycle, appended: events.length } };
      },
    });
  } catch (error) {
    if (error instanceof AccountNotFoundError) return { status: 'account-not-found', accountId };
    throw error;
  }
  const { after } = decided;
  if (after === undefined) throw new Error('the command path returned without deciding'); // respond runs on every decided attempt
  if (after.cycle <= cycle) throw new RolloverNotDueError(accountId, cycle, after.cycleEnd, after.now.toISOString());
  return after.events > 0 ? { status: 'rolled-over', accountId, cycle, events: after.events } : { status: 'already-rolled-over', accountId, cycle };
}

/** Invoked by EventBridge Scheduler (asynchronously) with the schedule's input `{accountId, cycle}`. */
export const handler = async (event: unknown): Promise<RollOverOutcome> => {
  const input = rollOverInputSchema.parse(event);
  const outcome = await rollOverCycle(input);
  logger.info('Cycle rollover fired', { ...outcome });
  return outcome;
};
