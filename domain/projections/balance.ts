import type { Catalog } from '../catalog/catalog.js';
import { stateAt } from '../ledger/decide.js';
import type { LedgerEvent } from '../ledger/events.js';
import { initialState, type AccountState } from '../ledger/state.js';
import type { Millicredits } from '../money.js';

/**
 * The balance of one account for finance listings (GET /v1/reports/balances). The live balance route reads the
 * account's head; this view exists so a listing of every account is one query per shard, not one read per
 * account. It keeps only what a listing shows, plus the cycle calendar so a listing can show a cycle that has
 * ended but not yet been rolled over as the ledger will show it (see `balanceAt`).
 */
export interface BalanceView {
  accountId: string;
  /** The last ledger version folded in. */
  version: number;
  plan: string;
  /** A downgrade waiting for the next cycle start. */
  pendingPlan: string | null;
  unlimited: boolean;
  allocation: Millicredits;
  monthlyRemaining: Millicredits;
  purchasedRemaining: Millicredits;
  cycle: number;
  cycleStart: string;
  cycleEnd: string;
  /** Cycle boundaries are counted from `anchor`, whose cycle number is `anchorCycle` (an upgrade re-anchors). */
  anchor: string;
  anchorCycle: number;
}

export class ProjectionOrderError extends Error {
  override readonly name = 'ProjectionOrderError';
}

export function evolveBalance(view: BalanceView | null, event: LedgerEvent): BalanceView {
  if (event.type === 'AccountOpened') {
    if (view !== null) throw new ProjectionOrderError(`account ${event.accountId} is opened twice in the balance view`);
    const d = event.data;
    return {
      accountId: event.accountId,
      version: event.version,
      plan: d.plan,
      pendingPlan: null,
      unlimited: false,
      allocation: 0,
      monthlyRemaining: 0,
      purchasedRemaining: 0,
      cycle: 0,
      cycleStart: '',
      cycleEnd: '',
      anchor: d.cycleAnchor,
      anchorCycle: 0,
    };
  }
  if (view === null) throw new ProjectionOrderError(`balance view of ${event.accountId} gets ${event.type} v${event.version} before AccountOpened`);
  if (event.version !== view.version + 1) {
    throw new ProjectionOrderError(`balance view of ${event.accountId} is at v${view.version} and cannot apply v${event.version}`);
  }
  const next: BalanceView = { ...view, version: event.version };
  switch (event.type) {
    case 'Granted': {
      const d = event.data;
      return {
        ...next,
        plan: d.plan,
        unlimited: d.unlimited,
        allocation: d.credits,
        monthlyRemaining: d.credits,
        cycle: d.cycle,
        cycleStart: d.cycleStart,
        cycleEnd: d.cycleEnd,
      };
    }
    case 'Debited':
      return {
        ...next,
        monthlyRemaining: next.monthlyRemaining - event.data.split.monthly,
        purchasedRemaining: next.purchasedRemaining - event.data.split.purchased,
      };
    case 'Credited':
      return { ...next, purchasedRemaining: next.purchasedRemaining + event.data.amount };
    case 'Expired':
      return { ...next, monthlyRemaining: next.monthlyRemaining - event.data.amount };
    case 'PlanChanged': {
      const d = event.data;
      if (d.status === 'scheduled') return { ...next, pendingPlan: d.to };
      if (d.status === 'cancelled') return { ...next, pendingPlan: null };
      return { ...next, pendingPlan: null, ...(d.startsNewCycle ? { anchor: d.effectiveAt, anchorCycle: next.cycle + 1 } : {}) };
    }
    case 'ThresholdCrossed':
    case 'ContactUpdated':
      return next;
  }
}

/** A listing row: the balance as the ledger will show it at `now`. */
export interface BalanceAt {
  accountId: string;
  plan: string;
  pendingPlan: string | null;
  unlimited: boolean;
  allocation: Millicredits;
  monthlyRemaining: Millicredits;
  purchasedRemaining: Millicredits;
  total: Millicredits;
  cycle: number;
  cycleStart: string;
  cycleEnd: string;
  /** The last ledger version included; cycles rolled over in the read are not in the ledger yet. */
  version: number;
}

/**
 * The balance at `now`. When the view's cycle has ended and neither the schedule nor a command has rolled it
 * over yet, the rollover is folded in memory with the domain's own rules (unused monthly credits expire, a
 * scheduled downgrade applies, the next allocation is granted), exactly as the balance route and the next
 * command would see it.
 */
export function balanceAt(view: BalanceView, now: Date, catalog: Catalog): BalanceAt {
  const rolled = Date.parse(view.cycleEnd) <= now.getTime() ? stateAt(accountStateOf(view), now, catalog) : undefined;
  const source = rolled === undefined ? view : fromState(rolled, view);
  return {
    accountId: view.accountId,
    plan: source.plan,
    pendingPlan: source.pendingPlan,
    unlimited: source.unlimited,
    allocation: source.allocation,
    monthlyRemaining: source.monthlyRemaining,
    purchasedRemaining: source.purchasedRemaining,
    total: source.monthlyRemaining + source.purchasedRemaining,
    cycle: source.cycle,
    cycleStart: source.cycleStart,
    cycleEnd: source.cycleEnd,
    version: view.version,
  };
}

/** The fields of AccountState a rollover reads; purchased credits as one lot (a rollover never touches lots). */
function accountStateOf(view: BalanceView): AccountState {
  return {
    ...initialState(view.accountId),
    version: view.version,
    opened: { plan: view.plan, contact: {}, cycleAnchor: view.anchor, anchorRequested: false },
    plan: view.plan,
    pendingPlan: view.pendingPlan,
    unlimited: view.unlimited,
    anchor: view.anchor,
    anchorCycle: view.anchorCycle,
    cycle: view.cycle,
    cycleStart: view.cycleStart,
    cycleEnd: view.cycleEnd,
    monthly: { allocation: view.allocation, remaining: view.monthlyRemaining },
    lots: view.purchasedRemaining > 0 ? [{ lotId: 'purchased', credited: view.purchasedRemaining, remaining: view.purchasedRemaining, priceUsdCents: 0 }] : [],
  };
}

function fromState(state: AccountState, view: BalanceView): Omit<BalanceAt, 'total' | 'version'> {
  return {
    accountId: view.accountId,
    plan: state.plan,
    pendingPlan: state.pendingPlan,
    unlimited: state.unlimited,
    allocation: state.monthly.allocation,
    monthlyRemaining: state.monthly.remaining,
    purchasedRemaining: view.purchasedRemaining,
    cycle: state.cycle,
    cycleStart: state.cycleStart,
    cycleEnd: state.cycleEnd,
  };
}

/**
 * The balance as a percentage of the monthly allocation, truncated (rounded down) to two decimals; null when
 * there is no allocation. Truncated, not rounded, so the figure agrees with `isBelowPercent`: an account at
 * 99.997 of 100 credits is below 100 % and shows 99.99, never a rounded-up 100.
 */
export function percentOfAllocation(balance: Pick<BalanceAt, 'total' | 'allocation' | 'unlimited'>): number | null {
  if (balance.unlimited || balance.allocation === 0) return null;
  // Whole hundredths of a percent in integers (bigint: total × 10,000 may pass 2^53); a balance is never negative.
  const hundredths = (BigInt(balance.total) * 10_000n) / BigInt(balance.allocation);
  return Number(hundredths) / 100;
}

/**
 * Whether the balance is strictly below `percent` % of its allocation (percent in hundredths, 12.5 % → 1250),
 * compared in integers like the warning thresholds. Unlimited accounts and accounts without an allocation are
 * never below.
 */
export function isBelowPercent(balance: Pick<BalanceAt, 'total' | 'allocation' | 'unlimited'>, hundredthsOfPercent: number): boolean {
  if (balance.unlimited || balance.allocation === 0) return false;
  return BigInt(balance.total) * 10_000n < BigInt(balance.allocation) * BigInt(hundredthsOfPercent);
}
