import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG, execute, initialState, type AccountState, type Command, type LedgerEvent } from '../../../domain/index.js';
import { accountView, balanceView, catalogView, ledgerItemView, usageChargeView } from '../../../functions/lib/views.js';

/** Response shapes: every amount leaves the API in credits, computed from integer millicredits. */
const T0 = new Date('2026-11-26T10:00:00.000Z');

/** A command without its account and time, which `run` fills in. */
type Intent = Command extends infer C ? (C extends Command ? Omit<C, 'accountId' | 'now'> : never) : never;

function run(...commands: Intent[]): { state: AccountState; events: LedgerEvent[]; last: LedgerEvent[] } {
  let state = initialState('acme');
  const events: LedgerEvent[] = [];
  let last: LedgerEvent[] = [];
  for (const command of commands) {
    const result = execute({ accountId: 'acme', now: T0, ...command } as Command, state);
    state = result.state;
    last = result.events;
    events.push(...result.events);
  }
  return { state, events, last };
}

describe('balanceView', () => {
  it('given a free account that bought a pack and spent 3.602 credits, then monthly, purchased and total are credits', () => {
    const { state } = run(
      { type: 'OpenAccount', plan: 'free' },
      { type: 'PurchasePack', pack: 'pack_1000', paymentRef: 'p1' },
      { type: 'RecordUsage', usage: { feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 } },
    );
    expect(balanceView(state)).toEqual({
      accountId: 'acme',
      plan: 'free',
      unlimited: false,
      monthly: { allocation: 100, remaining: 96.398 },
      purchased: { remaining: 1000 },
      total: 1096.398,
      cycle: { number: 0, start: T0.toISOString(), end: '2026-12-26T10:00:00.000Z' },
      version: 4,
    });
  });

  it('shows the recorded version when given one (a read that folds due rollovers in memory)', () => {
    const { state } = run({ type: 'OpenAccount', plan: 'free' });
    expect(balanceView(state, 1).version).toBe(1);
  });
});

describe('accountView', () => {
  it('shows the plan’s entitlements from the catalog and a scheduled downgrade', () => {
    const { state } = run({ type: 'OpenAccount', plan: 'pro' }, { type: 'ChangePlan', plan: 'free' });
    expect(accountView(state, DEFAULT_CATALOG)).toMatchObject({
      plan: 'pro',
      pendingPlan: { plan: 'free', effectiveAt: '2026-12-26T10:00:00.000Z' },
      entitlements: { monthlyCredits: 5000, unlimited: false, chatbots: 5, priceUsd: 29 },
      cycle: { anchor: T0.toISOString() },
    });
  });

  it('given a free account upgraded to pro a week after opening, then the anchor shown is the upgrade moment its cycles now count from', () => {
    const upgradedAt = new Date('2026-12-03T15:30:00.000Z');
    const opened = execute({ type: 'OpenAccount', accountId: 'acme', now: T0, plan: 'free' }, initialState('acme')).state;
    const { state } = execute({ type: 'ChangePlan', accountId: 'acme', now: upgradedAt, plan: 'pro' }, opened);
    expect(accountView(state, DEFAULT_CATALOG).cycle).toEqual({
      number: 1,
      start: upgradedAt.toISOString(),
      end: '2027-01-03T15:30:00.000Z',
      anchor: upgradedAt.toISOString(),
    });
  });

  it('shows the custom plan as unlimited with a negotiated price', () => {
    const { state } = run({ type: 'OpenAccount', plan: 'custom' });
    expect(accountView(state, DEFAULT_CATALOG).entitlements).toEqual({
      monthlyCredits: null,
      unlimited: true,
      chatbots: null,
      extras: ['dedicated support', 'SLA', 'custom integrations'],
      priceUsd: null,
    });
  });
});

describe('usageChargeView', () => {
  it('given a usage that crosses both thresholds, then it shows the debit’s version, the charge, the split and both thresholds', () => {
    const { state, last } = run({ type: 'OpenAccount', plan: 'free' }, { type: 'RecordUsage', usage: { feature: 'image', quality: 'hd', units: 12 } });
    expect(usageChargeView(last, state)).toMatchObject({
      version: 3,
      charged: 96,
      split: { monthly: 96, purchased: 0 },
      thresholdsCrossed: [20, 5],
      balance: { total: 4, version: 4 },
    });
  });
});

describe('ledgerItemView', () => {
  it('turns every millicredit amount of the data into credits and keeps the rest as stored', () => {
    const { events } = run(
      { type: 'OpenAccount', plan: 'free' },
      { type: 'RecordUsage', usage: { feature: 'image', quality: 'hd', units: 12 } },
      { type: 'PurchasePack', pack: 'pack_1000', paymentRef: 'p1' },
      { type: 'RecordUsage', usage: { feature: 'image', quality: 'hd' } },
    );
    const views = events.map(ledgerItemView);
    expect(views.map((v) => v.type)).toEqual(['AccountOpened', 'Granted', 'Debited', 'ThresholdCrossed', 'Credited', 'Debited']);
    expect(views[1]?.data).toMatchObject({ credits: 100 });
    expect(views[3]?.data).toMatchObject({ threshold: 5, crossed: [20, 5], balance: 4, allocation: 100 });
    expect(views[4]?.data).toMatchObject({ amount: 1000, priceUsdCents: 1000, pack: 'pack_1000', paymentRef: 'p1' });
    expect(views[5]).toMatchObject({
      version: 6,
      at: T0.toISOString(),
      data: {
        amount: 8,
        split: { monthly: 4, purchased: 4, lots: [{ lotId: expect.any(String), amount: 4 }] },
        usage: { feature: 'image', quality: 'hd', quantity: 1, rate: { credits: 8, per: 1, measure: 'units' } },
      },
    });
    expect(views[5]?.data['usage']).not.toHaveProperty('rate.millicredits');
  });
});

describe('catalogView', () => {
  it('prices plans and packs in dollars and rates in credits', () => {
    const view = catalogView(DEFAULT_CATALOG);
    expect(view.plans[1]).toEqual({
      id: 'pro',
      name: 'Pro',
      priceUsd: 29,
      monthlyCredits: 5000,
      unlimited: false,
      chatbots: 5,
      extras: ['priority support', 'advanced analytics', 'API access'],
    });
    expect(view.packs).toEqual([
      { id: 'pack_1000', credits: 1000, priceUsd: 10 },
      { id: 'pack_5000', credits: 5000, priceUsd: 45 },
    ]);
    expect(view.rates).toContainEqual({ feature: 'image', variant: 'hd', measure: 'units', credits: 8, per: 1 });
  });
});
