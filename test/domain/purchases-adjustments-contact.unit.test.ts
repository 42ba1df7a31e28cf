import { describe, expect, it } from 'vitest';
import { InsufficientCreditsError, InvalidAmountError, PaymentRefReusedError, UnknownPackError } from '../../domain/index.js';
import { given } from '../support/given-when-then.js';
import { adjust, buy, history, open, plusMinutes, setContact, spend, T0 } from './fixtures.js';

const t = (minutes: number): Date => plusMinutes(T0, minutes);

describe('purchases: given a free account', () => {
  const fresh = history(open('free'));

  it('when a 1,000-credit pack is bought, then a purchased lot is credited with its pack, price and payment reference', () => {
    const { state } = given(fresh)
      .when(buy('pack_1000', 'pay-1', t(1)))
      .then([
        {
          type: 'Credited',
          at: t(1).toISOString(),
          data: { source: 'purchase', lotId: 'lot-3', amount: 1_000_000, priceUsdCents: 1000, pack: 'pack_1000', paymentRef: 'pay-1' },
        },
      ]);
    expect(state.lots).toEqual([{ lotId: 'lot-3', credited: 1_000_000, remaining: 1_000_000, priceUsdCents: 1000 }]);
  });

  it('when a 5,000-credit pack is bought, then it is credited at $45.00', () => {
    given(fresh)
      .when(buy('pack_5000', 'pay-2', t(1)))
      .then([{ type: 'Credited', data: { amount: 5_000_000, priceUsdCents: 4500 } }]);
  });

  it('when a pack the catalog does not have is bought, then it is refused with unknown_pack', () => {
    given(fresh).when(buy('pack_9000', 'pay-1', t(1))).thenThrows(UnknownPackError, { pack: 'pack_9000' });
  });

  it.each(['constructor', 'toString', '__proto__'])('when a pack named "%s" is bought, then it is unknown_pack, not an Object member', (pack) => {
    given(fresh).when(buy(pack, 'pay-1', t(1))).thenThrows(UnknownPackError, { pack });
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'when the payment reference is "%s", then it is an ordinary new reference and the pack is credited',
    (paymentRef) => {
      given(fresh)
        .when(buy('pack_1000', paymentRef, t(1)))
        .then([{ type: 'Credited', data: { paymentRef } }]);
    },
  );
});

describe('purchases: given a free account that bought pack_1000 with payment pay-1', () => {
  const bought = history(open('free'), buy('pack_1000', 'pay-1', t(1)));

  it('when the same payment for the same pack arrives again, then nothing new is credited', () => {
    given(bought).when(buy('pack_1000', 'pay-1', t(2))).thenNothing();
  });

  it('when the same payment reference arrives for another pack, then it is refused with payment_ref_reused', () => {
    given(bought).when(buy('pack_5000', 'pay-1', t(2))).thenThrows(PaymentRefReusedError, { paymentRef: 'pay-1' });
  });

  it('when another payment for the same pack arrives, then a second lot is credited', () => {
    given(bought)
      .when(buy('pack_1000', 'pay-2', t(2)))
      .then([{ type: 'Credited', data: { lotId: 'lot-4', paymentRef: 'pay-2' } }]);
  });

  it.each(['constructor', '__proto__'])('when the payment reference "%s" was used, then repeating it is recognised as the same payment, even when the ledger is read back from JSON', (ref) => {
    const odd = history(open('free'), buy('pack_1000', ref, t(1)));
    const throughJson = JSON.parse(JSON.stringify(odd)) as typeof odd;
    given(throughJson).when(buy('pack_1000', ref, t(2))).thenNothing();
    given(throughJson).when(buy('pack_5000', ref, t(2))).thenThrows('payment_ref_reused');
  });
});

describe('adjustments: given a free account with all 100 credits', () => {
  const fresh = history(open('free'));

  it('when finance adds 12.5 credits with a reason, then a lot is credited at no price, kept with the reason', () => {
    const { state } = given(fresh)
      .when(adjust(12.5, 'service outage', t(1)))
      .then([{ type: 'Credited', data: { source: 'adjustment', lotId: 'lot-3', amount: 12_500, priceUsdCents: 0, note: 'service outage' } }]);
    expect(state.lots).toEqual([{ lotId: 'lot-3', credited: 12_500, remaining: 12_500, priceUsdCents: 0 }]);
  });

  it('when finance removes 7 credits with a reason, then they are debited like usage, monthly first, with the reason', () => {
    given(fresh)
      .when(adjust(-7, 'duplicate grant', t(1)))
      .then([
        {
          type: 'Debited',
          data: { reason: 'adjustment', amount: 7000, split: { monthly: 7000, purchased: 0, lots: [] }, unlimited: false, cycle: 0, note: 'duplicate grant' },
        },
      ]);
  });

  it('when finance removes more than the balance, then it is refused with insufficient_credits: an adjustment cannot overdraw', () => {
    given(fresh).when(adjust(-100.001, 'correction', t(1))).thenThrows(InsufficientCreditsError, { required: 100.001, available: 100 });
  });

  it('when the adjustment is zero, then it is refused with invalid_amount', () => {
    given(fresh).when(adjust(0, 'nothing', t(1))).thenThrows(InvalidAmountError, { field: 'credits' });
  });

  it('when the adjustment has no reason, then it is refused with invalid_amount on reason', () => {
    given(fresh).when(adjust(5, '   ', t(1))).thenThrows(InvalidAmountError, { field: 'reason' });
  });

  it('when the amount is not whole millicredits, then it is refused', () => {
    given(fresh)
      .when({ type: 'AdjustCredits', accountId: 'acme', now: t(1), amount: 0.5, reason: 'half a millicredit' })
      .thenThrows('invalid_amount');
  });
});

describe('adjustments: given a free account with 10 monthly credits and a pack', () => {
  const ledger = history(open('free'), spend(90, t(1)), buy('pack_1000', 'pay-1', t(2)));

  it('when finance removes 50 credits, then the monthly bucket pays first and the pack the rest', () => {
    given(ledger)
      .when(adjust(-50, 'correction', t(3)))
      .then([{ type: 'Debited', data: { split: { monthly: 10_000, purchased: 40_000, lots: [{ lotId: 'lot-5', amount: 40_000 }] } } }]);
  });
});

describe('contact channels: given an account with an email and a phone', () => {
  const ledger = history(open('free', T0, { contact: { email: 'ops@acme.test', phone: '+14155550123' } }));

  it('when the contact is replaced with only a new email, then both channels are replaced: the phone is removed', () => {
    const { state } = given(ledger)
      .when(setContact({ email: 'billing@acme.test' }, t(1)))
      .then([{ type: 'ContactUpdated', data: { contact: { email: 'billing@acme.test' } } }]);
    expect(state.contact).toEqual({ email: 'billing@acme.test' });
  });

  it('when the contact is replaced with nothing, then warnings have nowhere to go', () => {
    const { state } = given(ledger).when(setContact({}, t(1))).then([{ type: 'ContactUpdated', data: { contact: {} } }]);
    expect(state.contact).toEqual({});
  });

  it('when the same channels are sent again, then nothing is appended', () => {
    given(ledger).when(setContact({ phone: '+14155550123', email: 'ops@acme.test' }, t(1))).thenNothing();
  });
});
