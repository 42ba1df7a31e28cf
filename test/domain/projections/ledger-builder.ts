import { DomainError, execute, initialState, type AccountState, type Command, type LedgerEvent, type UsageInput } from '../../../domain/index.js';

/**
 * Builds ledgers for projection specs by running commands through the real decider, account by account, so
 * every event a spec projects is one the command side could have appended.
 */
export class LedgerBuilder {
  private readonly states = new Map<string, AccountState>();
  readonly events: LedgerEvent[] = [];

  /** Runs a command; a refused command throws (specs state what they expect to happen). */
  run(command: Command): LedgerEvent[] {
    const before = this.states.get(command.accountId) ?? initialState(command.accountId);
    const { events, state } = execute(command, before);
    this.states.set(command.accountId, state);
    this.events.push(...events);
    return events;
  }

  /** Runs a command that may be refused by a business rule (random workloads); true when it was accepted. */
  tryRun(command: Command): boolean {
    try {
      this.run(command);
      return true;
    } catch (error) {
      if (error instanceof DomainError) return false;
      throw error;
    }
  }

  state(accountId: string): AccountState {
    return this.states.get(accountId) ?? initialState(accountId);
  }

  eventsOf(accountId: string): LedgerEvent[] {
    return this.events.filter((e) => e.accountId === accountId);
  }
}

export const instant = (iso: string): Date => new Date(iso);

export const openAccount = (accountId: string, plan: string, now: string): Command => ({ type: 'OpenAccount', accountId, plan, now: instant(now) });
export const buyPack = (accountId: string, pack: string, paymentRef: string, now: string): Command => ({
  type: 'PurchasePack',
  accountId,
  pack,
  paymentRef,
  now: instant(now),
});
/** Usage costing exactly `millicredits` on chat/mini (0.5 mc per token: two tokens per millicredit). */
export const spendMc = (accountId: string, millicredits: number, now: string): Command => ({
  type: 'RecordUsage',
  accountId,
  now: instant(now),
  usage: { feature: 'chat', model: 'mini', inputTokens: 2 * millicredits },
});
export const spend = (accountId: string, credits: number, now: string): Command => spendMc(accountId, Math.round(credits * 1000), now);
export const useFeature = (accountId: string, now: string, usage: Omit<UsageInput, 'occurredAt'> & { occurredAt?: string }): Command => ({
  type: 'RecordUsage',
  accountId,
  now: instant(now),
  usage: { ...usage, ...(usage.occurredAt === undefined ? {} : { occurredAt: instant(usage.occurredAt) }) } as UsageInput,
});
export const adjust = (accountId: string, credits: number, reason: string, now: string): Command => ({
  type: 'AdjustCredits',
  accountId,
  amount: Math.round(credits * 1000),
  reason,
  now: instant(now),
});
export const changePlan = (accountId: string, plan: string, now: string): Command => ({ type: 'ChangePlan', accountId, plan, now: instant(now) });
export const rollOver = (accountId: string, now: string): Command => ({ type: 'RollOverCycles', accountId, now: instant(now) });
