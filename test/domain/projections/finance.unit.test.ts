import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addFractions,
  evolveFinance,
  exactCents,
  financeReport,
  recognizedFraction,
  roundCents,
  type FinanceLedgerView,
} from '../../../domain/projections/index.js';
import type { EventOf, LedgerEvent } from '../../../domain/index.js';
import { adjust, buyPack, LedgerBuilder, openAccount, rollOver, spend } from './ledger-builder.js';
import { randomWorkload } from './workload.js';

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
 *   Feb 28  finance removes 990 credits (a negative adjustment): 100 monthly + 890 from lot B. Not usage, so not
 *           consumed; the 890 purchased credits' price, 890 × $45/5,000 = $8.01, is not earned but released from
 *           deferred revenue: $43.199991 − $8.01 = $35.189991 stays deferred on 3,909.999 credits.
 *
 * At every month end, revenue sold = recognised + released + deferred, exactly: $55 = $11.800009 + $8.01 + $35.189991.
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
  ledger.run(adjust('acme', -990, 'goodwill correction', '2027-02-28T12:00:00.000Z'));
  return ledger;
}

const NO_ADJUSTMENTS = { credited: 0, debited: { monthly: 0, purchased: 0 }, releasedRevenueCents: 0 };

/** a/b = c/d, for exact amounts of cents. */
const sameAmount = (x: { numerator: bigint; denominator: bigint }, y: { numerator: bigint; denominator: bigint }): boolean =>
  x.numerator * y.denominator === y.numerator * x.denominator;

describe('finance per month, valued per lot at the price paid (FIFO)', () => {
  const ledger = workedExample();

  it('November: 6,000 credits sold for $55; 500 purchased credits consumed recognise $5.00; $50.00 stays deferred on 5,500 credits', () => {
    expect(reportOf(ledger.events, '2026-11')).toEqual({
      month: '2026-11',
      granted: 100_000,
      consumed: { monthly: 100_000, purchased: 500_000, metered: 0, recognizedRevenueCents: 500 },
      expired: 0,
      purchased: { credits: 6_000_000, revenueCents: 5500, packs: 2 },
      adjustments: NO_ADJUSTMENTS,
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
      adjustments: NO_ADJUSTMENTS,
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

  it('February: January’s 70 unused monthly credits expire; a −990 adjustment is no usage: listed by bucket under adjustments, its 890 purchased credits’ $8.01 released from deferred revenue, none recognised', () => {
    expect(reportOf(ledger.events, '2027-02')).toEqual({
      month: '2027-02',
      granted: 100_000,
      consumed: { monthly: 0, purchased: 0, metered: 0, recognizedRevenueCents: 0 },
      expired: 70_000,
      purchased: { credits: 0, revenueCents: 0, packs: 0 },
      adjustments: { credited: 0, debited: { monthly: 100_000, purchased: 890_000 }, releasedRevenueCents: 801 },
      outstanding: { credits: 3_909_999, deferredRevenueCents: 3519 },
    });
  });

  it('at every month end, revenue sold = recognised + released + deferred, exactly, and deferred is exactly the price of the purchased credits still held', () => {
    const months = Object.entries(foldFinance(ledger.events).months);
    let recognized: Record<string, number> = {};
    let released: Record<string, number> = {};
    for (const [month, flows] of months.sort(([a], [b]) => (a < b ? -1 : 1))) {
      recognized = addFractions(recognized, flows.recognized);
      released = addFractions(released, flows.released);
      const sold = months.filter(([m]) => m <= month).reduce((cents, [, f]) => cents + f.revenueCents, 0);
      const deferred = exactCents(sold, addFractions(recognized, released), -1);
      const held = foldFinance(ledger.events.filter((e) => e.at.slice(0, 7) <= month)).books['acme'];
      const heldValue = exactCents(
        0,
        Object.values(held?.lots ?? {}).reduce<Record<string, number>>((sum, lot) => {
          const { denominator, numerator } = recognizedFraction(lot.remaining, lot);
          return addFractions(sum, { [String(denominator)]: numerator });
        }, {}),
      );
      expect(sameAmount(deferred, heldValue)).toBe(true);
    }
    // February's end, by hand: $55 = $11.800009 recognised + $8.01 released + $35.189991 deferred.
    expect(exactCents(0, recognized)).toEqual({ numerator: 11_800_009n, denominator: 10_000n });
    expect(exactCents(0, released)).toEqual({ numerator: 8_010_000n, denominator: 10_000n });
  });

  it('a month after the last event still shows the stocks, and a month before the first shows nothing', () => {
    expect(reportOf(ledger.events, '2027-06').outstanding).toEqual({ credits: 3_909_999, deferredRevenueCents: 3519 });
    expect(reportOf(ledger.events, '2026-10').outstanding).toEqual({ credits: 0, deferredRevenueCents: 0 });
  });

  it('when every purchased credit is finally used, exactly the $55.00 paid has been recognised or released and nothing stays deferred', () => {
    const drained = workedExample();
    drained.run(spend('acme', 3909.999, '2027-03-01T09:00:00.000Z')); // the February allocation went to the adjustment
    const months = Object.entries(foldFinance(drained.events).months);
    const march = financeReport('2027-03', months);
    expect(march.outstanding).toEqual({ credits: 0, deferredRevenueCents: 0 });
    expect(march.consumed).toMatchObject({ monthly: 0, purchased: 3_909_999, recognizedRevenueCents: 3519 });
    const total = months.reduce((fractions, [, flows]) => addFractions(addFractions(fractions, flows.recognized), flows.released), {} as Record<string, number>);
    expect(exactCents(0, total)).toEqual({ numerator: 55_000_000n, denominator: 10_000n });
  });
});

describe('finance across accounts, with adjustments and unlimited plans', () => {
  it('sums every account’s month; a positive adjustment is owed but earns no revenue; a negative one is no usage; unlimited usage is metered apart', () => {
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
      consumed: { monthly: 200_000, purchased: 520_000, metered: 12_500, recognizedRevenueCents: 500 },
      expired: 0,
      purchased: { credits: 6_000_000, revenueCents: 5500, packs: 2 },
      // The −5 came from the free adjustment lot: it removes credits owed, and no revenue.
      adjustments: { credited: 50_000, debited: { monthly: 0, purchased: 5000 }, releasedRevenueCents: 0 },
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

describe('finance of any accepted history', () => {
  it('each month, consumed is exactly the usage and adjustments exactly the negative adjustments, by bucket; at its end, the credits owed and the deferred revenue are exactly those of the purchased lots still held', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const ledger = new LedgerBuilder();
        for (const command of randomWorkload({ seed, accounts: 4, commands: 150 })) ledger.tryRun(command);
        const view = foldFinance(ledger.events);
        const months = [...new Set(ledger.events.map((e) => e.at.slice(0, 7)))].sort();
        for (const month of months) {
          const report = financeReport(month, Object.entries(view.months));
          const debits = ledger.events.filter((e) => e.type === 'Debited' && e.at.slice(0, 7) === month) as Array<EventOf<'Debited'>>;
          const sum = (reason: 'usage' | 'adjustment', bucket: 'monthly' | 'purchased') =>
            debits.filter((e) => e.data.reason === reason).reduce((total, e) => total + e.data.split[bucket], 0);
          expect(report.consumed).toMatchObject({ monthly: sum('usage', 'monthly'), purchased: sum('usage', 'purchased') });
          expect(report.adjustments.debited).toEqual({ monthly: sum('adjustment', 'monthly'), purchased: sum('adjustment', 'purchased') });

          const held = Object.values(foldFinance(ledger.events.filter((e) => e.at.slice(0, 7) <= month)).books).flatMap((book) => Object.values(book.lots));
          const heldValue = held.reduce<Record<string, number>>((value, lot) => {
            const { denominator, numerator } = recognizedFraction(lot.remaining, lot);
            return addFractions(value, { [String(denominator)]: numerator });
          }, {});
          expect(report.outstanding.credits).toBe(held.reduce((total, lot) => total + lot.remaining, 0));
          expect(report.outstanding.deferredRevenueCents).toBe(roundCents(exactCents(0, heldValue)));
        }
      }),
      { numRuns: 40 },
    );
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
