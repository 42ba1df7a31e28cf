import type { LedgerEvent } from '../ledger/events.js';
import type { Millicredits } from '../money.js';

/**
 * Finance per UTC calendar month of the event's `at`: credits granted, consumed by usage (by bucket), expired,
 * sold (credits and revenue), removed by negative adjustments (by bucket), and at the month's end the purchased
 * credits still owed to customers and the revenue still deferred on them.
 *
 * Usage and negative adjustments both draw credits (monthly first, then purchased lots FIFO), but only usage is
 * the customer receiving what was paid for: it recognises revenue. A negative adjustment (a correction, a
 * reversed goodwill grant, a chargeback) is not consumption, so it is kept out of `consumed` and reported under
 * adjustments by bucket; the price of the purchased credits it removes is not earned, it is *released* from
 * deferred revenue as its own figure. For purchases, at every month end and exactly (before display rounding):
 * revenue sold = revenue recognised + revenue released + revenue deferred.
 *
 * Revenue is recognised per lot at the price the customer paid for it, first in, first out: a `Debited` says
 * which lots paid (`split.lots`), and drawing x millicredits from a lot of A millicredits bought for P cents
 * recognises x·P/A cents. That is rarely a whole number of cents (1 credit of a $45/5,000 pack is 0.9 cents),
 * so recognised revenue is kept as exact fractions: a map from denominator d to a numerator n, meaning n/d
 * cents, with one entry per distinct lot price ratio (two for the default packs). Nothing is rounded until a
 * report shows dollars; then the month's recognised revenue and the deferred revenue are each rounded half up
 * to the cent, from their exact values (never from sums of rounded values).
 *
 * The pieces:
 * - LotBook (per account): the purchased lots with their size and price, to value the draws;
 * - FinanceFlows (per month): additive counters, so months of many accounts combine by addition;
 * - financeReport: a month's flows plus the outstanding stocks, which are the sums of all flows up to that month.
 */

export interface LotEntry {
  credited: Millicredits;
  remaining: Millicredits;
  priceUsdCents: number;
}

export interface LotBook {
  accountId: string;
  /** Lots with credits left, by lot id. */
  lots: Record<string, LotEntry>;
}

export interface FinanceFlows {
  granted: Millicredits;
  consumedMonthly: Millicredits;
  consumedPurchased: Millicredits;
  /** Usage on unlimited plans: metered, drawn from no bucket. */
  metered: Millicredits;
  expired: Millicredits;
  /** Credits of packs sold and what was paid for them. */
  purchasedCredits: Millicredits;
  revenueCents: number;
  packsSold: number;
  /** Positive adjustments (lots at price 0). */
  adjustmentCredited: Millicredits;
  /** Negative adjustments, by the bucket they drew from (not usage: never in consumed). */
  adjustmentDebitedMonthly: Millicredits;
  adjustmentDebitedPurchased: Millicredits;
  /** Revenue recognised on purchased credits consumed by usage, exact: denominator → numerator, in cents. */
  recognized: Record<string, number>;
  /** The price of purchased credits removed by negative adjustments, released from deferred revenue (exact, as `recognized`). */
  released: Record<string, number>;
}

export const EMPTY_FLOWS: FinanceFlows = {
  granted: 0,
  consumedMonthly: 0,
  consumedPurchased: 0,
  metered: 0,
  expired: 0,
  purchasedCredits: 0,
  revenueCents: 0,
  packsSold: 0,
  adjustmentCredited: 0,
  adjustmentDebitedMonthly: 0,
  adjustmentDebitedPurchased: 0,
  recognized: {},
  released: {},
};

/** The counters of FinanceFlows, every one a safe integer added month by month. */
export const FLOW_COUNTERS = [
  'granted',
  'consumedMonthly',
  'consumedPurchased',
  'metered',
  'expired',
  'purchasedCredits',
  'revenueCents',
  'packsSold',
  'adjustmentCredited',
  'adjustmentDebitedMonthly',
  'adjustmentDebitedPurchased',
] as const satisfies ReadonlyArray<keyof FinanceFlows>;

/** The exact amounts of FinanceFlows, each a map of fractions (denominator → numerator, in cents). */
export const FLOW_FRACTIONS = ['recognized', 'released'] as const satisfies ReadonlyArray<keyof FinanceFlows>;

export class FinanceProjectionError extends Error {
  override readonly name = 'FinanceProjectionError';
}

/** `YYYY-MM` of an ISO instant, UTC. */
export const utcMonth = (instant: string): string => instant.slice(0, 7);

function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

function safeAdd(a: number, b: number, what: string): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum)) throw new FinanceProjectionError(`${what} overflows a safe integer`);
  return sum;
}

/** x·P/A cents as a reduced fraction: numerator over denominator (the key of `recognized`). */
export function recognizedFraction(amount: Millicredits, lot: Pick<LotEntry, 'credited' | 'priceUsdCents'>): { denominator: number; numerator: number } {
  const g = gcd(lot.priceUsdCents, lot.credited);
  const numerator = amount * (lot.priceUsdCents / g);
  if (!Number.isSafeInteger(numerator)) throw new FinanceProjectionError('recognised revenue overflows a safe integer');
  return { denominator: lot.credited / g, numerator };
}

export function addFractions(into: Record<string, number>, add: Record<string, number>): Record<string, number> {
  const out = { ...into };
  for (const [denominator, numerator] of Object.entries(add)) out[denominator] = safeAdd(out[denominator] ?? 0, numerator, 'recognised revenue');
  return out;
}

export function addFlows(into: FinanceFlows | null, add: FinanceFlows): FinanceFlows {
  const base = into ?? EMPTY_FLOWS;
  const out: FinanceFlows = { ...base, recognized: addFractions(base.recognized, add.recognized), released: addFractions(base.released, add.released) };
  for (const counter of FLOW_COUNTERS) out[counter] = safeAdd(base[counter], add[counter], counter);
  return out;
}

/** The purchased lots of an account, as its events create and draw them. */
export function evolveLotBook(book: LotBook | null, event: LedgerEvent): LotBook {
  const current = book ?? { accountId: event.accountId, lots: {} };
  if (event.type === 'Credited') {
    const d = event.data;
    if (d.amount === 0) return current;
    return { ...current, lots: { ...current.lots, [d.lotId]: { credited: d.amount, remaining: d.amount, priceUsdCents: d.priceUsdCents } } };
  }
  if (event.type === 'Debited' && event.data.split.lots.length > 0) {
    const lots = { ...current.lots };
    for (const draw of event.data.split.lots) {
      const lot = lots[draw.lotId];
      if (lot === undefined || lot.remaining < draw.amount) {
        throw new FinanceProjectionError(`account ${event.accountId} v${event.version} draws ${draw.amount} mc from lot ${draw.lotId}, which has ${lot?.remaining ?? 'no'} mc`);
      }
      const remaining = lot.remaining - draw.amount;
      if (remaining === 0) delete lots[draw.lotId];
      else lots[draw.lotId] = { ...lot, remaining };
    }
    return { ...current, lots };
  }
  return current;
}

/**
 * What one event adds to its month, valued with the account's lot book as it was before the event; null for
 * events that move no credits or money (they touch no finance item).
 */
export function financeFlowsOf(book: LotBook | null, event: LedgerEvent): FinanceFlows | null {
  switch (event.type) {
    case 'Granted':
      return { ...EMPTY_FLOWS, granted: event.data.credits };
    case 'Expired':
      return { ...EMPTY_FLOWS, expired: event.data.amount };
    case 'Credited': {
      const d = event.data;
      return d.source === 'purchase'
        ? { ...EMPTY_FLOWS, purchasedCredits: d.amount, revenueCents: d.priceUsdCents, packsSold: 1 }
        : { ...EMPTY_FLOWS, adjustmentCredited: d.amount };
    }
    case 'Debited': {
      const d = event.data;
      // What the purchased credits drawn were paid, lot by lot (FIFO, as the debit's split says).
      let value: Record<string, number> = {};
      for (const draw of d.split.lots) {
        const lot = book?.lots[draw.lotId];
        if (lot === undefined) throw new FinanceProjectionError(`account ${event.accountId} v${event.version} draws from unknown lot ${draw.lotId}`);
        if (draw.amount === 0 || lot.priceUsdCents === 0) continue;
        const { denominator, numerator } = recognizedFraction(draw.amount, lot);
        value = addFractions(value, { [String(denominator)]: numerator });
      }
      if (d.reason === 'adjustment') {
        return { ...EMPTY_FLOWS, adjustmentDebitedMonthly: d.split.monthly, adjustmentDebitedPurchased: d.split.purchased, released: value };
      }
      return {
        ...EMPTY_FLOWS,
        consumedMonthly: d.split.monthly,
        consumedPurchased: d.split.purchased,
        metered: d.unlimited ? d.amount : 0,
        recognized: value,
      };
    }
    case 'AccountOpened':
    case 'PlanChanged':
    case 'ThresholdCrossed':
    case 'ContactUpdated':
      return null;
  }
}

/** The whole ledger's finance as one pure fold (specs, verification): lot books per account, flows per month. */
export interface FinanceLedgerView {
  books: Record<string, LotBook>;
  months: Record<string, FinanceFlows>;
}

export function evolveFinance(view: FinanceLedgerView | null, event: LedgerEvent): FinanceLedgerView {
  const current = view ?? { books: {}, months: {} };
  const book = current.books[event.accountId] ?? null;
  const flows = financeFlowsOf(book, event);
  const month = utcMonth(event.at);
  return {
    books: { ...current.books, [event.accountId]: evolveLotBook(book, event) },
    months: flows === null ? current.months : { ...current.months, [month]: addFlows(current.months[month] ?? null, flows) },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The report

function lcm(a: bigint, b: bigint): bigint {
  let x = a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return (a / x) * b;
}

/** An exact amount of cents: the sum of whole cents and the fractions, as one fraction. */
export function exactCents(wholeCents: number, fractions: Record<string, number>, sign: 1 | -1 = 1): { numerator: bigint; denominator: bigint } {
  let denominator = 1n;
  for (const d of Object.keys(fractions)) denominator = lcm(denominator, BigInt(d));
  let numerator = BigInt(wholeCents) * denominator;
  for (const [d, n] of Object.entries(fractions)) numerator += BigInt(sign) * BigInt(n) * (denominator / BigInt(d));
  return { numerator, denominator };
}

/** Rounds a fraction of cents half up (half away from zero) to whole cents. */
export function roundCents({ numerator, denominator }: { numerator: bigint; denominator: bigint }): number {
  const negative = numerator < 0n;
  const n = negative ? -numerator : numerator;
  const rounded = (2n * n + denominator) / (2n * denominator);
  return Number(negative ? -rounded : rounded);
}

export interface FinanceReportValues {
  month: string;
  granted: Millicredits;
  consumed: { monthly: Millicredits; purchased: Millicredits; metered: Millicredits; recognizedRevenueCents: number };
  expired: Millicredits;
  purchased: { credits: Millicredits; revenueCents: number; packs: number };
  /** Negative adjustments by bucket, and the price of the purchased credits they removed (released, not earned). */
  adjustments: { credited: Millicredits; debited: { monthly: Millicredits; purchased: Millicredits }; releasedRevenueCents: number };
  /** At the end of the month: purchased credits not yet consumed, and the revenue still deferred on them. */
  outstanding: { credits: Millicredits; deferredRevenueCents: number };
}

/**
 * A month's report from the flows of every month up to and including it (other months are ignored). The
 * outstanding stocks are all flows up to the month: credits bought or credited minus purchased credits consumed
 * or adjusted away, and revenue minus revenue recognised and released, exact until rounded here.
 */
export function financeReport(month: string, flowsByMonth: Iterable<readonly [string, FinanceFlows]>): FinanceReportValues {
  let thisMonth: FinanceFlows = EMPTY_FLOWS;
  let upTo: FinanceFlows = EMPTY_FLOWS;
  for (const [m, flows] of flowsByMonth) {
    if (m > month) continue;
    upTo = addFlows(upTo, flows);
    if (m === month) thisMonth = addFlows(thisMonth, flows);
  }
  return {
    month,
    granted: thisMonth.granted,
    consumed: {
      monthly: thisMonth.consumedMonthly,
      purchased: thisMonth.consumedPurchased,
      metered: thisMonth.metered,
      recognizedRevenueCents: roundCents(exactCents(0, thisMonth.recognized)),
    },
    expired: thisMonth.expired,
    purchased: { credits: thisMonth.purchasedCredits, revenueCents: thisMonth.revenueCents, packs: thisMonth.packsSold },
    adjustments: {
      credited: thisMonth.adjustmentCredited,
      debited: { monthly: thisMonth.adjustmentDebitedMonthly, purchased: thisMonth.adjustmentDebitedPurchased },
      releasedRevenueCents: roundCents(exactCents(0, thisMonth.released)),
    },
    outstanding: {
      credits: upTo.purchasedCredits + upTo.adjustmentCredited - upTo.consumedPurchased - upTo.adjustmentDebitedPurchased,
      deferredRevenueCents: roundCents(exactCents(upTo.revenueCents, addFractions(upTo.recognized, upTo.released), -1)),
    },
  };
}
