import { describe, expect, it } from 'vitest';
import { AccountAlreadyExistsError, AccountNotFoundError, InvalidCycleAnchorError, UnknownPlanError } from '../../domain/index.js';
import { given } from '../support/given-when-then.js';
import { ACCOUNT, adjust, at, buy, changePlan, history, open, plusDays, rollOver, setContact, spend, T0 } from './fixtures.js';

describe('given no account', () => {
  it('when a free account is opened, then it is opened and granted 100 credits for a cycle that starts now', () => {
    given([])
      .when(open('free'))
      .then([
        {
          type: 'AccountOpened',
          at: '2026-11-26T10:00:00.000Z',
          data: { plan: 'free', cycleAnchor: '2026-11-26T10:00:00.000Z', anchorRequested: false, contact: {}, catalogVersion: '2026-11-01' },
        },
        {
          type: 'Granted',
          at: '2026-11-26T10:00:00.000Z',
          data: {
            cycle: 0,
            plan: 'free',
            credits: 100_000,
            unlimited: false,
            cycleStart: '2026-11-26T10:00:00.000Z',
            cycleEnd: '2026-12-26T10:00:00.000Z',
          },
        },
      ]);
  });

  it('when a pro account is opened with contact channels, then it keeps them and is granted 5,000 credits', () => {
    given([])
      .when(open('pro', T0, { contact: { email: 'ops@acme.test', phone: '+14155550123' } }))
      .then([
        { type: 'AccountOpened', data: { plan: 'pro', contact: { email: 'ops@acme.test', phone: '+14155550123' } } },
        { type: 'Granted', data: { cycle: 0, plan: 'pro', credits: 5_000_000 } },
      ]);
  });

  it('when a custom account is opened, then its cycle is granted zero credits and marked unlimited', () => {
    given([])
      .when(open('custom'))
      .then([{ type: 'AccountOpened' }, { type: 'Granted', data: { plan: 'custom', credits: 0, unlimited: true } }]);
  });

  it('when an account is opened on a plan the catalog does not have, then it is refused with unknown_plan', () => {
    given([]).when(open('enterprise')).thenThrows(UnknownPlanError, { plan: 'enterprise' });
  });

  it('when it is opened with an anchor in the past, then the anchor sets the cycle day and the cycle granted is the one containing the opening', () => {
    given([])
      .when(open('free', at('2026-03-10T08:00:00.000Z'), { cycleAnchor: at('2026-01-31T10:00:00.000Z') }))
      .then([
        { type: 'AccountOpened', at: '2026-03-10T08:00:00.000Z', data: { cycleAnchor: '2026-01-31T10:00:00.000Z', anchorRequested: true } },
        {
          type: 'Granted',
          at: '2026-03-10T08:00:00.000Z',
          data: { cycle: 1, credits: 100_000, cycleStart: '2026-02-28T10:00:00.000Z', cycleEnd: '2026-03-31T10:00:00.000Z' },
        },
      ]);
  });

  it('when it is opened with an anchor exactly now, then the first cycle starts now', () => {
    given([])
      .when(open('free', T0, { cycleAnchor: T0 }))
      .then([{ type: 'AccountOpened', data: { anchorRequested: true } }, { type: 'Granted', data: { cycle: 0, cycleStart: T0.toISOString() } }]);
  });

  it('when it is opened with an anchor in the future, then it is refused with invalid_cycle_anchor', () => {
    given([])
      .when(open('free', T0, { cycleAnchor: plusDays(T0, 1) }))
      .thenThrows(InvalidCycleAnchorError, { field: 'cycleAnchor', cycleAnchor: '2026-11-27T10:00:00.000Z' });
  });

  it.each([
    ['usage', spend(1, T0)],
    ['a purchase', buy('pack_1000', 'pay-1', T0)],
    ['a plan change', changePlan('pro', T0)],
    ['a rollover', rollOver(T0)],
    ['an adjustment', adjust(5, 'goodwill', T0)],
    ['a contact update', setContact({ email: 'ops@acme.test' }, T0)],
  ])('when %s arrives, then it is refused with account_not_found', (_, command) => {
    given([]).when(command).thenThrows(AccountNotFoundError, { accountId: ACCOUNT });
  });
});

describe('given an open free account', () => {
  const contact = { email: 'ops@acme.test' };
  const opened = history(open('free', T0, { contact }));

  it('when it is opened again with the same settings, then nothing is appended', () => {
    given(opened).when(open('free', plusDays(T0, 3), { contact })).thenNothing();
  });

  it('when it is opened again with another plan, then it is refused with account_exists', () => {
    given(opened).when(open('pro', T0, { contact })).thenThrows(AccountAlreadyExistsError, { accountId: ACCOUNT });
  });

  it('when it is opened again with other contact channels, then it is refused with account_exists', () => {
    given(opened).when(open('free', T0, { contact: { email: 'other@acme.test' } })).thenThrows('account_exists');
    given(opened).when(open('free', T0)).thenThrows('account_exists');
  });

  it('when it is opened again naming an anchor it did not ask for, then it is refused with account_exists', () => {
    given(opened).when(open('free', T0, { contact, cycleAnchor: T0 })).thenThrows('account_exists');
  });

  it('when it is opened again with its first settings after the plan changed, then nothing is appended (the open request is compared, not today’s plan)', () => {
    const upgraded = history(open('free', T0, { contact }), changePlan('pro', plusDays(T0, 1)));
    given(upgraded).when(open('free', plusDays(T0, 2), { contact })).thenNothing();
  });
});

describe('given an account opened with an anchor', () => {
  const anchor = at('2026-01-31T10:00:00.000Z');
  const opened = history(open('free', at('2026-03-10T08:00:00.000Z'), { cycleAnchor: anchor }));

  it('when it is opened again with the same anchor, then nothing is appended', () => {
    given(opened).when(open('free', at('2026-03-11T08:00:00.000Z'), { cycleAnchor: anchor })).thenNothing();
  });

  it('when it is opened again with another anchor or none, then it is refused with account_exists', () => {
    given(opened).when(open('free', at('2026-03-11T08:00:00.000Z'), { cycleAnchor: at('2026-01-30T10:00:00.000Z') })).thenThrows('account_exists');
    given(opened).when(open('free', at('2026-03-11T08:00:00.000Z'))).thenThrows('account_exists');
  });

  it('then its later cycles follow the anchor’s calendar (Mar 31 10:00, then Apr 30 10:00)', () => {
    const { state } = given(opened).when(rollOver(at('2026-03-31T10:00:00.000Z'))).then([
      { type: 'Expired', data: { cycle: 1, amount: 100_000 } },
      { type: 'Granted', data: { cycle: 2, cycleStart: '2026-03-31T10:00:00.000Z', cycleEnd: '2026-04-30T10:00:00.000Z' } },
    ]);
    expect(state.cycle).toBe(2);
  });
});
