import { describe, expect, it } from 'vitest';
import {
  evolveFinance,
  exactCents,
  financeReport,
  recognizedFraction,
  roundCents,
  type FinanceLedgerView,
} from '../../../domain/projections/index.js';
import type { LedgerEvent } from '../../../domain/index.js';
import { adjust, buyPack, LedgerBuilder, openAccount, rollOver, spend } from './ledger-builder.js';

const foldFinance = (events: LedgerEvent[]): FinanceLedgerView =>
  events.reduce<FinanceLedgerView | null>((view, event) => evolveFinance(view, event), null) ?? { books: {}, months: {} };

const reportOf = (events: LedgerEvent[], month: string) => financeReport(month, Object.entries(foldFinance(events).months));

/**
 * The worked example of the README, by hand:
 *
 * acme, free plan, opened 2026-11-26 10:00 (100 credits a cycle).
 *   Nov 27  buys pack_1000 ($10.00, lot A) and pack_5000 ($45.00, lot B)
 *   Nov 28  uses 600 credits: 100 monthly + 500 from lot A          → recognises 500 × $10/1,000   = $5.00
 *   Dec 26  cycle 1 starts: nothing left to expire, 100 granted
 *   Dec 27  uses 40 credits (monthly)
 *   Dec 28  uses 760.001 credits: 60 monthly + 500 from lot A (the rest of it) + 200.001 from lot B
 *           → recognises $5.00 + 200.001 × $45/5,000 = $5.00 + $1.800009 = $6.800009
 *   Jan 26  cycle 2: 100 granted;  Jan 27 uses 30 (monthly)
 *   Feb 27  a rollover records Feb 26: 70 monthly credits expire, 100 granted
 */
function workedExample(): LedgerBuilder {
  const ledger = new LedgerBuilder();
  ledger.run(openAccount('acme', 'free', '2026-11-26T10:00:00.000Z'));
  ledger.run(buyPack('acme', 'pack_1000', 'pay-1', '2026-11-27T09:00:00.000Z'));
  ledger.run(buyPack('acme', 'pack_5000', 'pay-2', '2026-11-27T09:30:00.000Z'));
  ledger.run(spend('acme', 600, '2026-11-28T12:00:00.000Z'));
  ledger.run(rollOver('acme', '2026-12-26T10:00:00.000Z'));
  ledger.run(spend('acme', 40, '2026-12-27T12:00:00.000Z'));
  ledger.run(spend('acme', 760.001, '2026-12-28T12:00:00.000Z'));
  ledger.run(rollOver('acme', '2027-01-26T10:00:00.000Z'));
  ledger.run(spend('acme', 30, '2027-01-27T12:00:00.000Z'));
  ledger.run(rollOver('acme', '2027-02-27T08:00:00.000Z'));
  return ledger;
}

describe('finance per month, valued per lot at the price paid (FIFO)', () => {
  const ledger = workedExample();

  it('November: 6,000 credits sold for $55; 500 purchased credits consumed recognise $5.00; $50.00 stays deferred on 5,500 credits', () => {
    expect(reportOf(ledger.events, '2026-11')).toEqual({
      month: '2026-11',
      granted: 100_000,
      consumed: { monthly: 100_000, purchased: 500_000, metered: 0, recognizedRevenueCents: 500 },
      expired: 0,
      purchased: { credits: 6_000_000, revenueCents: 5500, packs: 2 },
      adjustments: { credited: 0, debited: 0 },
      outstanding: { credits: 5_500_000, deferredRevenueCents: 5000 },
    });
  });

  it('December: consumption crosses from lot A into lot B at its own price; recognised $6.800009 shows as $6.80, deferred $43.199991 as $43.20', () => {
    expect(reportOf(ledger.events, '2026-12')).toEqual({
      month: '2026-12',
      granted: 100_000,
      consumed: { monthly: 100_000, purchased: 700_001, metered: 0, recognizedRevenueCents: 680 },
      expired: 0,
      purchased: { credits: 0, revenueCents: 0, packs: 0 },
      adjustments: { credited: 0, debited: 0 },
      outstanding: { credits: 4_799_999, deferredRevenueCents: 4320 },
    });
  });

  it('December’s recognised revenue is kept exact, as fractions of a cent per lot price, until it is shown', () => {
    const december = foldFinance(ledger.events).months['2026-12'];
    // Lot A: 1 mc = 1,000/1,000,000 cents → n/1000; lot B: 1 mc = 4,500/5,000,000 cents → 9n/10000.
    expect(december?.recognized).toEqual({ '1000': 500_000, '10000': 1_800_009 });
    expect(exactCents(0, december?.recognized ?? {})).toEqual({ numerator: 6_800_009n, denominator: 10_000n });
  });

  it('January: no money moves; the outstanding credits and deferred revenue carry over unchanged', () => {
    const january = reportOf(ledger.events, '2027-01');
    expect(january).toMatchObject({ granted: 100_000, consumed: { monthly: 30_000, purchased: 0, recognizedRevenueCents: 0 }, expired: 0 });
    expect(january.outstanding).toEqual({ credits: 4_799_999, deferredRevenueCents: 4320 });
  });

  it('February: the 70 unused monthly credits of January’s cycle expire in the month of the cycle end', () => {
    expect(reportOf(ledger.events, '2027-02')).toMatchObject({ granted: 100_000, expired: 70_000, outstanding: { credits: 4_799_999 } });
  });

  it('a month after the last event still shows the stocks, and a month before the first shows nothing', () => {
    expect(reportOf(ledger.events, '2027-06').outstanding).toEqual({ credits: 4_799_999, deferredRevenueCents: 4320 });
    expect(reportOf(ledger.events, '2026-10').outstanding).toEqual({ credits: 0, deferredRevenueCents: 0 });
  });

  it('when every purchased credit is finally consumed, exactly the $55.00 paid has been recognised and nothing stays deferred', () => {
    const drained = workedExample();
    drained.run(spend('acme', 100, '2027-02-27T09:00:00.000Z')); // the February allocation
    drained.run(spend('acme', 4799.999, '2027-02-27T10:00:00.000Z'));
    const months = Object.entries(foldFinance(drained.events).months);
    const february = financeReport('2027-02', months);
    expect(february.outstanding).toEqual({ credits: 0, deferredRevenueCents: 0 });
    const total = months.reduce((fractions, [, flows]) => {
      for (const [d, n] of Object.entries(flows.recognized)) fractions[d] = (fractions[d] ?? 0) + n;
      return fractions;
    }, {} as Record<string, number>);
    expect(exactCents(0, total)).toEqual({ numerator: 55_000_000n, denominator: 10_000n });
  });
});

describe('finance across accounts, with adjustments and unlimited plans', () => {
  it('sums every account’s month; a positive adjustment is owed but earns no revenue; unlimited usage is metered apart', () => {
    const ledger = workedExample();
    ledger.run(openAccount('beta', 'free', '2026-11-30T08:00:00.000Z'));
    ledger.run(adjust('beta', 50, 'goodwill', '2026-11-30T09:00:00.000Z'));
    ledger.run(spend('beta', 120, '2026-11-30T10:00:00.000Z')); // 100 monthly + 20 from the adjustment lot
    ledger.run(adjust('beta', -5, 'correction', '2026-11-30T11:00:00.000Z')); // from the adjustment lot too
    ledger.run(openAccount('big', 'custom', '2026-11-30T08:00:00.000Z'));
    ledger.run(spend('big', 12.5, '2026-11-30T12:00:00.000Z'));

    expect(reportOf(ledger.events, '2026-11')).toEqual({
      month: '2026-11',
      granted: 200_000,
      consumed: { monthly: 200_000, purchased: 525_000, metered: 12_500, recognizedRevenueCents: 500 },
      expired: 0,
      purchased: { credits: 6_000_000, revenueCents: 5500, packs: 2 },
      adjustments: { credited: 50_000, debited: 5000 },
      outstanding: { credits: 5_525_000, deferredRevenueCents: 5000 },
    });
  });

  it('the order in which accounts’ events are folded does not change any month', () => {
    const ledger = workedExample();
    ledger.run(openAccount('beta', 'pro', '2026-11-29T08:00:00.000Z'));
    ledger.run(buyPack('beta', 'pack_5000', 'pay-b1', '2026-11-29T09:00:00.000Z'));
    ledger.run(spend('beta', 5001.7, '2026-12-01T10:00:00.000Z'));
    const byAccount = [...ledger.eventsOf('beta'), ...ledger.eventsOf('acme')];
    expect(foldFinance(byAccount).months).toEqual(foldFinance(ledger.events).months);
  });
});

describe('rounding money for display', () => {
  it('rounds half a cent up and anything below it down, from the exact fraction', () => {
    expect(roundCents({ numerator: 5n, denominator: 10n })).toBe(1);
    expect(roundCents({ numerator: 49_999n, denominator: 100_000n })).toBe(0);
    expect(roundCents({ numerator: -5n, denominator: 10n })).toBe(-1);
  });

  it('values one millicredit of a $45/5,000 pack at 9/10,000 of a cent, reduced', () => {
    expect(recognizedFraction(1, { credited: 5_000_000, priceUsdCents: 4500 })).toEqual({ denominator: 10_000, numerator: 9 });
    expect(recognizedFraction(1000, { credited: 1_000_000, priceUsdCents: 1000 })).toEqual({ denominator: 1000, numerator: 1000 });
  });
});
