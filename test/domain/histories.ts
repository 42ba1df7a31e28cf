import fc from 'fast-check';
import {
  availableBalance,
  DomainError,
  decide,
  MAX_QUANTITY,
  stateAt,
  evolve,
  initialState,
  type AccountState,
  type Command,
  type Contact,
  type LedgerEvent,
  type UsageInput,
} from '../../domain/index.js';

/**
 * Random account histories for the property tests: an opening on any plan (with or without an anchor in the
 * past, month ends included), then up to 40 commands of every kind, valid and invalid, separated by clock jumps
 * from nothing to several months, some landing exactly on a cycle boundary or a millisecond either side of it.
 */

export const ACCOUNT = 'acme';
const DAY = 86_400_000;

type Wait = { kind: 'wait'; ms: number } | { kind: 'toBoundary'; offsetMs: number };

type Action =
  | { type: 'usage'; usage: Omit<UsageInput, 'occurredAt'>; occurredOffsetMs: number | null }
  /** Usage costing a share (in ‰) of what the account holds at that moment: runs balances down to the thresholds and to zero. */
  | { type: 'spendShare'; permille: number }
  /** Usage leaving exactly `leave` mc (one millicredit, exactly a threshold, …): the edges where rounding bugs hide. */
  | { type: 'spendDownTo'; leave: number }
  | { type: 'purchase'; pack: string; paymentRef: string }
  | { type: 'changePlan'; plan: string }
  | { type: 'adjust'; amount: number; reason: string }
  | { type: 'rollover' }
  | { type: 'contact'; contact: Contact }
  | { type: 'reopen'; plan: string | null };

export interface Step {
  wait: Wait;
  action: Action;
}

export interface History {
  plan: string;
  contact: Contact;
  /** The anchor asked for at opening, or null for the default (the opening moment). */
  anchor: Date | null;
  openAt: Date;
  steps: Step[];
}

const waitArb: fc.Arbitrary<Wait> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Wait>({ kind: 'wait', ms: 0 }) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 3_600_000 }).map((ms): Wait => ({ kind: 'wait', ms })) },
  { weight: 3, arbitrary: fc.integer({ min: 3_600_000, max: 5 * DAY }).map((ms): Wait => ({ kind: 'wait', ms })) },
  { weight: 1, arbitrary: fc.integer({ min: 20 * DAY, max: 95 * DAY }).map((ms): Wait => ({ kind: 'wait', ms })) },
  { weight: 2, arbitrary: fc.constantFrom(-1, 0, 1, 1000).map((offsetMs): Wait => ({ kind: 'toBoundary', offsetMs })) },
);

// Small, medium and large records, so free (100 credits) and pro (5,000) accounts both run low and get refused.
const tokens = fc.option(
  fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 200_000 })),
  { nil: undefined },
);

const usageArb: fc.Arbitrary<Action> = fc
  .record({
    usage: fc.oneof(
      { weight: 6, arbitrary: fc.record({ feature: fc.constantFrom('chat', 'chatbot'), model: fc.constantFrom('mini', 'standard', 'advanced'), inputTokens: tokens, outputTokens: tokens }) },
      { weight: 3, arbitrary: fc.record({ feature: fc.constant('image'), quality: fc.constantFrom('standard', 'hd'), units: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }) }) },
      // Refused: an unknown model or feature.
      { weight: 1, arbitrary: fc.record({ feature: fc.constantFrom('chat', 'video'), model: fc.constant('gigantic'), inputTokens: fc.constant(10) }) },
    ),
    // null: now · negative: earlier · up to 6 minutes ahead (beyond 5 is refused).
    occurredOffsetMs: fc.oneof(fc.constant(null), fc.integer({ min: -30 * DAY, max: 6 * 60_000 })),
  })
  .map(({ usage, occurredOffsetMs }): Action => {
    const clean = Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== undefined)) as Omit<UsageInput, 'occurredAt'>;
    return { type: 'usage', usage: clean, occurredOffsetMs };
  });

const contacts: Contact[] = [{}, { email: 'ops@acme.test' }, { phone: '+14155550123' }, { email: 'billing@acme.test', phone: '+442071838750' }];

const spendShareArb: fc.Arbitrary<Action> = fc
  .oneof(fc.integer({ min: 0, max: 1100 }), fc.constantFrom(800, 950, 1000, 1001))
  .map((permille): Action => ({ type: 'spendShare', permille }));

const spendDownToArb: fc.Arbitrary<Action> = fc
  .constantFrom(0, 1, 2, 4999, 5000, 5001, 19_999, 20_000, 20_001, 250_000, 1_000_000)
  .map((leave): Action => ({ type: 'spendDownTo', leave }));

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 7, arbitrary: usageArb },
  { weight: 4, arbitrary: spendShareArb },
  { weight: 2, arbitrary: spendDownToArb },
  {
    weight: 3,
    arbitrary: fc
      .record({ pack: fc.constantFrom('pack_1000', 'pack_5000', 'pack_1000', 'pack_9000'), paymentRef: fc.constantFrom('pay-1', 'pay-2', 'pay-3', 'pay-4', 'constructor') })
      .map(({ pack, paymentRef }): Action => ({ type: 'purchase', pack, paymentRef })),
  },
  { weight: 2, arbitrary: fc.constantFrom('free', 'pro', 'custom', 'free', 'pro', 'gold').map((plan): Action => ({ type: 'changePlan', plan })) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        amount: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: -300_000, max: 300_000 }) }, { weight: 1, arbitrary: fc.constant(0) }),
        reason: fc.constantFrom('goodwill', 'correction', ' '),
      })
      .map(({ amount, reason }): Action => ({ type: 'adjust', amount, reason })),
  },
  { weight: 2, arbitrary: fc.constant<Action>({ type: 'rollover' }) },
  { weight: 1, arbitrary: fc.constantFrom(...contacts).map((contact): Action => ({ type: 'contact', contact })) },
  { weight: 1, arbitrary: fc.constantFrom(null, 'free', 'pro').map((plan): Action => ({ type: 'reopen', plan })) },
);

const MONTH_ENDS = ['2025-01-31T10:00:00.000Z', '2024-02-29T23:59:59.999Z', '2025-03-31T00:00:00.000Z', '2025-08-30T12:00:00.000Z'].map((d) => new Date(d));

export const historyArb: fc.Arbitrary<History> = fc
  .record({
    plan: fc.constantFrom('free', 'pro', 'custom'),
    contact: fc.constantFrom(...contacts),
    base: fc.oneof(
      fc.date({ min: new Date('2024-01-01T00:00:00.000Z'), max: new Date('2030-01-01T00:00:00.000Z'), noInvalidDate: true }),
      fc.constantFrom(...MONTH_ENDS),
    ),
    anchorMode: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 400 * DAY })),
    // size 'max': lengths spread over 0..40 rather than fast-check's small default, so histories live long enough
    // to run low, warn, buy, change plan and cross several cycles.
    steps: fc.array(fc.record({ wait: waitArb, action: actionArb }), { maxLength: 40, size: 'max' }),
  })
  .map(({ plan, contact, base, anchorMode, steps }): History => ({
    plan,
    contact,
    anchor: anchorMode === null ? null : base,
    openAt: anchorMode === null ? base : new Date(base.getTime() + anchorMode),
    steps,
  }));

export interface StepResult {
  command: Command;
  before: AccountState;
  /** The events appended, or the domain error that refused the command (nothing appended). */
  outcome: { events: LedgerEvent[] } | { error: DomainError };
  after: AccountState;
}

export interface Run {
  steps: StepResult[];
  /** Every event appended, in order: the account's whole ledger. */
  events: LedgerEvent[];
  state: AccountState;
  /** The `now` of the last command. */
  now: Date;
}

function commandOf(history: History, action: Action, now: Date, state: AccountState): Command {
  const base = { accountId: ACCOUNT, now };
  switch (action.type) {
    case 'spendShare': {
      // chat/mini costs 0.5 mc per token: 2 tokens per millicredit of the share (of the balance after any rollover).
      const share = Math.floor((availableBalance(stateAt(state, now)) * action.permille) / 1000);
      return { ...base, type: 'RecordUsage', usage: { feature: 'chat', model: 'mini', inputTokens: Math.min(2 * share, MAX_QUANTITY) } };
    }
    case 'spendDownTo': {
      const charge = Math.max(0, availableBalance(stateAt(state, now)) - action.leave);
      return { ...base, type: 'RecordUsage', usage: { feature: 'chat', model: 'mini', inputTokens: Math.min(2 * charge, MAX_QUANTITY) } };
    }
    case 'usage': {
      const usage: UsageInput = { ...action.usage };
      if (action.occurredOffsetMs !== null) usage.occurredAt = new Date(now.getTime() + action.occurredOffsetMs);
      return { ...base, type: 'RecordUsage', usage };
    }
    case 'purchase':
      return { ...base, type: 'PurchasePack', pack: action.pack, paymentRef: action.paymentRef };
    case 'changePlan':
      return { ...base, type: 'ChangePlan', plan: action.plan };
    case 'adjust':
      return { ...base, type: 'AdjustCredits', amount: action.amount, reason: action.reason };
    case 'rollover':
      return { ...base, type: 'RollOverCycles' };
    case 'contact':
      return { ...base, type: 'UpdateContact', contact: action.contact };
    case 'reopen':
      return {
        ...base,
        type: 'OpenAccount',
        plan: action.plan ?? history.plan,
        contact: history.contact,
        ...(history.anchor === null ? {} : { cycleAnchor: history.anchor }),
      };
  }
}

/** Runs a history through the decider. A DomainError refuses a command; any other error fails the property. */
export function simulate(history: History): Run {
  let state = initialState(ACCOUNT);
  let now = history.openAt;
  const steps: StepResult[] = [];
  const events: LedgerEvent[] = [];

  const apply = (command: Command): void => {
    const before = state;
    let outcome: StepResult['outcome'];
    try {
      outcome = { events: decide(command, before) };
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      outcome = { error };
    }
    if ('events' in outcome) {
      for (const event of outcome.events) state = evolve(state, event);
      events.push(...outcome.events);
    }
    steps.push({ command, before, outcome, after: state });
  };

  apply({
    type: 'OpenAccount',
    accountId: ACCOUNT,
    now,
    plan: history.plan,
    contact: history.contact,
    ...(history.anchor === null ? {} : { cycleAnchor: history.anchor }),
  });
  for (const step of history.steps) {
    if (step.wait.kind === 'wait') now = new Date(now.getTime() + step.wait.ms);
    else now = new Date(Math.max(now.getTime(), Date.parse(state.cycleEnd) + step.wait.offsetMs));
    apply(commandOf(history, step.action, now, state));
  }
  return { steps, events, state, now };
}

/** 1,000 histories per property, as the issue asks; a failure prints the seed and the shrunk history. */
export const PROPERTY_RUNS = { numRuns: 1000 } as const;
