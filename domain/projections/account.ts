import type { LedgerEvent } from '../ledger/events.js';
import { evolveBalance, ProjectionOrderError, type BalanceView } from './balance.js';
import { addFlows, evolveLotBook, financeFlowsOf, utcMonth, type FinanceFlows, type LotBook } from './finance.js';
import { evolveUsageDay, usageDayOf, usageRecordOf, type UsageDayView, type UsageRecordView } from './usage.js';

/**
 * What one ledger event does to every projection, as data: the projection store writes it in one transaction
 * guarded by the account's applied version, so a view never sees an event twice or out of order.
 *
 * Per account, one item carries the cursor (the last version applied), the balance view and the lot book the
 * finance view values draws with; usage days and usage records are the account's own items; finance flows are
 * added to a month aggregate shared by many accounts (additive, so the order across accounts does not matter).
 */
export interface AccountProjection {
  accountId: string;
  /** The projection cursor: every event up to this version is applied, none after it. */
  appliedVersion: number;
  balance: BalanceView;
  lots: LotBook;
}

export interface ProjectionChange {
  accountId: string;
  version: number;
  /** The cursor the change requires (version − 1); 0 means the account has no projection yet. */
  expectedVersion: number;
  account: AccountProjection;
  /** The usage day after the event, when the event is usage. */
  usageDay: UsageDayView | null;
  usageRecord: UsageRecordView | null;
  /** What the event adds to its month's finance, when it moves credits or money. */
  finance: { month: string; flows: FinanceFlows } | null;
}

/**
 * The change event v makes, given the account's projection at v − 1 and, for usage, the usage day it falls on.
 * Throws ProjectionOrderError unless the event follows the cursor exactly.
 */
export function projectEvent(account: AccountProjection | null, usageDay: UsageDayView | null, event: LedgerEvent): ProjectionChange {
  const applied = account?.appliedVersion ?? 0;
  if (event.version !== applied + 1) {
    throw new ProjectionOrderError(`projection of ${event.accountId} is at v${applied} and cannot apply v${event.version}`);
  }
  const day = usageDayOf(event);
  if (day !== null && usageDay !== null && usageDay.day !== day) {
    throw new ProjectionOrderError(`usage of ${event.accountId} v${event.version} is on ${day}, not ${usageDay.day}`);
  }
  const flows = financeFlowsOf(account?.lots ?? null, event);
  return {
    accountId: event.accountId,
    version: event.version,
    expectedVersion: applied,
    account: {
      accountId: event.accountId,
      appliedVersion: event.version,
      balance: evolveBalance(account?.balance ?? null, event),
      lots: evolveLotBook(account?.lots ?? null, event),
    },
    usageDay: day === null ? null : evolveUsageDay(usageDay, event),
    usageRecord: usageRecordOf(event),
    finance: flows === null ? null : { month: utcMonth(event.at), flows },
  };
}

/** Every projection of one account, folded from its whole ledger (rebuild, verification, specs). */
export interface AccountProjections {
  account: AccountProjection | null;
  usageDays: Map<string, UsageDayView>;
  usageRecords: UsageRecordView[];
  /** This account's contribution to each month. */
  finance: Map<string, FinanceFlows>;
}

export function projectAccount(events: Iterable<LedgerEvent>): AccountProjections {
  const out: AccountProjections = { account: null, usageDays: new Map(), usageRecords: [], finance: new Map() };
  for (const event of events) {
    const day = usageDayOf(event);
    const change = projectEvent(out.account, day === null ? null : (out.usageDays.get(day) ?? null), event);
    out.account = change.account;
    if (change.usageDay !== null) out.usageDays.set(change.usageDay.day, change.usageDay);
    if (change.usageRecord !== null) out.usageRecords.push(change.usageRecord);
    if (change.finance !== null) out.finance.set(change.finance.month, addFlows(out.finance.get(change.finance.month) ?? null, change.finance.flows));
  }
  return out;
}
