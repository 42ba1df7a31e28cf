import * as z from 'zod';
import { millicreditsToCredits } from '../../domain/index.js';
import { financeReport, type FinanceReportValues } from '../../domain/projections/index.js';
import { clock } from '../lib/clock.js';
import { httpHandler, routeOf } from '../lib/http.js';
import { DynamoProjectionStore } from '../lib/projection-store.js';

/**
 * GET /v1/reports/finance?month=YYYY-MM (finance): for one UTC calendar month, the credits granted, consumed by
 * usage (by bucket), expired and sold (with the revenue), the adjustments (negative ones by bucket, with the
 * revenue they release from deferral), and at the month's end the purchased credits still owed and the revenue
 * still deferred on them, valued per lot at the price paid (first in, first out).
 *
 * It sums the finance items of every shard for every month up to the one asked (the stocks at a month's end are
 * all flows up to it): SHARDS small queries, however many accounts there are. Dollar amounts are exact until
 * here, then rounded half up to the cent (see domain/projections/finance.ts). Defaults to the current month.
 */

export const financeQuery = z
  .object({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM').optional() })
  .strict();

const usd = (cents: number): number => cents / 100;
const credits = millicreditsToCredits;

export function financeReportView(report: FinanceReportValues) {
  return {
    month: report.month,
    currency: 'USD',
    granted: credits(report.granted),
    consumed: {
      monthly: credits(report.consumed.monthly),
      purchased: credits(report.consumed.purchased),
      total: credits(report.consumed.monthly + report.consumed.purchased),
      /** Usage on unlimited plans: metered, drawn from no bucket, not in `total`. */
      metered: credits(report.consumed.metered),
      recognizedRevenueUsd: usd(report.consumed.recognizedRevenueCents),
    },
    expired: credits(report.expired),
    purchased: { credits: credits(report.purchased.credits), revenueUsd: usd(report.purchased.revenueCents), packs: report.purchased.packs },
    adjustments: {
      credited: credits(report.adjustments.credited),
      /** Negative adjustments: credits removed, by bucket. Not usage, so not in `consumed`. */
      debited: {
        monthly: credits(report.adjustments.debited.monthly),
        purchased: credits(report.adjustments.debited.purchased),
        total: credits(report.adjustments.debited.monthly + report.adjustments.debited.purchased),
      },
      /** What was paid for the purchased credits removed: released from deferred revenue, not recognised. */
      releasedRevenueUsd: usd(report.adjustments.releasedRevenueCents),
    },
    outstanding: { credits: credits(report.outstanding.credits), deferredRevenueUsd: usd(report.outstanding.deferredRevenueCents) },
  };
}

export const handler = httpHandler({
  route: routeOf('GET', '/v1/reports/finance'),
  query: financeQuery,
  handle: async ({ query }) => {
    const month = query.month ?? clock.now().toISOString().slice(0, 7);
    const flows = await new DynamoProjectionStore().financeFlowsUpTo(month);
    return { statusCode: 200, body: financeReportView(financeReport(month, flows)) };
  },
});
