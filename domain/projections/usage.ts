import type { Millicredits } from '../money.js';
import type { EventOf, LedgerEvent, UsageRecord } from '../ledger/events.js';

/**
 * Usage read models. Both are keyed by the usage record's `occurredAt` (UTC), not by when the ledger recorded
 * it, so a record reported late still lands on the day it happened.
 *
 * - UsageDayView: per account, per UTC day, one line per feature and model with credits, tokens, units and
 *   requests (one request per usage record).
 * - UsageRecordView: one per usage record (a `Debited` with reason `usage`), for exports. It carries the
 *   record's own fields as reported (an image has a quality and no model); the model key the report groups by
 *   (`image-hd`) is derived from it when a report needs it, never stored in it.
 */

export interface UsageTotals {
  credits: Millicredits;
  inputTokens: number;
  outputTokens: number;
  /** Images and other unit-priced features; 0 for token features. */
  units: number;
  requests: number;
}

export interface UsageLine extends UsageTotals {
  feature: string;
  /** The model key: the model for token features, `<feature>-<quality>` for unit features (`image-hd`). */
  model: string;
}

export interface UsageDayView {
  accountId: string;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  /** By `<feature>|<model>`. */
  lines: Record<string, UsageLine>;
}

export interface UsageRecordView {
  accountId: string;
  version: number;
  /** When the ledger recorded the charge. */
  at: string;
  occurredAt: string;
  feature: string;
  /** As reported: token features have a model, unit features (images) a quality; absent when not reported. */
  model?: string;
  quality?: string;
  chatbotId?: string;
  inputTokens: number;
  outputTokens: number;
  units: number;
  /** Tokens or units the charge was computed on. */
  quantity: number;
  credits: Millicredits;
  split: { monthly: Millicredits; purchased: Millicredits };
  unlimited: boolean;
  /** The catalog rate the charge used; `variant` is the model or quality it was picked by. */
  rate: { variant: string; millicredits: number; per: number; measure: 'tokens' | 'units' };
  catalogVersion: string;
}

export const EMPTY_USAGE_TOTALS: UsageTotals = { credits: 0, inputTokens: 0, outputTokens: 0, units: 0, requests: 0 };

type UsageDebit = EventOf<'Debited'> & { data: { usage: UsageRecord } };

/** A usage charge (not an adjustment), with its usage record. */
export function isUsageDebit(event: LedgerEvent): event is UsageDebit {
  return event.type === 'Debited' && event.data.reason === 'usage' && event.data.usage !== undefined;
}

/**
 * How usage groups by model (SPEC §6): token features by their model (`chatbot` by its chatbot's model), unit
 * features by quality, prefixed with the feature (`image-standard`, `image-hd`).
 */
export function usageModelKey(usage: Pick<UsageRecord, 'feature'> & { rate: Pick<UsageRecord['rate'], 'measure' | 'variant'> }): string {
  return usage.rate.measure === 'units' ? `${usage.feature}-${usage.rate.variant}` : usage.rate.variant;
}

/** The UTC day of an ISO instant (`2026-11-26T23:59:59.999Z` → `2026-11-26`). */
export const utcDay = (instant: string): string => instant.slice(0, 10);

/** The day view a usage event belongs to, or null for every other event. */
export function usageDayOf(event: LedgerEvent): string | null {
  return isUsageDebit(event) ? utcDay(event.data.usage.occurredAt) : null;
}

export const usageLineKey = (feature: string, model: string): string => `${feature}|${model}`;

function totalsOf(event: UsageDebit): UsageTotals {
  const usage = event.data.usage;
  return {
    credits: event.data.amount,
    inputTokens: usage.inputTokens ?? 0,
    outputTokens: usage.outputTokens ?? 0,
    units: usage.rate.measure === 'units' ? usage.quantity : 0,
    requests: 1,
  };
}

export function addUsageTotals<T extends UsageTotals>(into: T, add: UsageTotals): T {
  return {
    ...into,
    credits: into.credits + add.credits,
    inputTokens: into.inputTokens + add.inputTokens,
    outputTokens: into.outputTokens + add.outputTokens,
    units: into.units + add.units,
    requests: into.requests + add.requests,
  };
}

/**
 * Adds a usage event to its day. Events of other days or other kinds leave the view as it is; the first usage
 * of a day creates it.
 */
export function evolveUsageDay(view: UsageDayView | null, event: LedgerEvent): UsageDayView | null {
  if (!isUsageDebit(event)) return view;
  const day = utcDay(event.data.usage.occurredAt);
  if (view !== null && (view.accountId !== event.accountId || view.day !== day)) return view;
  const usage = event.data.usage;
  const model = usageModelKey(usage);
  const key = usageLineKey(usage.feature, model);
  const current = view?.lines[key] ?? { feature: usage.feature, model, ...EMPTY_USAGE_TOTALS };
  return {
    accountId: event.accountId,
    day,
    lines: { ...view?.lines, [key]: addUsageTotals(current, totalsOf(event)) },
  };
}

/** The export row of a usage event, or null for every other event. */
export function usageRecordOf(event: LedgerEvent): UsageRecordView | null {
  if (!isUsageDebit(event)) return null;
  const { usage, amount, split, unlimited } = event.data;
  const totals = totalsOf(event);
  return {
    accountId: event.accountId,
    version: event.version,
    at: event.at,
    occurredAt: usage.occurredAt,
    feature: usage.feature,
    ...(usage.model === undefined ? {} : { model: usage.model }),
    ...(usage.quality === undefined ? {} : { quality: usage.quality }),
    ...(usage.chatbotId === undefined ? {} : { chatbotId: usage.chatbotId }),
    inputTokens: totals.inputTokens,
    outputTokens: totals.outputTokens,
    units: totals.units,
    quantity: usage.quantity,
    credits: amount,
    split: { monthly: split.monthly, purchased: split.purchased },
    unlimited,
    rate: { variant: usage.rate.variant, millicredits: usage.rate.millicredits, per: usage.rate.per, measure: usage.rate.measure },
    catalogVersion: usage.catalogVersion,
  };
}

export type UsageGroupBy = 'day' | 'feature' | 'model';

export interface UsageGroup extends UsageTotals {
  key: string;
}

/** Groups day lines by day, feature or model, sorted by key, with the totals of all of them. */
export function groupUsage(
  lines: Iterable<{ day: string; line: UsageLine }>,
  groupBy: UsageGroupBy,
): { groups: UsageGroup[]; totals: UsageTotals } {
  const groups = new Map<string, UsageGroup>();
  let totals: UsageTotals = { ...EMPTY_USAGE_TOTALS };
  for (const { day, line } of lines) {
    const key = groupBy === 'day' ? day : groupBy === 'feature' ? line.feature : line.model;
    groups.set(key, addUsageTotals(groups.get(key) ?? { key, ...EMPTY_USAGE_TOTALS }, line));
    totals = addUsageTotals(totals, line);
  }
  return { groups: [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)), totals };
}

/** A usage record as a day line (for ranges that start or end inside a day), under the report's model key. */
export function lineOfRecord(record: UsageRecordView): { day: string; line: UsageLine } {
  return {
    day: utcDay(record.occurredAt),
    line: {
      feature: record.feature,
      model: usageModelKey(record),
      credits: record.credits,
      inputTokens: record.inputTokens,
      outputTokens: record.outputTokens,
      units: record.units,
      requests: 1,
    },
  };
}
