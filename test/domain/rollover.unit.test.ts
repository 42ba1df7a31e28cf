import { describe, expect, it } from 'vitest';
import { execute, stateAt } from '../../domain/index.js';
import { given } from '../support/given-when-then.js';
import { at, buy, history, open, rollOver, spend } from './fixtures.js';

const ANCHOR = at('2026-01-31T10:00:00.000Z');

describe('given a free account anchored on January 31 at 10:00 with 60 credits left', () => {
  const ledger = history(open('free', ANCHOR), spend(40, at('2026-02-10T12:00:00.000Z')));

  it('when the rollover runs at Feb 28 10:00, then the 60 unused credits expire and cycle 1 (Feb 28 → Mar 31) is granted 100', () => {
    const { state } = given(ledger)
      .when(rollOver(at('2026-02-28T10:00:00.000Z')))
      .then([
        { type: 'Expired', at: '2026-02-28T10:00:00.000Z', data: { cycle: 0, amount: 60_000 } },
        {
          type: 'Granted',
          at: '2026-02-28T10:00:00.000Z',
          data: { cycle: 1, plan: 'free', credits: 100_000, cycleStart: '2026-02-28T10:00:00.000Z', cycleEnd: '2026-03-31T10:00:00.000Z' },
        },
      ]);
    expect(state.monthly).toEqual({ allocation: 100_000, remaining: 100_000 });
  });

  it('when the rollover runs a millisecond before the boundary, then nothing is appended', () => {
    given(ledger).when(rollOver(at('2026-02-28T09:59:59.999Z'))).thenNothing();
  });

  it('when the rollover runs twice for the same boundary, then the second appends nothing (idempotent per cycle)', () => {
    const first = given(ledger).when(rollOver(at('2026-02-28T10:00:00.000Z'))).then([{ type: 'Expired' }, { type: 'Granted' }]);
    given([...ledger, ...first.events]).when(rollOver(at('2026-02-28T10:00:05.000Z'))).thenNothing();
  });

  it('when usage arrives at 10:00:01 on the reset day before any rollover ran, then it already sees the new cycle: expiry, grant, then the debit in cycle 1', () => {
    given(ledger)
      .when(spend(5, at('2026-02-28T10:00:01.000Z')))
      .then([
        { type: 'Expired', at: '2026-02-28T10:00:00.000Z', data: { cycle: 0, amount: 60_000 } },
        { type: 'Granted', at: '2026-02-28T10:00:00.000Z', data: { cycle: 1, credits: 100_000 } },
        { type: 'Debited', at: '2026-02-28T10:00:01.000Z', data: { cycle: 1, split: { monthly: 5000, purchased: 0, lots: [] } } },
      ]);
  });

  it('when usage arrives a millisecond before the reset, then it is charged to the old cycle', () => {
    given(ledger)
      .when(spend(5, at('2026-02-28T09:59:59.999Z')))
      .then([{ type: 'Debited', data: { cycle: 0 } }]);
  });

  it('when the account stays idle for three cycles, then the next command brings three expire/grant pairs, in order, at each boundary', () => {
    given(ledger)
      .when(rollOver(at('2026-05-01T00:00:00.000Z')))
      .then([
        { type: 'Expired', at: '2026-02-28T10:00:00.000Z', data: { cycle: 0, amount: 60_000 } },
        { type: 'Granted', at: '2026-02-28T10:00:00.000Z', data: { cycle: 1, cycleStart: '2026-02-28T10:00:00.000Z' } },
        { type: 'Expired', at: '2026-03-31T10:00:00.000Z', data: { cycle: 1, amount: 100_000 } },
        { type: 'Granted', at: '2026-03-31T10:00:00.000Z', data: { cycle: 2, cycleStart: '2026-03-31T10:00:00.000Z' } },
        { type: 'Expired', at: '2026-04-30T10:00:00.000Z', data: { cycle: 2, amount: 100_000 } },
        { type: 'Granted', at: '2026-04-30T10:00:00.000Z', data: { cycle: 3, cycleStart: '2026-04-30T10:00:00.000Z', cycleEnd: '2026-05-31T10:00:00.000Z' } },
      ]);
  });

  it('when a read looks after the boundary, then stateAt shows the new cycle without recording anything, exactly as the rollover would leave it', () => {
    const opened = execute(rollOver(at('2026-02-01T00:00:00.000Z')), given(ledger).state).state;
    const readAt = at('2026-03-01T00:00:00.000Z');
    const seen = stateAt(opened, readAt);
    expect(seen.cycle).toBe(1);
    expect(seen.monthly.remaining).toBe(100_000);
    expect(opened.cycle).toBe(0);
    expect(seen).toEqual(execute(rollOver(readAt), opened).state);
  });
});

describe('given a free account anchored on January 31 that spent its whole allocation', () => {
  const ledger = history(open('free', ANCHOR), spend(100, at('2026-02-10T12:00:00.000Z')));

  it('when the rollover runs, then only the grant is appended: nothing remains to expire', () => {
    given(ledger)
      .when(rollOver(at('2026-02-28T10:00:00.000Z')))
      .then([{ type: 'Granted', data: { cycle: 1 } }]);
  });
});

describe('given a free account with a pack bought and part of it spent', () => {
  const ledger = history(open('free', ANCHOR), buy('pack_1000', 'pay-1', at('2026-02-01T10:00:00.000Z')), spend(150, at('2026-02-02T10:00:00.000Z')));

  it('when cycles roll over, then only monthly credits expire: the 950 purchased credits are kept', () => {
    const { state } = given(ledger)
      .when(rollOver(at('2026-04-01T00:00:00.000Z')))
      .then([
        { type: 'Granted', data: { cycle: 1 } },
        { type: 'Expired', data: { cycle: 1, amount: 100_000 } },
        { type: 'Granted', data: { cycle: 2 } },
      ]);
    expect(state.lots.map((l) => l.remaining)).toEqual([950_000]);
  });
});
