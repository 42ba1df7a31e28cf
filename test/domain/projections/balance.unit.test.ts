import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG, purchasedRemaining, stateAt, type LedgerEvent } from '../../../domain/index.js';
import {
  balanceAt,
  evolveBalance,
  isBelowPercent,
  percentOfAllocation,
  ProjectionOrderError,
  type BalanceView,
} from '../../../domain/projections/index.js';
import { buyPack, changePlan, instant, LedgerBuilder, openAccount, spend } from './ledger-builder.js';
import { randomWorkload } from './workload.js';

const foldBalance = (events: LedgerEvent[]): BalanceView | null =>
  events.reduce<BalanceView | null>((view, event) => evolveBalance(view, event), null);

describe('balances for finance listings', () => {
  it('given a free account that used 40 credits and bought a 1,000 pack, then it lists 60 monthly + 1,000 purchased = 1,060, 1,060% of its allocation', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'free', '2026-11-26T10:00:00.000Z'));
    ledger.run(spend('acme', 40, '2026-11-27T10:00:00.000Z'));
    ledger.run(buyPack('acme', 'pack_1000', 'pay-1', '2026-11-28T10:00:00.000Z'));
    const view = foldBalance(ledger.events) as BalanceView;

    const row = balanceAt(view, instant('2026-12-01T00:00:00.000Z'), DEFAULT_CATALOG);
    expect(row).toEqual({
      accountId: 'acme',
      plan: 'free',
      pendingPlan: null,
      unlimited: false,
      allocation: 100_000,
      monthlyRemaining: 60_000,
      purchasedRemaining: 1_000_000,
      total: 1_060_000,
      cycle: 0,
      cycleStart: '2026-11-26T10:00:00.000Z',
      cycleEnd: '2026-12-26T10:00:00.000Z',
      version: 4,
    });
    expect(percentOfAllocation(row)).toBe(1060);
  });

  it('given a cycle that ended and was not rolled over yet, then the listing shows it as the ledger will: the rest expired, a scheduled downgrade applied, the new allocation granted', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'pro', '2026-11-26T10:00:00.000Z'));
    ledger.run(spend('acme', 4000, '2026-11-27T10:00:00.000Z'));
    ledger.run(changePlan('acme', 'free', '2026-11-28T10:00:00.000Z'));
    const view = foldBalance(ledger.events) as BalanceView;
    expect(view.pendingPlan).toBe('free');

    const row = balanceAt(view, instant('2026-12-26T10:00:00.001Z'), DEFAULT_CATALOG);
    expect(row).toMatchObject({ plan: 'free', allocation: 100_000, monthlyRemaining: 100_000, total: 100_000, cycle: 1, version: view.version });
    // Exactly what the command side folds in memory for a read at that moment.
    const domain = stateAt(ledger.state('acme'), instant('2026-12-26T10:00:00.001Z'));
    expect([row.plan, row.allocation, row.monthlyRemaining, row.cycleStart, row.cycleEnd]).toEqual([
      domain.plan,
      domain.monthly.allocation,
      domain.monthly.remaining,
      domain.cycleStart,
      domain.cycleEnd,
    ]);
  });

  it('given a free account with 20.000 credits left, then it is not below 20%, and with 19.999 it is (strictly, in integers)', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'free', '2026-11-26T10:00:00.000Z'));
    ledger.run(spend('acme', 80, '2026-11-27T10:00:00.000Z'));
    const at20 = balanceAt(foldBalance(ledger.events) as BalanceView, instant('2026-11-27T11:00:00.000Z'), DEFAULT_CATALOG);
    expect(isBelowPercent(at20, 2000)).toBe(false);
    expect(percentOfAllocation(at20)).toBe(20);

    ledger.run(spend('acme', 0.001, '2026-11-27T12:00:00.000Z'));
    const below = balanceAt(foldBalance(ledger.events) as BalanceView, instant('2026-11-27T13:00:00.000Z'), DEFAULT_CATALOG);
    expect(isBelowPercent(below, 2000)).toBe(true);
    // Shown truncated, so the figure agrees with the filter: 19.999 of 100 is 19.99 %, not a rounded-up 20.
    expect(percentOfAllocation(below)).toBe(19.99);
  });

  it('given a free account at 99.997 of its 100 credits, then it is below 100% and shows 99.99%, not a rounded-up 100%', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'free', '2026-11-26T10:00:00.000Z'));
    ledger.run(spend('acme', 0.003, '2026-11-27T10:00:00.000Z'));
    const row = balanceAt(foldBalance(ledger.events) as BalanceView, instant('2026-11-27T11:00:00.000Z'), DEFAULT_CATALOG);
    expect(row.total).toBe(99_997);
    expect(isBelowPercent(row, 10_000)).toBe(true);
    expect(percentOfAllocation(row)).toBe(99.99);
    // And at 99.99 % exactly it is not below 99.99 (strict): the figure shown is never under the filter it fails.
    expect(isBelowPercent(row, 9999)).toBe(false);
  });

  it('for any balance and allocation, the percentage shown is below a filter exactly when the filter lists the account', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        // Balances a few millicredits either side of the filter's boundary, where rounding and the filter part.
        fc.integer({ min: -3, max: 3 }),
        (allocation, hundredths, offset) => {
          const total = Math.max(0, Math.floor((allocation * hundredths) / 10_000) + offset);
          const balance = { allocation, total, unlimited: false };
          const shown = percentOfAllocation(balance) as number;
          expect(Math.round(shown * 100) < hundredths).toBe(isBelowPercent(balance, hundredths));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('given an unlimited account, then it has no percentage and is never below one', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('big', 'custom', '2026-11-26T10:00:00.000Z'));
    const row = balanceAt(foldBalance(ledger.events) as BalanceView, instant('2026-11-27T00:00:00.000Z'), DEFAULT_CATALOG);
    expect(percentOfAllocation(row)).toBeNull();
    expect(isBelowPercent(row, 10_000)).toBe(false);
    expect(row.unlimited).toBe(true);
  });

  it('refuses an event that does not follow the view’s version, rather than applying it out of order', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'free', '2026-11-26T10:00:00.000Z'));
    const [debit] = ledger.run(spend('acme', 1, '2026-11-27T10:00:00.000Z'));
    const opened = evolveBalance(null, ledger.events[0] as LedgerEvent);
    expect(() => evolveBalance(opened, debit as LedgerEvent)).toThrow(ProjectionOrderError);
  });

  it('for any accepted history, the view’s buckets and plan equal the account state the command side folds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const ledger = new LedgerBuilder();
        for (const command of randomWorkload({ seed, accounts: 3, commands: 60 })) ledger.tryRun(command);
        for (const accountId of ['acct-000', 'acct-001', 'acct-002']) {
          const view = foldBalance(ledger.eventsOf(accountId)) as BalanceView;
          const state = ledger.state(accountId);
          expect(view).toMatchObject({
            version: state.version,
            plan: state.plan,
            pendingPlan: state.pendingPlan,
            unlimited: state.unlimited,
            allocation: state.monthly.allocation,
            monthlyRemaining: state.monthly.remaining,
            purchasedRemaining: purchasedRemaining(state),
            cycle: state.cycle,
            cycleEnd: state.cycleEnd,
            anchor: state.anchor,
            anchorCycle: state.anchorCycle,
          });
        }
      }),
      { numRuns: 40 },
    );
  });
});
