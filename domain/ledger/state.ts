import type { Millicredits } from '../money.js';
import { THRESHOLDS, type Contact, type LedgerEvent, type Threshold } from './events.js';

/** A purchased (or positively adjusted) lot: never expires, drawn first in, first out. */
export interface Lot {
  lotId: string;
  credited: Millicredits;
  remaining: Millicredits;
  priceUsdCents: number;
}

/**
 * The fold of an account's events. It is plain JSON (times are ISO strings) so the store can cache it in the
 * account's head item; it is never a second truth: folding the events again gives the same value.
 */
export interface AccountState {
  accountId: string;
  /** 0 until the account is opened. */
  version: number;
  opened: null | { plan: string; contact: Contact; cycleAnchor: string; anchorRequested: boolean };
  plan: string;
  /** A downgrade waiting for the next cycle start. */
  pendingPlan: string | null;
  contact: Contact;
  unlimited: boolean;
  /** Cycle boundaries are counted from `anchor`, whose cycle number is `anchorCycle` (an upgrade re-anchors). */
  anchor: string;
  anchorCycle: number;
  cycle: number;
  cycleStart: string;
  cycleEnd: string;
  monthly: { allocation: Millicredits; remaining: Millicredits };
  lots: Lot[];
  /** Thresholds that have fired and not been re-armed since. */
  warned: Threshold[];
  /**
   * The payments credited so far, so a purchase is applied once per payment. A list rather than a map keyed by the
   * reference: a reference is the caller's text, and text such as `constructor` is no safe object key once the
   * state is stored (the DynamoDB marshaller reads it as the object's own constructor).
   */
  paymentRefs: Array<{ paymentRef: string; pack: string }>;
}

export function initialState(accountId: string): AccountState {
  return {
    accountId,
    version: 0,
    opened: null,
    plan: '',
    pendingPlan: null,
    contact: {},
    unlimited: false,
    anchor: '',
    anchorCycle: 0,
    cycle: 0,
    cycleStart: '',
    cycleEnd: '',
    monthly: { allocation: 0, remaining: 0 },
    lots: [],
    warned: [],
    paymentRefs: [],
  };
}

export function purchasedRemaining(state: AccountState): Millicredits {
  return state.lots.reduce((sum, lot) => sum + lot.remaining, 0);
}

export function availableBalance(state: AccountState): Millicredits {
  return state.monthly.remaining + purchasedRemaining(state);
}

/** Strictly below t% of the allocation, in integers: balance × 100 < allocation × t. */
export function isBelowThreshold(balance: Millicredits, allocation: Millicredits, threshold: Threshold): boolean {
  return balance * 100 < allocation * threshold;
}

/** A threshold is re-armed once the balance is back to or above it. */
function rearm(state: AccountState): AccountState {
  const balance = availableBalance(state);
  const warned = state.warned.filter((t) => isBelowThreshold(balance, state.monthly.allocation, t));
  return warned.length === state.warned.length ? state : { ...state, warned };
}

function drawLots(lots: Lot[], draws: ReadonlyArray<{ lotId: string; amount: Millicredits }>): Lot[] {
  const byId = new Map(draws.map((d) => [d.lotId, d.amount]));
  return lots
    .map((lot) => (byId.has(lot.lotId) ? { ...lot, remaining: lot.remaining - (byId.get(lot.lotId) ?? 0) } : lot))
    .filter((lot) => lot.remaining > 0);
}

/**
 * Applies one event. Pure, total over the event union; versions must follow on without gaps. Each case builds the
 * next state in one copy of the previous one (the same keys in the same order; untouched parts are shared, never
 * mutated).
 */
export function evolve(state: AccountState, event: LedgerEvent): AccountState {
  if (event.version !== state.version + 1) {
    throw new Error(`event version ${event.version} does not follow ${state.version} for account ${state.accountId}`);
  }
  const version = event.version;
  switch (event.type) {
    case 'AccountOpened': {
      const { plan, contact, cycleAnchor, anchorRequested } = event.data;
      return {
        ...state,
        version,
        accountId: event.accountId,
        opened: { plan, contact, cycleAnchor, anchorRequested },
        plan,
        contact,
        anchor: cycleAnchor,
        anchorCycle: 0,
      };
    }
    case 'Granted': {
      const d = event.data;
      const granted: AccountState = {
        ...state,
        version,
        plan: d.plan,
        unlimited: d.unlimited,
        cycle: d.cycle,
        cycleStart: d.cycleStart,
        cycleEnd: d.cycleEnd,
        monthly: { allocation: d.credits, remaining: d.credits },
      };
      return rearm(granted);
    }
    case 'Debited': {
      const { split } = event.data;
      return {
        ...state,
        version,
        monthly: { ...state.monthly, remaining: state.monthly.remaining - split.monthly },
        lots: split.lots.length === 0 ? state.lots : drawLots(state.lots, split.lots),
      };
    }
    case 'Credited': {
      const d = event.data;
      const lot: Lot = { lotId: d.lotId, credited: d.amount, remaining: d.amount, priceUsdCents: d.priceUsdCents };
      const credited: AccountState = {
        ...state,
        version,
        lots: d.amount > 0 ? [...state.lots, lot] : state.lots,
        paymentRefs:
          d.paymentRef === undefined || d.pack === undefined
            ? state.paymentRefs
            : [...state.paymentRefs, { paymentRef: d.paymentRef, pack: d.pack }],
      };
      return rearm(credited);
    }
    case 'Expired':
      return { ...state, version, monthly: { ...state.monthly, remaining: state.monthly.remaining - event.data.amount } };
    case 'PlanChanged': {
      const d = event.data;
      if (d.status === 'scheduled') return { ...state, version, pendingPlan: d.to };
      if (d.status === 'cancelled') return { ...state, version, pendingPlan: null };
      // Applied: the plan itself moves with the Granted that follows; an upgrade re-anchors the cycle calendar now.
      return d.startsNewCycle
        ? { ...state, version, pendingPlan: null, anchor: d.effectiveAt, anchorCycle: state.cycle + 1 }
        : { ...state, version, pendingPlan: null };
    }
    case 'ThresholdCrossed': {
      const warned = THRESHOLDS.filter((t) => state.warned.includes(t) || event.data.crossed.includes(t));
      return { ...state, version, warned };
    }
    case 'ContactUpdated':
      return { ...state, version, contact: event.data.contact };
  }
}

export function fold(accountId: string, events: Iterable<LedgerEvent>, from: AccountState = initialState(accountId)): AccountState {
  let state = from;
  for (const event of events) state = evolve(state, event);
  return state;
}
