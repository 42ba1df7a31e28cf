import { DEFAULT_CATALOG, type Catalog, type Plan } from '../catalog/catalog.js';
import { priceUsage, type Charge } from '../catalog/charge.js';
import { addMonths, cycleIndexAt, cycleWindow } from '../cycles.js';
import { millicreditsToCredits, type Millicredits } from '../money.js';
import type {
  AdjustCredits,
  ChangePlan,
  Command,
  OpenAccount,
  PurchasePack,
  RecordUsage,
  UpdateContact,
  UsageInput,
} from './commands.js';
import {
  AccountAlreadyExistsError,
  AccountNotFoundError,
  InsufficientCreditsError,
  InvalidAmountError,
  InvalidCycleAnchorError,
  InvalidUsageError,
  PacksNotAvailableError,
  PaymentRefReusedError,
  UnknownPackError,
  UnknownPlanError,
} from './errors.js';
import { THRESHOLDS, type Contact, type EventData, type LedgerEvent, type LedgerEventType, type Split, type UsageRecord } from './events.js';
import { availableBalance, evolve, isBelowThreshold, type AccountState } from './state.js';

/** Usage may be reported a little ahead of the ledger's clock (clock skew between services), not more. */
export const MAX_USAGE_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Collects the events a command decides, folding each into the state as it goes, so later decisions in the
 * same command (a threshold after a debit, a grant after an expiry) see the state the earlier events made.
 */
class Decision {
  readonly events: LedgerEvent[] = [];
  constructor(public state: AccountState) {}

  emit<T extends LedgerEventType>(type: T, at: Date, data: EventData<T>): void {
    const event = { accountId: this.state.accountId, version: this.state.version + 1, type, at: at.toISOString(), data } as LedgerEvent;
    this.state = evolve(this.state, event);
    this.events.push(event);
  }
}

/** A catalog entry by the caller's name; own keys only, so "constructor" or "toString" is simply unknown. */
function ownEntry<T>(entries: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(entries, name) ? entries[name] : undefined;
}

function planOf(catalog: Catalog, name: string): Plan {
  const plan = ownEntry(catalog.plans, name);
  if (plan === undefined) throw new UnknownPlanError(name);
  return plan;
}

const allocationOf = (plan: Plan): Millicredits => (plan.unlimited ? 0 : plan.monthlyCredits);

/**
 * Applies every cycle boundary that has passed by `now`, in order: the unused monthly credits expire, a
 * scheduled downgrade takes effect, the next cycle's allocation is granted. Idle for three cycles, three pairs.
 */
function rollOver(decision: Decision, now: Date, catalog: Catalog): void {
  while (Date.parse(decision.state.cycleEnd) <= now.getTime()) {
    const s = decision.state;
    const boundary = new Date(s.cycleEnd);
    if (s.monthly.remaining > 0) decision.emit('Expired', boundary, { cycle: s.cycle, amount: s.monthly.remaining });
    let planName = s.plan;
    if (s.pendingPlan !== null) {
      decision.emit('PlanChanged', boundary, {
        from: s.plan,
        to: s.pendingPlan,
        status: 'applied',
        effectiveAt: s.cycleEnd,
        startsNewCycle: false,
      });
      planName = s.pendingPlan;
    }
    const plan = planOf(catalog, planName);
    const next = s.cycle + 1;
    const window = cycleWindow(new Date(s.anchor), next - s.anchorCycle);
    decision.emit('Granted', boundary, {
      cycle: next,
      plan: planName,
      credits: allocationOf(plan),
      unlimited: plan.unlimited,
      cycleStart: window.start.toISOString(),
      cycleEnd: window.end.toISOString(),
    });
  }
}

/** Draws an amount from the monthly bucket first, then purchased lots oldest first. */
function splitDebit(state: AccountState, amount: Millicredits): Split {
  const monthly = Math.min(amount, state.monthly.remaining);
  let rest = amount - monthly;
  const lots: Split['lots'] = [];
  for (const lot of state.lots) {
    if (rest === 0) break;
    const take = Math.min(rest, lot.remaining);
    lots.push({ lotId: lot.lotId, amount: take });
    rest -= take;
  }
  return { monthly, purchased: amount - monthly, lots };
}

function requireAffordable(state: AccountState, amount: Millicredits): void {
  const available = availableBalance(state);
  if (amount > available) throw new InsufficientCreditsError(millicreditsToCredits(amount), millicreditsToCredits(available));
}

/** After a debit: one ThresholdCrossed for the thresholds newly crossed, naming the lowest (one warning). */
function warnIfCrossed(decision: Decision, at: Date): void {
  const s = decision.state;
  if (s.unlimited || s.monthly.allocation === 0) return;
  const balance = availableBalance(s);
  const crossed = THRESHOLDS.filter((t) => isBelowThreshold(balance, s.monthly.allocation, t) && !s.warned.includes(t));
  if (crossed.length === 0) return;
  decision.emit('ThresholdCrossed', at, {
    threshold: Math.min(...crossed) as (typeof THRESHOLDS)[number],
    crossed,
    cycle: s.cycle,
    balance,
    allocation: s.monthly.allocation,
    cycleEnd: s.cycleEnd,
  });
}

const sameContact = (a: Contact, b: Contact): boolean => a.email === b.email && a.phone === b.phone;

function openAccount(command: OpenAccount, state: AccountState, catalog: Catalog): Decision {
  const contact: Contact = command.contact ?? {};
  if (state.opened !== null) {
    const o = state.opened;
    const sameAnchor =
      command.cycleAnchor === undefined ? !o.anchorRequested : o.anchorRequested && command.cycleAnchor.toISOString() === o.cycleAnchor;
    // Opening again with the same settings is a no-op the caller can rely on; other settings are a conflict.
    if (o.plan === command.plan && sameContact(o.contact, contact) && sameAnchor) return new Decision(state);
    throw new AccountAlreadyExistsError(command.accountId);
  }
  const plan = planOf(catalog, command.plan);
  const anchor = command.cycleAnchor ?? command.now;
  if (anchor.getTime() > command.now.getTime()) throw new InvalidCycleAnchorError(anchor.toISOString());

  const decision = new Decision({ ...state, accountId: command.accountId });
  decision.emit('AccountOpened', command.now, {
    plan: command.plan,
    cycleAnchor: anchor.toISOString(),
    anchorRequested: command.cycleAnchor !== undefined,
    contact,
    catalogVersion: catalog.version,
  });
  // An anchor in the past sets the cycle day; the first cycle granted is the one that contains the opening.
  const cycle = cycleIndexAt(anchor, command.now);
  const window = cycleWindow(anchor, cycle);
  decision.emit('Granted', command.now, {
    cycle,
    plan: command.plan,
    credits: allocationOf(plan),
    unlimited: plan.unlimited,
    cycleStart: window.start.toISOString(),
    cycleEnd: window.end.toISOString(),
  });
  return decision;
}

function recordUsage(decision: Decision, command: RecordUsage, catalog: Catalog): void {
  const { usage, now } = command;
  const occurredAt = usage.occurredAt ?? now;
  if (occurredAt.getTime() > now.getTime() + MAX_USAGE_CLOCK_SKEW_MS) {
    throw new InvalidUsageError('occurredAt is in the future.', 'occurredAt');
  }
  const charge = priceUsage(catalog, usage);
  const s = decision.state;
  const split: Split = s.unlimited ? { monthly: 0, purchased: 0, lots: [] } : splitDebit(s, charge.amount);
  if (!s.unlimited) requireAffordable(s, charge.amount);
  decision.emit('Debited', now, {
    reason: 'usage',
    amount: charge.amount,
    split,
    unlimited: s.unlimited,
    cycle: s.cycle,
    usage: usageRecord(usage, occurredAt, charge, catalog),
  });
  warnIfCrossed(decision, now);
}

/** What a Debited event records of the usage: the fields reported (those left out stay out), then the charge's basis. */
function usageRecord(usage: UsageInput, occurredAt: Date, charge: Charge, catalog: Catalog): UsageRecord {
  // Built field by field in this order, without a temporary object per optional field.
  const record: Partial<UsageRecord> = { feature: usage.feature };
  if (usage.model !== undefined) record.model = usage.model;
  if (usage.quality !== undefined) record.quality = usage.quality;
  if (usage.inputTokens !== undefined) record.inputTokens = usage.inputTokens;
  if (usage.outputTokens !== undefined) record.outputTokens = usage.outputTokens;
  if (usage.units !== undefined) record.units = usage.units;
  if (usage.chatbotId !== undefined) record.chatbotId = usage.chatbotId;
  record.occurredAt = occurredAt.toISOString();
  record.quantity = charge.quantity;
  record.rate = charge.rate;
  record.catalogVersion = catalog.version;
  return record as UsageRecord;
}

function purchasePack(decision: Decision, command: PurchasePack, catalog: Catalog): void {
  const pack = ownEntry(catalog.packs, command.pack);
  if (pack === undefined) throw new UnknownPackError(command.pack);
  const s = decision.state;
  const earlier = s.paymentRefs.find((p) => p.paymentRef === command.paymentRef)?.pack;
  if (earlier !== undefined) {
    if (earlier === command.pack) return; // the same payment again: already credited
    throw new PaymentRefReusedError(command.paymentRef);
  }
  if (s.unlimited) throw new PacksNotAvailableError(s.plan);
  decision.emit('Credited', command.now, {
    source: 'purchase',
    lotId: `lot-${s.version + 1}`,
    amount: pack.credits,
    priceUsdCents: pack.priceUsdCents,
    pack: command.pack,
    paymentRef: command.paymentRef,
  });
}

function changePlan(decision: Decision, command: ChangePlan, catalog: Catalog): void {
  const target = planOf(catalog, command.plan);
  const s = decision.state;
  const current = planOf(catalog, s.plan);
  if (command.plan === s.plan) {
    if (s.pendingPlan !== null) {
      decision.emit('PlanChanged', command.now, { from: s.plan, to: s.pendingPlan, status: 'cancelled', effectiveAt: s.cycleEnd, startsNewCycle: false });
    }
    return;
  }
  if (target.rank < current.rank) {
    if (s.pendingPlan === command.plan) return;
    decision.emit('PlanChanged', command.now, { from: s.plan, to: command.plan, status: 'scheduled', effectiveAt: s.cycleEnd, startsNewCycle: false });
    return;
  }
  // An upgrade takes effect at once: the rest of this cycle's allocation expires and a new cycle starts now.
  const now = command.now;
  decision.emit('PlanChanged', now, { from: s.plan, to: command.plan, status: 'applied', effectiveAt: now.toISOString(), startsNewCycle: true });
  if (decision.state.monthly.remaining > 0) decision.emit('Expired', now, { cycle: s.cycle, amount: decision.state.monthly.remaining });
  decision.emit('Granted', now, {
    cycle: s.cycle + 1,
    plan: command.plan,
    credits: allocationOf(target),
    unlimited: target.unlimited,
    cycleStart: now.toISOString(),
    cycleEnd: addMonths(now, 1).toISOString(),
  });
}

function adjustCredits(decision: Decision, command: AdjustCredits): void {
  const { amount, reason, now } = command;
  if (!Number.isSafeInteger(amount) || amount === 0) throw new InvalidAmountError('An adjustment must be a non-zero amount.', 'credits');
  if (reason.trim() === '') throw new InvalidAmountError('An adjustment needs a reason.', 'reason');
  const s = decision.state;
  if (amount > 0) {
    decision.emit('Credited', now, { source: 'adjustment', lotId: `lot-${s.version + 1}`, amount, priceUsdCents: 0, note: reason });
    return;
  }
  const debit = -amount;
  requireAffordable(s, debit);
  decision.emit('Debited', now, { reason: 'adjustment', amount: debit, split: splitDebit(s, debit), unlimited: false, cycle: s.cycle, note: reason });
  warnIfCrossed(decision, now);
}

function updateContact(decision: Decision, command: UpdateContact): void {
  if (sameContact(decision.state.contact, command.contact)) return;
  decision.emit('ContactUpdated', command.now, { contact: command.contact });
}

/**
 * Decides what a command appends to an account's ledger, or throws a DomainError and appends nothing.
 * Every command on an open account first applies the cycle rollovers due at its `now` (lazy rollover), so a
 * debit a second after the reset already sees the new cycle, scheduled or not.
 */
export function decide(command: Command, state: AccountState, catalog: Catalog = DEFAULT_CATALOG): LedgerEvent[] {
  return decision(command, state, catalog).events;
}

/**
 * Decides and folds: the events to append and the state they lead to. The state is the one the decision folded
 * as it emitted each event (the same `evolve`, in the same order, from the same state), so nothing is folded twice.
 */
export function execute(command: Command, state: AccountState, catalog: Catalog = DEFAULT_CATALOG): { events: LedgerEvent[]; state: AccountState } {
  const decided = decision(command, state, catalog);
  return { events: decided.events, state: decided.state };
}

function decision(command: Command, state: AccountState, catalog: Catalog): Decision {
  if (command.type === 'OpenAccount') return openAccount(command, state, catalog);
  if (state.opened === null) throw new AccountNotFoundError(command.accountId);
  const decision = new Decision(state);
  rollOver(decision, command.now, catalog);
  switch (command.type) {
    case 'RecordUsage':
      recordUsage(decision, command, catalog);
      break;
    case 'PurchasePack':
      purchasePack(decision, command, catalog);
      break;
    case 'ChangePlan':
      changePlan(decision, command, catalog);
      break;
    case 'AdjustCredits':
      adjustCredits(decision, command);
      break;
    case 'UpdateContact':
      updateContact(decision, command);
      break;
    case 'RollOverCycles':
      break;
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled command ${JSON.stringify(unhandled)}`);
    }
  }
  return decision;
}

/**
 * The state as it stands at `now`, with due rollovers folded in memory but not recorded: what a read shows
 * between a cycle boundary and the next command or scheduled rollover.
 */
export function stateAt(state: AccountState, now: Date, catalog: Catalog = DEFAULT_CATALOG): AccountState {
  if (state.opened === null) return state;
  const decision = new Decision(state);
  rollOver(decision, now, catalog);
  return decision.state;
}
