import { describe, expect, it } from 'vitest';
import { InsufficientCreditsError, InvalidUsageError, UnknownRateError, type LedgerEvent } from '../../domain/index.js';
import { given } from '../support/given-when-then.js';
import { at, balanceOf, buy, history, open, plusMinutes, plusMs, spend, T0, usage, adjust } from './fixtures.js';

const lotIdsOf = (events: LedgerEvent[]): string[] => events.flatMap((e) => (e.type === 'Credited' ? [e.data.lotId] : []));

describe('given a free account with all 100 credits', () => {
  const fresh = history(open('free'));
  const now = plusMinutes(T0, 5);

  it('when chat/standard usage of 1,234 + 567 tokens arrives, then 3.602 credits are debited from the monthly bucket with the rate and catalog version used', () => {
    const { state } = given(fresh)
      .when(usage(now, { feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 }))
      .then([
        {
          type: 'Debited',
          at: now.toISOString(),
          data: {
            reason: 'usage',
            amount: 3602,
            split: { monthly: 3602, purchased: 0, lots: [] },
            unlimited: false,
            cycle: 0,
            usage: {
              feature: 'chat',
              model: 'standard',
              inputTokens: 1234,
              outputTokens: 567,
              quantity: 1801,
              occurredAt: now.toISOString(),
              catalogVersion: '2026-11-01',
              rate: { feature: 'chat', variant: 'standard', measure: 'tokens', millicredits: 2000, per: 1000 },
            },
          },
        },
      ]);
    expect(balanceOf(state)).toBe(96.398);
  });

  it('when usage arrives, then its record holds the fields reported, in one order, and none of those left out', () => {
    const chatbot = given(fresh).when(usage(now, { feature: 'chatbot', model: 'mini', inputTokens: 100, outputTokens: 5, chatbotId: 'bot-7' }));
    const [debit] = chatbot.then([{ type: 'Debited' }]).events;
    const recorded = debit?.type === 'Debited' ? debit.data.usage : undefined;
    expect(Object.keys(recorded ?? {})).toEqual(['feature', 'model', 'inputTokens', 'outputTokens', 'chatbotId', 'occurredAt', 'quantity', 'rate', 'catalogVersion']);

    const [image] = given(fresh).when(usage(now, { feature: 'image', quality: 'hd' })).then([{ type: 'Debited' }]).events;
    const imageRecord = image?.type === 'Debited' ? image.data.usage : undefined;
    expect(Object.keys(imageRecord ?? {})).toEqual(['feature', 'quality', 'occurredAt', 'quantity', 'rate', 'catalogVersion']);
  });

  it('when chat/mini usage of 333 tokens arrives, then 0.167 credits are debited', () => {
    given(fresh)
      .when(usage(now, { feature: 'chat', model: 'mini', inputTokens: 333 }))
      .then([{ type: 'Debited', data: { amount: 167 } }]);
  });

  it('when three hd images arrive, then 24 credits are debited and the quality and units are recorded', () => {
    given(fresh)
      .when(usage(now, { feature: 'image', quality: 'hd', units: 3 }))
      .then([{ type: 'Debited', data: { amount: 24_000, usage: { feature: 'image', quality: 'hd', units: 3, quantity: 3 } } }]);
  });

  it('when chatbot usage arrives, then the chatbot is recorded with it', () => {
    given(fresh)
      .when(usage(now, { feature: 'chatbot', model: 'mini', inputTokens: 100, chatbotId: 'bot-7' }))
      .then([{ type: 'Debited', data: { amount: 50, usage: { feature: 'chatbot', chatbotId: 'bot-7' } } }]);
  });

  it('when usage of zero tokens arrives, then a zero debit is recorded: metered, nothing drawn', () => {
    const { state } = given(fresh)
      .when(usage(now, { feature: 'chat', model: 'advanced', inputTokens: 0, outputTokens: 0 }))
      .then([{ type: 'Debited', data: { amount: 0, split: { monthly: 0, purchased: 0, lots: [] }, usage: { quantity: 0 } } }]);
    expect(balanceOf(state)).toBe(100);
  });

  it('when usage says it happened earlier, then that moment is recorded and the debit is made now', () => {
    const occurredAt = plusMinutes(T0, 1);
    given(fresh)
      .when(usage(now, { feature: 'chat', model: 'mini', inputTokens: 2, occurredAt }))
      .then([{ type: 'Debited', at: now.toISOString(), data: { usage: { occurredAt: occurredAt.toISOString() } } }]);
  });

  it('when usage says it happened up to 5 minutes ahead of the ledger’s clock, then it is accepted (clock skew)', () => {
    given(fresh)
      .when(usage(now, { feature: 'chat', model: 'mini', inputTokens: 2, occurredAt: plusMinutes(now, 5) }))
      .then([{ type: 'Debited' }]);
  });

  it('when usage says it happened more than 5 minutes ahead, then it is refused with invalid_usage on occurredAt', () => {
    given(fresh)
      .when(usage(now, { feature: 'chat', model: 'mini', inputTokens: 2, occurredAt: plusMs(plusMinutes(now, 5), 1) }))
      .thenThrows(InvalidUsageError, { field: 'occurredAt' });
  });

  it('when usage of an unknown model arrives, then it is refused with unknown_rate and nothing is appended', () => {
    given(fresh)
      .when(usage(now, { feature: 'chat', model: 'gigantic', inputTokens: 10 }))
      .thenThrows(UnknownRateError, { feature: 'chat', variant: 'gigantic', field: 'model' });
  });

  it('when usage of an unknown feature arrives, then it is refused with unknown_rate', () => {
    given(fresh).when(usage(now, { feature: 'video', quality: 'hd', units: 1 })).thenThrows('unknown_rate');
  });

  it('when usage of an unknown image quality arrives, then it is refused with unknown_rate', () => {
    given(fresh).when(usage(now, { feature: 'image', quality: 'ultra', units: 1 })).thenThrows('unknown_rate');
  });

  it('when 104 credits of usage arrive, then it is refused with insufficient_credits showing 104 required and 100 available', () => {
    given(fresh).when(spend(104, now)).thenThrows(InsufficientCreditsError, { required: 104, available: 100 });
  });
});

describe('given a free account with 30 credits left', () => {
  const thirtyLeft = history(open('free'), spend(70, plusMinutes(T0, 1)));
  const now = plusMinutes(T0, 2);

  it('when 40 credits of usage arrive, then it is refused with insufficient_credits and nothing is appended', () => {
    given(thirtyLeft).when(spend(40, now)).thenThrows('insufficient_credits', { required: 40, available: 30 });
  });

  it('when a charge one millicredit over the balance arrives, then it is refused', () => {
    given(thirtyLeft).when(spend(30.001, now)).thenThrows('insufficient_credits', { required: 30.001, available: 30 });
  });

  it('when exactly 30 credits of usage arrive, then they are debited and the balance is zero, never below', () => {
    const { state } = given(thirtyLeft).when(spend(30, now)).then([{ type: 'Debited', data: { amount: 30_000 } }, { type: 'ThresholdCrossed' }]);
    expect(state.monthly.remaining).toBe(0);
    expect(balanceOf(state)).toBe(0);
  });
});

describe('given a free account with 10 monthly credits left and two packs bought in order', () => {
  const t = (minutes: number): Date => plusMinutes(T0, minutes);
  const ledger = history(open('free'), spend(90, t(1)), buy('pack_1000', 'pay-older', t(2)), buy('pack_5000', 'pay-newer', t(3)));
  const [olderLot, newerLot] = lotIdsOf(ledger);

  it('when 1,500 credits of usage arrive, then the monthly bucket pays first, then the older lot in full, then the newer lot, and the split is recorded', () => {
    const { state } = given(ledger)
      .when(spend(1500, t(4)))
      .then([
        {
          type: 'Debited',
          data: {
            amount: 1_500_000,
            split: {
              monthly: 10_000,
              purchased: 1_490_000,
              lots: [
                { lotId: olderLot!, amount: 1_000_000 },
                { lotId: newerLot!, amount: 490_000 },
              ],
            },
          },
        },
      ]);
    expect(state.monthly.remaining).toBe(0);
    expect(state.lots).toEqual([{ lotId: newerLot, credited: 5_000_000, remaining: 4_510_000, priceUsdCents: 4500 }]);
  });

  it('when 5 credits of usage arrive, then only the monthly bucket pays', () => {
    given(ledger)
      .when(spend(5, t(4)))
      .then([{ type: 'Debited', data: { split: { monthly: 5000, purchased: 0, lots: [] } } }]);
  });

  it('when usage larger than everything arrives, then the refusal counts monthly and purchased credits as available', () => {
    given(ledger).when(spend(6010.001, t(4))).thenThrows('insufficient_credits', { required: 6010.001, available: 6010 });
  });

  it('when a positive adjustment is made, then it becomes the newest lot and is drawn after the packs', () => {
    const adjusted = given(ledger).when(adjust(50, 'goodwill', t(4))).then([{ type: 'Credited' }]);
    const goodwillLot = adjusted.events[0]!.type === 'Credited' ? adjusted.events[0]!.data.lotId : '';
    expect(adjusted.state.lots.map((l) => l.lotId)).toEqual([olderLot, newerLot, goodwillLot]);
  });
});

describe('given a free account at the last minute of its cycle with 30 credits left', () => {
  const thirtyLeft = history(open('free', at('2026-01-31T10:00:00.000Z')), spend(70, at('2026-02-01T10:00:00.000Z')));

  it('when 200 credits of usage arrive just after the reset, then the refusal already counts the new cycle’s 100 and appends nothing, not even the rollover', () => {
    given(thirtyLeft).when(spend(200, at('2026-02-28T10:00:01.000Z'))).thenThrows('insufficient_credits', { required: 200, available: 100 });
  });

  it('when 40 credits of usage arrive just before the reset, then they are refused against the old cycle’s 30', () => {
    given(thirtyLeft).when(spend(40, at('2026-02-28T09:59:59.999Z'))).thenThrows('insufficient_credits', { required: 40, available: 30 });
  });
});
