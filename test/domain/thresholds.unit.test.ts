import { describe, it } from 'vitest';
import { given } from '../support/given-when-then.js';
import { adjust, at, buy, history, open, plusMinutes, rollOver, spend, T0 } from './fixtures.js';

const t = (minutes: number): Date => plusMinutes(T0, minutes);
const CYCLE_END = '2026-12-26T10:00:00.000Z';

describe('given a free account with all 100 credits (thresholds at 20 and 5 credits)', () => {
  const fresh = history(open('free'));

  it('when usage leaves exactly 20.000 credits, then no warning: "below" is strict', () => {
    given(fresh).when(spend(80, t(1))).then([{ type: 'Debited' }]);
  });

  it('when usage leaves 19.999 credits, then the 20% warning is appended with the debit', () => {
    given(fresh)
      .when(spend(80.001, t(1)))
      .then([
        { type: 'Debited', data: { amount: 80_001 } },
        {
          type: 'ThresholdCrossed',
          at: t(1).toISOString(),
          data: { threshold: 20, crossed: [20], cycle: 0, balance: 19_999, allocation: 100_000, cycleEnd: CYCLE_END },
        },
      ]);
  });

  it('when usage leaves exactly 5.000 credits, then only the 20% warning fires', () => {
    given(fresh)
      .when(spend(95, t(1)))
      .then([{ type: 'Debited' }, { type: 'ThresholdCrossed', data: { threshold: 20, crossed: [20], balance: 5000 } }]);
  });

  it('when one debit crosses both 20% and 5%, then one warning is appended, naming 5%', () => {
    given(fresh)
      .when(spend(96, t(1)))
      .then([{ type: 'Debited' }, { type: 'ThresholdCrossed', data: { threshold: 5, crossed: [20, 5], balance: 4000 } }]);
  });

  it('when a negative adjustment takes the balance below 20%, then it warns like usage', () => {
    given(fresh)
      .when(adjust(-85, 'chargeback', t(1)))
      .then([{ type: 'Debited', data: { reason: 'adjustment' } }, { type: 'ThresholdCrossed', data: { threshold: 20 } }]);
  });
});

describe('given a free account already warned at 20% (15 credits left)', () => {
  const warned = history(open('free'), spend(85, t(1)));

  it('when more usage stays above 5%, then no second 20% warning in the same cycle', () => {
    given(warned).when(spend(5, t(2))).then([{ type: 'Debited' }]);
  });

  it('when usage then goes below 5%, then the 5% warning fires alone', () => {
    given(warned)
      .when(spend(11, t(2)))
      .then([{ type: 'Debited' }, { type: 'ThresholdCrossed', data: { threshold: 5, crossed: [5], balance: 4000 } }]);
  });

  it('when a positive adjustment lifts the balance back to exactly 20, then 20% is re-armed and the next debit below warns again', () => {
    const rearmed = history(open('free'), spend(85, t(1)), adjust(5, 'goodwill', t(2)));
    given(rearmed)
      .when(spend(0.001, t(3)))
      .then([{ type: 'Debited' }, { type: 'ThresholdCrossed', data: { threshold: 20, crossed: [20], balance: 19_999 } }]);
  });

  it('when a positive adjustment leaves the balance still below 20, then 20% stays spent: the next debit does not warn again', () => {
    const stillLow = history(open('free'), spend(85, t(1)), adjust(4.999, 'goodwill', t(2)));
    given(stillLow).when(spend(0.001, t(3))).then([{ type: 'Debited' }]);
  });

  it('when a pack is bought, then the warning is re-armed: spending down below 20 again warns again', () => {
    const refilled = history(open('free'), spend(85, t(1)), buy('pack_1000', 'pay-1', t(2)));
    given(refilled)
      .when(spend(1011, t(3)))
      .then([{ type: 'Debited' }, { type: 'ThresholdCrossed', data: { threshold: 5, crossed: [20, 5], balance: 4000 } }]);
  });

  it('when the next cycle grants 100 credits, then both thresholds are re-armed for the new cycle', () => {
    given(warned)
      .when(spend(81, at('2026-12-26T10:00:00.000Z')))
      .then([
        { type: 'Expired', data: { cycle: 0, amount: 15_000 } },
        { type: 'Granted', data: { cycle: 1 } },
        { type: 'Debited', data: { cycle: 1 } },
        { type: 'ThresholdCrossed', data: { threshold: 20, cycle: 1, balance: 19_000, cycleEnd: '2027-01-26T10:00:00.000Z' } },
      ]);
  });

  it('when only a rollover happens, then it warns of nothing (warnings come with debits)', () => {
    given(warned).when(rollOver(at('2026-12-26T10:00:00.000Z'))).then([{ type: 'Expired' }, { type: 'Granted' }]);
  });
});

describe('given a free account holding 1,000 purchased credits', () => {
  const withPack = history(open('free'), buy('pack_1000', 'pay-1', t(1)));

  it('when usage empties the monthly bucket, then no warning: the whole balance (monthly + purchased) is compared', () => {
    given(withPack).when(spend(1000, t(2))).then([{ type: 'Debited', data: { split: { monthly: 100_000, purchased: 900_000 } } }]);
  });

  it('when usage leaves 19.999 credits in all, then the 20% warning fires against the monthly allocation', () => {
    given(withPack)
      .when(spend(1080.001, t(2)))
      .then([{ type: 'Debited' }, { type: 'ThresholdCrossed', data: { threshold: 20, balance: 19_999, allocation: 100_000 } }]);
  });
});

describe('given a pro account (thresholds at 1,000 and 250 credits)', () => {
  const pro = history(open('pro'));

  it('when usage leaves 1,000 credits, then no warning; at 999.999, the 20% warning', () => {
    given(pro).when(spend(4000, t(1))).then([{ type: 'Debited' }]);
    given(pro)
      .when(spend(4000.001, t(1)))
      .then([{ type: 'Debited' }, { type: 'ThresholdCrossed', data: { threshold: 20, balance: 999_999, allocation: 5_000_000 } }]);
  });
});
