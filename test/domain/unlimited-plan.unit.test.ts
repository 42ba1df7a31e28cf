import { describe, expect, it } from 'vitest';
import { PacksNotAvailableError } from '../../domain/index.js';
import { given } from '../support/given-when-then.js';
import { adjust, at, buy, changePlan, history, open, plusMinutes, rollOver, spend, T0, usage } from './fixtures.js';

const t = (minutes: number): Date => plusMinutes(T0, minutes);

describe('given a custom (unlimited) account', () => {
  const custom = history(open('custom'));

  it('when a million credits of usage arrive, then they are accepted and metered, drawn from no bucket', () => {
    const { state } = given(custom)
      .when(usage(t(1), { feature: 'chat', model: 'advanced', inputTokens: 100_000_000 }))
      .then([{ type: 'Debited', data: { reason: 'usage', amount: 1_000_000_000, unlimited: true, split: { monthly: 0, purchased: 0, lots: [] } } }]);
    expect(state.monthly).toEqual({ allocation: 0, remaining: 0 });
  });

  it('when usage keeps arriving, then it is never refused and never warns', () => {
    const heavy = history(open('custom'), spend(500_000, t(1)), spend(500_000, t(2)));
    given(heavy)
      .when(usage(t(3), { feature: 'image', quality: 'hd', units: 1000 }))
      .then([{ type: 'Debited', data: { amount: 8_000_000, unlimited: true, usage: { rate: { variant: 'hd' } } } }]);
  });

  it('when usage of an unknown model arrives, then it is still refused with unknown_rate: unlimited is not unpriced', () => {
    given(custom).when(usage(t(1), { feature: 'chat', model: 'gigantic', inputTokens: 1 })).thenThrows('unknown_rate');
  });

  it('when a pack is bought, then it is refused with packs_not_available (422)', () => {
    const error = given(custom).when(buy('pack_1000', 'pay-1', t(1))).thenThrows(PacksNotAvailableError, { plan: 'custom' });
    expect(error.kind).toBe('business_rule');
  });

  it('when its cycle ends, then the next cycle gets a zero grant, marked unlimited, and nothing expires', () => {
    given(custom)
      .when(rollOver(at('2027-01-26T10:00:00.000Z')))
      .then([
        { type: 'Granted', data: { cycle: 1, plan: 'custom', credits: 0, unlimited: true } },
        { type: 'Granted', data: { cycle: 2, plan: 'custom', credits: 0, unlimited: true } },
      ]);
  });

  it('when finance removes credits it does not hold, then the adjustment is refused: an adjustment draws purchased credits and cannot overdraw', () => {
    given(custom).when(adjust(-1, 'correction', t(1))).thenThrows('insufficient_credits', { required: 1, available: 0 });
  });
});

describe('given a pro account with purchased credits that upgrades to custom', () => {
  const upgraded = history(open('pro'), buy('pack_1000', 'pay-1', t(1)), changePlan('custom', t(2)));

  it('when usage arrives, then the purchased credits are left untouched (kept for a later downgrade)', () => {
    const { state } = given(upgraded)
      .when(spend(2000, t(3)))
      .then([{ type: 'Debited', data: { unlimited: true, split: { monthly: 0, purchased: 0 } } }]);
    expect(state.lots.map((l) => l.remaining)).toEqual([1_000_000]);
  });

  it('when the same purchase is retried after the upgrade, then it is recognised and nothing is appended', () => {
    given(upgraded).when(buy('pack_1000', 'pay-1', t(3))).thenNothing();
  });
});
