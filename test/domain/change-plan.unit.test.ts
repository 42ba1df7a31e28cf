import { describe, expect, it } from 'vitest';
import { UnknownPlanError } from '../../domain/index.js';
import { given } from '../support/given-when-then.js';
import { at, buy, changePlan, history, open, rollOver, spend } from './fixtures.js';

const ANCHOR = at('2026-01-31T10:00:00.000Z');
const UPGRADE_AT = at('2026-02-10T15:30:00.000Z');

describe('given a free account anchored on January 31 with 60 credits left and a pack bought', () => {
  const ledger = history(open('free', ANCHOR), spend(40, at('2026-02-05T10:00:00.000Z')), buy('pack_1000', 'pay-1', at('2026-02-06T10:00:00.000Z')));

  it('when it upgrades to pro, then at once the 60 monthly credits expire, 5,000 are granted and a new cycle starts now', () => {
    const { state } = given(ledger)
      .when(changePlan('pro', UPGRADE_AT))
      .then([
        {
          type: 'PlanChanged',
          at: UPGRADE_AT.toISOString(),
          data: { from: 'free', to: 'pro', status: 'applied', effectiveAt: UPGRADE_AT.toISOString(), startsNewCycle: true },
        },
        { type: 'Expired', at: UPGRADE_AT.toISOString(), data: { cycle: 0, amount: 60_000 } },
        {
          type: 'Granted',
          at: UPGRADE_AT.toISOString(),
          data: { cycle: 1, plan: 'pro', credits: 5_000_000, unlimited: false, cycleStart: '2026-02-10T15:30:00.000Z', cycleEnd: '2026-03-10T15:30:00.000Z' },
        },
      ]);
    expect(state.plan).toBe('pro');
    expect(state.monthly).toEqual({ allocation: 5_000_000, remaining: 5_000_000 });
    expect(state.lots.map((l) => l.remaining)).toEqual([1_000_000]);
  });

  it('when it has upgraded, then its calendar is re-anchored: the next cycles start on the 10th at 15:30, not on the old anchor day', () => {
    const upgraded = history(
      open('free', ANCHOR),
      spend(40, at('2026-02-05T10:00:00.000Z')),
      buy('pack_1000', 'pay-1', at('2026-02-06T10:00:00.000Z')),
      changePlan('pro', UPGRADE_AT),
    );
    given(upgraded)
      .when(rollOver(at('2026-04-10T15:30:00.000Z')))
      .then([
        { type: 'Expired', at: '2026-03-10T15:30:00.000Z', data: { cycle: 1, amount: 5_000_000 } },
        { type: 'Granted', data: { cycle: 2, cycleStart: '2026-03-10T15:30:00.000Z', cycleEnd: '2026-04-10T15:30:00.000Z' } },
        { type: 'Expired', data: { cycle: 2 } },
        { type: 'Granted', data: { cycle: 3, cycleStart: '2026-04-10T15:30:00.000Z', cycleEnd: '2026-05-10T15:30:00.000Z' } },
      ]);
  });

  it('when it upgrades straight to custom, then the new cycle is unlimited with a zero grant', () => {
    given(ledger)
      .when(changePlan('custom', UPGRADE_AT))
      .then([
        { type: 'PlanChanged', data: { from: 'free', to: 'custom', status: 'applied' } },
        { type: 'Expired', data: { amount: 60_000 } },
        { type: 'Granted', data: { plan: 'custom', credits: 0, unlimited: true } },
      ]);
  });

  it('when it asks for a plan the catalog does not have, then it is refused with unknown_plan', () => {
    given(ledger).when(changePlan('platinum', UPGRADE_AT)).thenThrows(UnknownPlanError, { plan: 'platinum' });
  });

  it.each(['toString', 'constructor'])('when it asks for a plan named "%s", then it is unknown_plan, not an Object member', (plan) => {
    given(ledger).when(changePlan(plan, UPGRADE_AT)).thenThrows(UnknownPlanError, { plan });
  });

  it('when it asks for the plan it is on, then nothing is appended', () => {
    given(ledger).when(changePlan('free', UPGRADE_AT)).thenNothing();
  });
});

describe('given a free account that spent all its monthly credits', () => {
  const ledger = history(open('free', ANCHOR), spend(100, at('2026-02-05T10:00:00.000Z')));

  it('when it upgrades, then nothing expires (nothing is left) and the new allocation is granted', () => {
    given(ledger)
      .when(changePlan('pro', UPGRADE_AT))
      .then([{ type: 'PlanChanged' }, { type: 'Granted', data: { cycle: 1, credits: 5_000_000 } }]);
  });
});

describe('given a pro account anchored on January 31', () => {
  const ledger = history(open('pro', ANCHOR), spend(1000, at('2026-02-05T10:00:00.000Z')));
  const DOWNGRADE_AT = at('2026-02-10T15:30:00.000Z');

  it('when it downgrades to free, then the change is scheduled for the next cycle start and nothing else changes now', () => {
    const { state } = given(ledger)
      .when(changePlan('free', DOWNGRADE_AT))
      .then([
        {
          type: 'PlanChanged',
          at: DOWNGRADE_AT.toISOString(),
          data: { from: 'pro', to: 'free', status: 'scheduled', effectiveAt: '2026-02-28T10:00:00.000Z', startsNewCycle: false },
        },
      ]);
    expect(state.plan).toBe('pro');
    expect(state.pendingPlan).toBe('free');
    expect(state.monthly).toEqual({ allocation: 5_000_000, remaining: 4_000_000 });
  });

  it('when it downgrades to free and the cycle ends, then the pro credits expire, the change applies at the boundary and free’s 100 are granted', () => {
    const scheduled = history(open('pro', ANCHOR), spend(1000, at('2026-02-05T10:00:00.000Z')), changePlan('free', DOWNGRADE_AT));
    const { state } = given(scheduled)
      .when(rollOver(at('2026-02-28T10:00:00.000Z')))
      .then([
        { type: 'Expired', data: { cycle: 0, amount: 4_000_000 } },
        {
          type: 'PlanChanged',
          at: '2026-02-28T10:00:00.000Z',
          data: { from: 'pro', to: 'free', status: 'applied', effectiveAt: '2026-02-28T10:00:00.000Z', startsNewCycle: false },
        },
        { type: 'Granted', data: { cycle: 1, plan: 'free', credits: 100_000, cycleStart: '2026-02-28T10:00:00.000Z', cycleEnd: '2026-03-31T10:00:00.000Z' } },
      ]);
    expect(state.plan).toBe('free');
    expect(state.pendingPlan).toBeNull();
  });

  it('when a downgrade is scheduled and it asks for pro again, then the scheduled change is cancelled and the next cycle stays pro', () => {
    const scheduled = history(open('pro', ANCHOR), changePlan('free', DOWNGRADE_AT));
    const cancelled = given(scheduled)
      .when(changePlan('pro', at('2026-02-11T09:00:00.000Z')))
      .then([{ type: 'PlanChanged', data: { from: 'pro', to: 'free', status: 'cancelled', effectiveAt: '2026-02-28T10:00:00.000Z' } }]);
    expect(cancelled.state.pendingPlan).toBeNull();
    given([...scheduled, ...cancelled.events])
      .when(rollOver(at('2026-02-28T10:00:00.000Z')))
      .then([{ type: 'Expired' }, { type: 'Granted', data: { cycle: 1, plan: 'pro', credits: 5_000_000 } }]);
  });

  it('when a downgrade is scheduled and the same downgrade is asked again, then nothing is appended', () => {
    const scheduled = history(open('pro', ANCHOR), changePlan('free', DOWNGRADE_AT));
    given(scheduled).when(changePlan('free', at('2026-02-12T09:00:00.000Z'))).thenNothing();
  });

  it('when a downgrade is scheduled and it upgrades to custom, then the upgrade applies now and the downgrade is dropped', () => {
    const scheduled = history(open('pro', ANCHOR), changePlan('free', DOWNGRADE_AT));
    const upgraded = given(scheduled)
      .when(changePlan('custom', at('2026-02-12T09:00:00.000Z')))
      .then([{ type: 'PlanChanged', data: { from: 'pro', to: 'custom', status: 'applied' } }, { type: 'Expired' }, { type: 'Granted', data: { plan: 'custom' } }]);
    expect(upgraded.state.pendingPlan).toBeNull();
    given([...scheduled, ...upgraded.events])
      .when(rollOver(at('2026-03-12T09:00:00.000Z')))
      .then([{ type: 'Granted', data: { plan: 'custom', unlimited: true } }]);
  });
});

describe('given a custom account', () => {
  const ledger = history(open('custom', ANCHOR));

  it('when it downgrades to pro, then the change waits for the next cycle, where pro’s 5,000 are granted and the plan is limited again', () => {
    const scheduled = given(ledger)
      .when(changePlan('pro', at('2026-02-10T00:00:00.000Z')))
      .then([{ type: 'PlanChanged', data: { from: 'custom', to: 'pro', status: 'scheduled', effectiveAt: '2026-02-28T10:00:00.000Z' } }]);
    const { state } = given([...ledger, ...scheduled.events])
      .when(rollOver(at('2026-02-28T10:00:00.000Z')))
      .then([{ type: 'PlanChanged', data: { status: 'applied' } }, { type: 'Granted', data: { plan: 'pro', credits: 5_000_000, unlimited: false } }]);
    expect(state.unlimited).toBe(false);
  });

  it('when a downgrade to free is scheduled and it then asks for pro, then pro replaces free as the next cycle’s plan', () => {
    const scheduled = history(open('custom', ANCHOR), changePlan('free', at('2026-02-10T00:00:00.000Z')));
    const replaced = given(scheduled)
      .when(changePlan('pro', at('2026-02-11T00:00:00.000Z')))
      .then([{ type: 'PlanChanged', data: { from: 'custom', to: 'pro', status: 'scheduled' } }]);
    given([...scheduled, ...replaced.events])
      .when(rollOver(at('2026-02-28T10:00:00.000Z')))
      .then([{ type: 'PlanChanged', data: { to: 'pro', status: 'applied' } }, { type: 'Granted', data: { plan: 'pro' } }]);
  });
});
