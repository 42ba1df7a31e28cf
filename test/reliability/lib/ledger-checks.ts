import { isDeepStrictEqual } from 'node:util';
import {
  THRESHOLDS,
  availableBalance,
  evolve,
  initialState,
  isBelowThreshold,
  purchasedRemaining,
  type AccountState,
  type LedgerEvent,
} from '../../../domain/index.js';
import { loadAccount, readEvents } from '../../../functions/lib/event-store.js';

/**
 * The rules that must never break (SPEC §5), checked on what the ledger table holds after a workload: each check
 * returns the anomalies it found, in words that name the account, the version and what was wrong.
 */
export interface LedgerFacts {
  accountId: string;
  events: LedgerEvent[];
  head: AccountState;
}

export async function readLedger(accountId: string): Promise<LedgerFacts> {
  const [events, head] = await Promise.all([readEvents(accountId, 1), loadAccount(accountId)]);
  return { accountId, events, head };
}

/** Versions 1…n without gaps, and the head is the fold of exactly those events. */
export function checkHeadIsFold({ accountId, events, head }: LedgerFacts): string[] {
  const anomalies: string[] = [];
  events.forEach((e, i) => {
    if (e.version !== i + 1) anomalies.push(`${accountId}: event ${i + 1} has version ${e.version}`);
  });
  if (anomalies.length > 0) return anomalies;
  let state = initialState(accountId);
  for (const e of events) state = evolve(state, e);
  if (head.version !== events.length) anomalies.push(`${accountId}: head at v${head.version}, ledger at v${events.length}`);
  else if (!isDeepStrictEqual(JSON.parse(JSON.stringify(head)), JSON.parse(JSON.stringify(state)))) {
    anomalies.push(`${accountId}: head state differs from the fold of its ${events.length} events`);
  }
  return anomalies;
}

/**
 * No overdraft and conservation, event by event: a debit never draws more than a bucket holds; its split adds up;
 * the monthly bucket is empty before each grant (it never rolls over); and the available balance always equals
 * grants + credits − debits − expiries.
 */
export function checkBalances({ accountId, events }: LedgerFacts): string[] {
  const anomalies: string[] = [];
  let state = initialState(accountId);
  let inflow = 0;
  let outflow = 0;
  for (const e of events) {
    const before = state;
    const at = `${accountId} v${e.version} (${e.type})`;
    switch (e.type) {
      case 'Debited': {
        const { split, amount, unlimited } = e.data;
        if (unlimited) {
          if (split.monthly !== 0 || split.purchased !== 0) anomalies.push(`${at}: an unlimited debit drew from a bucket`);
          break;
        }
        if (split.monthly + split.purchased !== amount) anomalies.push(`${at}: split ${split.monthly} + ${split.purchased} ≠ ${amount}`);
        if (split.lots.reduce((a, l) => a + l.amount, 0) !== split.purchased) anomalies.push(`${at}: lot draws do not add up to the purchased part`);
        if (split.monthly > before.monthly.remaining) anomalies.push(`${at}: drew ${split.monthly} mc monthly with ${before.monthly.remaining} left`);
        for (const draw of split.lots) {
          const lot = before.lots.find((l) => l.lotId === draw.lotId);
          if (lot === undefined || draw.amount > lot.remaining) anomalies.push(`${at}: drew ${draw.amount} mc from lot ${draw.lotId} holding ${lot?.remaining ?? 0}`);
        }
        outflow += amount;
        break;
      }
      case 'Granted':
        if (before.opened !== null && before.version > 1 && before.monthly.remaining !== 0) {
          anomalies.push(`${at}: granted with ${before.monthly.remaining} mc of the last cycle not expired`);
        }
        inflow += e.data.credits;
        break;
      case 'Credited':
        inflow += e.data.amount;
        break;
      case 'Expired':
        if (e.data.amount !== before.monthly.remaining) anomalies.push(`${at}: expired ${e.data.amount} mc of ${before.monthly.remaining} left`);
        outflow += e.data.amount;
        break;
      default:
        break;
    }
    state = evolve(state, e);
    if (state.monthly.remaining < 0) anomalies.push(`${at}: monthly bucket at ${state.monthly.remaining} mc`);
    if (purchasedRemaining(state) < 0) anomalies.push(`${at}: purchased credits at ${purchasedRemaining(state)} mc`);
    // Unlimited grants are 0 mc and unlimited debits draw nothing: the identity holds on every plan.
    if (availableBalance(state) !== inflow - outflow) {
      anomalies.push(`${at}: balance ${availableBalance(state)} mc ≠ in ${inflow} − out ${outflow}`);
      break;
    }
  }
  return anomalies;
}

/**
 * Exactly one grant per cycle, cycles numbered without gaps, at most one expiry per cycle and only of the cycle in
 * force, and each cycle starting where the last one ended (or, for an upgrade, when the upgrade applied).
 */
export function checkCycles({ accountId, events }: LedgerFacts): string[] {
  const anomalies: string[] = [];
  let state = initialState(accountId);
  const expired = new Set<number>();
  let upgradeAt: string | undefined;
  for (const e of events) {
    const at = `${accountId} v${e.version} (${e.type})`;
    if (e.type === 'Granted') {
      if (state.cycleEnd !== '') {
        if (e.data.cycle !== state.cycle + 1) anomalies.push(`${at}: granted cycle ${e.data.cycle} after cycle ${state.cycle}`);
        const expectedStart = upgradeAt ?? state.cycleEnd;
        if (e.data.cycleStart !== expectedStart) anomalies.push(`${at}: cycle ${e.data.cycle} starts ${e.data.cycleStart}, expected ${expectedStart}`);
      }
      upgradeAt = undefined;
    }
    if (e.type === 'Expired') {
      if (e.data.cycle !== state.cycle) anomalies.push(`${at}: expired cycle ${e.data.cycle} while cycle ${state.cycle} is in force`);
      if (expired.has(e.data.cycle)) anomalies.push(`${at}: cycle ${e.data.cycle} expired twice`);
      expired.add(e.data.cycle);
    }
    if (e.type === 'PlanChanged' && e.data.status === 'applied' && e.data.startsNewCycle) upgradeAt = e.data.effectiveAt;
    if (e.type !== 'Granted' && e.type !== 'AccountOpened' && e.type !== 'Expired' && e.type !== 'PlanChanged' && state.cycleEnd !== '' && Date.parse(e.at) >= Date.parse(state.cycleEnd)) {
      anomalies.push(`${at}: recorded at ${e.at}, after its cycle ended at ${state.cycleEnd} without a rollover`);
    }
    state = evolve(state, e);
  }
  return anomalies;
}

/**
 * Warnings: a ThresholdCrossed follows the debit that crossed, names thresholds the balance is really below, and
 * a threshold fires at most once until it is re-armed (a grant, a purchase or an adjustment lifting the balance).
 */
export function checkThresholds({ accountId, events }: LedgerFacts): string[] {
  const anomalies: string[] = [];
  let state = initialState(accountId);
  let previous: LedgerEvent | undefined;
  for (const e of events) {
    const at = `${accountId} v${e.version}`;
    if (e.type === 'ThresholdCrossed') {
      if (previous?.type !== 'Debited') anomalies.push(`${at}: ThresholdCrossed not right after a debit`);
      const balance = availableBalance(state);
      for (const t of e.data.crossed) {
        if (!isBelowThreshold(balance, state.monthly.allocation, t)) anomalies.push(`${at}: warned of ${t}% at ${balance} mc of ${state.monthly.allocation}`);
        if (state.warned.includes(t)) anomalies.push(`${at}: warned of ${t}% again before it was re-armed`);
      }
      if (e.data.threshold !== Math.min(...e.data.crossed)) anomalies.push(`${at}: the warning names ${e.data.threshold}%, not the lowest crossed`);
    }
    if (e.type === 'Debited' && !state.unlimited && state.monthly.allocation > 0) {
      const after = evolve(state, e);
      const due = THRESHOLDS.filter((t) => isBelowThreshold(availableBalance(after), after.monthly.allocation, t) && !after.warned.includes(t));
      const next = events[e.version]; // the event after this one (versions are 1-based)
      if (due.length > 0 && (next?.type !== 'ThresholdCrossed' || next.version !== e.version + 1)) {
        anomalies.push(`${at}: the debit took the balance below ${due.join('% and ')}% and no warning followed`);
      }
    }
    state = evolve(state, e);
    previous = e;
  }
  return anomalies;
}

export function checkAll(facts: LedgerFacts): string[] {
  const structural = checkHeadIsFold(facts);
  if (structural.length > 0 && facts.events.some((e, i) => e.version !== i + 1)) return structural;
  return [...structural, ...checkBalances(facts), ...checkCycles(facts), ...checkThresholds(facts)];
}
