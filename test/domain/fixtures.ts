import {
  availableBalance,
  execute,
  initialState,
  MILLICREDITS_PER_CREDIT,
  type AccountState,
  type Command,
  type Contact,
  type LedgerEvent,
  type Millicredits,
} from '../../domain/index.js';

/** Builders for commands and histories, so specs read as rules rather than as object literals. */

export const ACCOUNT = 'acme';

/** A fixed opening moment (the SPEC's examples use this day). Tests move time explicitly, never by the clock. */
export const T0 = new Date('2026-11-26T10:00:00.000Z');

export const at = (iso: string): Date => new Date(iso);
export const plusMs = (d: Date, ms: number): Date => new Date(d.getTime() + ms);
export const plusMinutes = (d: Date, minutes: number): Date => plusMs(d, minutes * 60_000);
export const plusDays = (d: Date, days: number): Date => plusMs(d, days * 86_400_000);

export const mc = (credits: number): Millicredits => Math.round(credits * MILLICREDITS_PER_CREDIT);

export function open(plan: string, now: Date = T0, extra: { contact?: Contact; cycleAnchor?: Date } = {}): Command {
  return { type: 'OpenAccount', accountId: ACCOUNT, now, plan, ...extra };
}

/**
 * Usage costing exactly `credits`: chat/mini is 0.5 mc per token, so 2 tokens per millicredit, with no rounding.
 */
export function spend(credits: number, now: Date): Command {
  return { type: 'RecordUsage', accountId: ACCOUNT, now, usage: { feature: 'chat', model: 'mini', inputTokens: 2 * mc(credits) } };
}

export function usage(now: Date, record: Omit<Extract<Command, { type: 'RecordUsage' }>['usage'], 'occurredAt'> & { occurredAt?: Date }): Command {
  return { type: 'RecordUsage', accountId: ACCOUNT, now, usage: record };
}

export const buy = (pack: string, paymentRef: string, now: Date): Command => ({ type: 'PurchasePack', accountId: ACCOUNT, now, pack, paymentRef });
export const adjust = (credits: number, reason: string, now: Date): Command => ({
  type: 'AdjustCredits',
  accountId: ACCOUNT,
  now,
  amount: mc(credits),
  reason,
});
export const changePlan = (plan: string, now: Date): Command => ({ type: 'ChangePlan', accountId: ACCOUNT, now, plan });
export const rollOver = (now: Date): Command => ({ type: 'RollOverCycles', accountId: ACCOUNT, now });
export const setContact = (contact: Contact, now: Date): Command => ({ type: 'UpdateContact', accountId: ACCOUNT, now, contact });

/** The ledger that results from running these commands in order (each must be accepted). */
export function history(...commands: Command[]): LedgerEvent[] {
  let state = initialState(ACCOUNT);
  const events: LedgerEvent[] = [];
  for (const command of commands) {
    const result = execute(command, state);
    state = result.state;
    events.push(...result.events);
  }
  return events;
}

export const balanceOf = (state: AccountState): number => availableBalance(state) / MILLICREDITS_PER_CREDIT;
