import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  availableBalance,
  execute,
  fold,
  initialState,
  isBelowThreshold,
  ledgerEventSchema,
  millicreditsToCredits,
  priceUsage,
  DEFAULT_CATALOG,
  stateAt,
  THRESHOLDS,
  type AccountState,
  type LedgerEvent,
  type Threshold,
} from '../../domain/index.js';
import { ACCOUNT, historyArb, PROPERTY_RUNS, simulate, type Run } from './histories.js';

/**
 * Properties of the decider over random histories of every command on every plan (see histories.ts).
 * Each property replays the ledger with its own bookkeeping, from the events alone, so it checks the decider
 * and `evolve` against the SPEC's rules rather than against themselves.
 */

/** The body of a test that runs `check` on the outcome of each of 1,000 random histories. */
const everyHistory =
  (check: (run: Run) => void) =>
  (): void => {
    fc.assert(
      fc.property(historyArb, (history) => check(simulate(history))),
      PROPERTY_RUNS,
    );
  };

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const purchased = (state: AccountState): number => sum(state.lots.map((l) => l.remaining));

describe('the ledger, over 1,000 random histories of commands and clock jumps on every plan', () => {
  it('never a negative balance on a limited plan, and a refusal for lack of credits shows what was required and what was available', everyHistory((run) => {
    for (const step of run.steps) {
      const { after, before, command, outcome } = step;
      expect(after.monthly.remaining).toBeGreaterThanOrEqual(0);
      for (const lot of after.lots) expect(lot.remaining).toBeGreaterThanOrEqual(0);

      if ('error' in outcome && outcome.error.code === 'insufficient_credits') {
        const seen = stateAt(before, command.now);
        expect(seen.unlimited && command.type === 'RecordUsage').toBe(false);
        const required =
          command.type === 'RecordUsage' ? priceUsage(DEFAULT_CATALOG, command.usage).amount : command.type === 'AdjustCredits' ? -command.amount : NaN;
        expect(outcome.error.details).toEqual({ required: millicreditsToCredits(required), available: millicreditsToCredits(availableBalance(seen)) });
        expect(required).toBeGreaterThan(availableBalance(seen));
      }
      if ('events' in outcome) {
        for (const event of outcome.events) {
          if (event.type !== 'Debited' || event.data.unlimited) continue;
          const { split, amount } = event.data;
          expect(split.monthly + split.purchased).toBe(amount);
          expect(sum(split.lots.map((l) => l.amount))).toBe(split.purchased);
        }
      }
    }
  }));

  it('conservation per bucket: granted − debited − expired = monthly remaining; credited − debited = purchased remaining, lot by lot', everyHistory((run) => {
    let monthly = 0;
    let purchasedTotal = 0;
    const lots = new Map<string, number>();
    let state = initialState(ACCOUNT);
    for (const event of run.events) {
      switch (event.type) {
        case 'Granted':
          // A grant starts a fresh monthly bucket: whatever was left must have expired first.
          expect(monthly).toBe(0);
          monthly += event.data.credits;
          break;
        case 'Debited':
          monthly -= event.data.split.monthly;
          purchasedTotal -= event.data.split.purchased;
          for (const draw of event.data.split.lots) lots.set(draw.lotId, (lots.get(draw.lotId) ?? NaN) - draw.amount);
          break;
        case 'Credited':
          purchasedTotal += event.data.amount;
          expect(lots.has(event.data.lotId)).toBe(false);
          lots.set(event.data.lotId, event.data.amount);
          break;
        case 'Expired':
          monthly -= event.data.amount;
          break;
        default:
          break;
      }
      state = fold(ACCOUNT, [event], state);
      expect(state.monthly.remaining).toBe(monthly);
      expect(purchased(state)).toBe(purchasedTotal);
      const remainingLots = [...lots].filter(([, remaining]) => remaining !== 0);
      expect(state.lots.map((l) => [l.lotId, l.remaining])).toEqual(remainingLots);
    }
  }));

  it('the monthly bucket never exceeds the allocation; purchased credits never expire', everyHistory((run) => {
    let state = initialState(ACCOUNT);
    for (const event of run.events) {
      const before = state;
      state = fold(ACCOUNT, [event], before);
      expect(state.monthly.remaining).toBeLessThanOrEqual(state.monthly.allocation);
      if (event.type === 'Expired') {
        expect(event.data.amount).toBe(before.monthly.remaining);
        expect(event.data.amount).toBeGreaterThan(0);
        expect(state.lots).toEqual(before.lots);
        expect(state.monthly.remaining).toBe(0);
      }
      if (event.type === 'Debited' && !event.data.unlimited) {
        // Monthly first; then lots oldest first, each drawn in full before the next is touched.
        const { split } = event.data;
        if (split.purchased > 0) expect(split.monthly).toBe(before.monthly.remaining);
        const drawn = split.lots.map((l) => l.lotId);
        expect(drawn).toEqual(before.lots.slice(0, drawn.length).map((l) => l.lotId));
        split.lots.slice(0, -1).forEach((draw, i) => expect(draw.amount).toBe(before.lots[i]!.remaining));
      }
    }
  }));

  it('exactly one Granted per cycle, at most one Expired, in order, with no cycle skipped', everyHistory((run) => {
    const grants = run.events.filter((e) => e.type === 'Granted');
    const expiries = run.events.filter((e) => e.type === 'Expired');
    grants.forEach((g, i) => {
      if (i > 0) expect(g.data.cycle).toBe(grants[i - 1]!.data.cycle + 1);
    });
    expect(new Set(expiries.map((e) => e.data.cycle)).size).toBe(expiries.length);

    let current: LedgerEvent | undefined;
    let cutShortAt: string | null = null;
    for (const event of run.events) {
      if (event.type === 'PlanChanged' && event.data.startsNewCycle) cutShortAt = event.data.effectiveAt;
      if (event.type === 'Expired') {
        expect(current?.type === 'Granted' && current.data.cycle).toBe(event.data.cycle);
      }
      if (event.type === 'Granted') {
        if (current?.type === 'Granted') {
          // The next cycle starts where the last one ended, or where an upgrade cut it short.
          expect(event.data.cycleStart).toBe(cutShortAt ?? current.data.cycleEnd);
          if (cutShortAt === null) expect(event.at).toBe(event.data.cycleStart);
        }
        expect(Date.parse(event.data.cycleEnd)).toBeGreaterThan(Date.parse(event.data.cycleStart));
        current = event;
        cutShortAt = null;
      }
    }
    // Lazy rollover: after every accepted command, the current cycle contains the command's moment. (Opening an
    // existing account again is the one exception: it is answered from the ledger as it is and appends nothing.)
    for (const step of run.steps) {
      if ('error' in step.outcome || step.command.type === 'OpenAccount') continue;
      expect(Date.parse(step.after.cycleStart)).toBeLessThanOrEqual(step.command.now.getTime());
      expect(Date.parse(step.after.cycleEnd)).toBeGreaterThan(step.command.now.getTime());
    }
  }));

  it('each threshold warns at most once per cycle unless re-armed, in the same append as the debit, one warning per debit', everyHistory((run) => {
    let state = initialState(ACCOUNT);
    const armed = new Set<Threshold>(THRESHOLDS);
    const firedInCycle = new Map<string, number>();
    const rearmedInCycle = new Map<string, number>();
    const rearmIfLifted = (s: AccountState): void => {
      for (const t of THRESHOLDS) {
        if (!armed.has(t) && !isBelowThreshold(availableBalance(s), s.monthly.allocation, t)) {
          armed.add(t);
          rearmedInCycle.set(`${s.cycle}/${t}`, (rearmedInCycle.get(`${s.cycle}/${t}`) ?? 0) + 1);
        }
      }
    };

    for (const step of run.steps) {
      if (!('events' in step.outcome)) continue;
      const events = step.outcome.events;
      events.forEach((event, i) => {
        state = fold(ACCOUNT, [event], state);
        if (event.type === 'Granted' || event.type === 'Credited') rearmIfLifted(state);
        if (event.type === 'ThresholdCrossed') {
          expect(events[i - 1]?.type, 'a warning follows the debit that crossed, in the same append').toBe('Debited');
          expect(state.unlimited, 'an unlimited plan never warns').toBe(false);
        }
        if (event.type !== 'Debited') return;

        const balance = availableBalance(state);
        const expected = state.unlimited ? [] : THRESHOLDS.filter((t) => armed.has(t) && isBelowThreshold(balance, state.monthly.allocation, t));
        const next = events[i + 1];
        if (expected.length === 0) {
          expect(next?.type).not.toBe('ThresholdCrossed');
          return;
        }
        expect(next?.type).toBe('ThresholdCrossed');
        if (next?.type !== 'ThresholdCrossed') return;
        expect(next.data.crossed).toEqual(expected);
        expect(next.data.threshold).toBe(Math.min(...expected));
        expect(next.data.balance).toBe(balance);
        expect(next.data.allocation).toBe(state.monthly.allocation);
        for (const t of expected) {
          armed.delete(t);
          const key = `${state.cycle}/${t}`;
          firedInCycle.set(key, (firedInCycle.get(key) ?? 0) + 1);
          expect(firedInCycle.get(key)).toBeLessThanOrEqual(1 + (rearmedInCycle.get(key) ?? 0));
        }
      });
    }
  }));

  it('folding the ledger from scratch, as read back from the store, gives exactly the state the decider ended with; versions run 1..n', everyHistory((run) => {
    expect(run.events.map((e) => e.version)).toEqual(run.events.map((_, i) => i + 1));
    for (let i = 1; i < run.events.length; i++) {
      expect(Date.parse(run.events[i]!.at), 'the ledger’s times never go back').toBeGreaterThanOrEqual(Date.parse(run.events[i - 1]!.at));
    }
    const readBack = (JSON.parse(JSON.stringify(run.events)) as unknown[]).map((e) => ledgerEventSchema.parse(e));
    expect(readBack).toStrictEqual(run.events);
    const replayed = fold(ACCOUNT, readBack);
    expect(replayed).toStrictEqual(run.state);
    // The state is plain JSON, so the head item can cache it without losing anything.
    expect(JSON.parse(JSON.stringify(run.state))).toStrictEqual(run.state);
  }));

  it('execute gives exactly the events decide gives and the state folding them onto the given state gives, key order included; a refusal throws the same error', everyHistory((run) => {
    for (const { command, before, outcome, after } of run.steps) {
      if ('error' in outcome) {
        expect(() => execute(command, before)).toThrow(outcome.error);
        continue;
      }
      const executed = execute(command, before);
      expect(executed.events).toStrictEqual(outcome.events);
      expect(executed.state).toStrictEqual(after);
      expect(JSON.stringify(executed.state)).toBe(JSON.stringify(after));
      if (outcome.events.length === 0) expect(executed.state).toBe(before);
    }
  }));

  it('stateAt(state, t) is exactly the state a RollOverCycles at t would leave, and a refused command leaves the state as it was', () => {
    // A moment after the last command: anywhere up to 100 days later, or a millisecond around the cycle end.
    const later = fc.oneof(
      fc.record({ after: fc.constant('now' as const), ms: fc.integer({ min: 0, max: 100 * 86_400_000 }) }),
      fc.record({ after: fc.constant('cycleEnd' as const), ms: fc.constantFrom(-1, 0, 1) }),
    );
    fc.assert(
      fc.property(historyArb, later, (history, { after, ms }) => {
        const run = simulate(history);
        const from = after === 'now' ? run.now.getTime() : Math.max(run.now.getTime(), Date.parse(run.state.cycleEnd) + ms);
        const t = new Date(after === 'now' ? from + ms : from);
        expect(stateAt(run.state, t)).toStrictEqual(execute({ type: 'RollOverCycles', accountId: ACCOUNT, now: t }, run.state).state);
        for (const step of run.steps) if ('error' in step.outcome) expect(step.after).toBe(step.before);
      }),
      PROPERTY_RUNS,
    );
  });
});
