import * as z from 'zod';
import { AccountNotFoundError, millicreditsToCredits } from '../../domain/index.js';
import { groupUsage, lineOfRecord, type UsageGroup, type UsageLine, type UsageTotals } from '../../domain/projections/index.js';
import { clock } from '../lib/clock.js';
import { ApiError } from '../lib/errors.js';
import { loadAccount } from '../lib/event-store.js';
import { httpHandler, routeOf } from '../lib/http.js';
import { DynamoProjectionStore, type UsageRecordPage } from '../lib/projection-store.js';

/**
 * GET /v1/accounts/{id}/usage (service, finance, that customer): usage in a time range, grouped by day, feature
 * or model (images by quality: `image-standard`, `image-hd`), with totals. From the usage projections: whole UTC
 * days from the per-day items, and the edges of a range that starts or ends inside a day from the usage records,
 * so an instant bound is honoured exactly.
 *
 * Range (usage is placed by when it occurred, UTC):
 * - `from`: a date (`2026-11-01`, from its midnight) or an instant (`2026-11-01T12:00:00Z`), inclusive;
 * - `to`: a date (through the end of that day) or an instant, exclusive;
 * - defaults: the last 30 days including today; at most MAX_RANGE_DAYS.
 */

export const DAY_MS = 86_400_000;
export const MAX_RANGE_DAYS = 366;
export const DEFAULT_RANGE_DAYS = 30;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const timeBound = z.union([z.iso.date(), z.iso.datetime({ offset: true })], { error: 'a date (YYYY-MM-DD) or an ISO-8601 instant' });

export const rangeQuery = { from: timeBound.optional(), to: timeBound.optional() };

export const usageReportQuery = z.object({ ...rangeQuery, groupBy: z.enum(['day', 'feature', 'model']).default('day') }).strict();

const startOfDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The half-open range [from, to) a query names, in epoch ms. */
export function resolveRange(query: { from?: string | undefined; to?: string | undefined }, now: Date, maxDays?: number): { from: number; to: number } {
  const to = query.to === undefined ? startOfDay(now.getTime()) + DAY_MS : DATE.test(query.to) ? Date.parse(`${query.to}T00:00:00Z`) + DAY_MS : Date.parse(query.to);
  const from = query.from === undefined ? startOfDay(to - 1) - (DEFAULT_RANGE_DAYS - 1) * DAY_MS : DATE.test(query.from) ? Date.parse(`${query.from}T00:00:00Z`) : Date.parse(query.from);
  if (from >= to) throw rangeError('from', '`from` must be before `to`.');
  if (maxDays !== undefined && to - from > maxDays * DAY_MS) throw rangeError('to', `A range covers at most ${maxDays} days.`);
  return { from, to };
}

const rangeError = (field: string, message: string): ApiError =>
  new ApiError(400, 'validation_failed', 'The query string is invalid.', { fields: [{ path: field, message }] });

/** Every usage record with from ≤ occurredAt < to, page by page (memory stays one page). */
export async function* usageRecordsIn(store: DynamoProjectionStore, accountId: string, range: { from: number; to: number }) {
  const bounds = { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() };
  let after: string | undefined;
  do {
    const page: UsageRecordPage = await store.usageRecordPage(accountId, bounds, { limit: 1000, ...(after === undefined ? {} : { after }) });
    yield* page.records;
    after = page.next ?? undefined;
  } while (after !== undefined);
}

export const totalsView = (t: UsageTotals) => ({
  credits: millicreditsToCredits(t.credits),
  inputTokens: t.inputTokens,
  outputTokens: t.outputTokens,
  units: t.units,
  requests: t.requests,
});

export const groupView = (g: UsageGroup) => ({ key: g.key, ...totalsView(g) });

export async function usageLines(store: DynamoProjectionStore, accountId: string, range: { from: number; to: number }): Promise<Array<{ day: string; line: UsageLine }>> {
  const lines: Array<{ day: string; line: UsageLine }> = [];
  const firstWholeDay = range.from === startOfDay(range.from) ? range.from : startOfDay(range.from) + DAY_MS;
  const wholeDaysEnd = startOfDay(range.to);
  if (firstWholeDay >= wholeDaysEnd) {
    for await (const record of usageRecordsIn(store, accountId, range)) lines.push(lineOfRecord(record));
    return lines;
  }
  if (range.from < firstWholeDay) for await (const record of usageRecordsIn(store, accountId, { from: range.from, to: firstWholeDay })) lines.push(lineOfRecord(record));
  for await (const view of store.usageDays(accountId, isoDay(firstWholeDay), isoDay(wholeDaysEnd - DAY_MS))) {
    for (const line of Object.values(view.lines)) lines.push({ day: view.day, line });
  }
  if (wholeDaysEnd < range.to) for await (const record of usageRecordsIn(store, accountId, { from: wholeDaysEnd, to: range.to })) lines.push(lineOfRecord(record));
  return lines;
}

export const handler = httpHandler({
  route: routeOf('GET', '/v1/accounts/{id}/usage'),
  query: usageReportQuery,
  handle: async ({ accountId, query }) => {
    const range = resolveRange(query, clock.now(), MAX_RANGE_DAYS);
    const account = await loadAccount(accountId);
    if (account.opened === null) throw new AccountNotFoundError(accountId);
    const store = new DynamoProjectionStore();
    const [lines, projection] = await Promise.all([usageLines(store, accountId, range), store.loadAccount(accountId)]);
    const { groups, totals } = groupUsage(lines, query.groupBy);
    return {
      statusCode: 200,
      body: {
        accountId,
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        groupBy: query.groupBy,
        groups: groups.map(groupView),
        totals: totalsView(totals),
        // The ledger version the projections include: usage recorded after it is not counted yet.
        projectedVersion: projection?.appliedVersion ?? 0,
      },
    };
  },
});
