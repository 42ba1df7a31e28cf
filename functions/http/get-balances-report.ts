import * as z from 'zod';
import { DEFAULT_CATALOG, millicreditsToCredits } from '../../domain/index.js';
import { balanceAt, isBelowPercent, percentOfAllocation, type AccountProjection, type BalanceAt } from '../../domain/projections/index.js';
import { clock } from '../lib/clock.js';
import { ApiError } from '../lib/errors.js';
import { httpHandler, routeOf } from '../lib/http.js';
import { accountKey, DynamoProjectionStore, SHARDS, shardOf } from '../lib/projection-store.js';

/**
 * GET /v1/reports/balances (finance): every account's balance from the balances projection, optionally only
 * one `plan` and only those strictly below `belowPercent` % of their monthly allocation (unlimited accounts have
 * no percentage and never match it), `limit` per page (1–500, default 100), `cursor` for the next page.
 *
 * A balance is shown as at the time of the request: a cycle that has ended but is not rolled over yet is rolled
 * over in the read, as the balance route does. Filters are applied while reading, and one request examines at
 * most MAX_EXAMINED accounts: a page may then hold fewer than `limit` rows (even none) with a `nextCursor` to go
 * on; `nextCursor` is null exactly when every account has been examined.
 */

export const DEFAULT_BALANCES_PAGE = 100;
export const MAX_BALANCES_PAGE = 500;
/** Bounds one request's reads (and latency) when a filter matches few accounts. */
export const MAX_EXAMINED = 2000;

export const balancesQuery = z
  .object({
    plan: z.string().min(1).max(64).optional(),
    belowPercent: z
      .string()
      .regex(/^\d{1,3}(\.\d{1,2})?$/, 'a percentage with at most two decimals')
      .transform(Number)
      .pipe(z.number().min(0).max(100))
      .optional(),
    limit: z
      .string()
      .regex(/^\d+$/, 'a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_BALANCES_PAGE))
      .optional(),
    cursor: z.string().min(1).max(512).optional(),
  })
  .strict();

type Position = { shard: number; after: string | null };

export function encodeBalancesCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.shard, position.after]), 'utf8').toString('base64url');
}

export function decodeBalancesCursor(cursor: string): Position {
  const invalid = new ApiError(400, 'invalid_cursor', 'The cursor is not one this API returned.', { field: 'cursor' });
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(value) || value.length !== 2) throw invalid;
  const [shard, after] = value as [unknown, unknown];
  if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard >= SHARDS) throw invalid;
  if (after !== null && (typeof after !== 'string' || !after.startsWith('ACCOUNT#'))) throw invalid;
  return { shard, after };
}

const credits = millicreditsToCredits;

export function balanceRow(balance: BalanceAt, now: Date) {
  return {
    accountId: balance.accountId,
    plan: balance.plan,
    pendingPlan: balance.pendingPlan,
    unlimited: balance.unlimited,
    monthly: { allocation: credits(balance.allocation), remaining: credits(balance.monthlyRemaining) },
    purchased: { remaining: credits(balance.purchasedRemaining) },
    total: credits(balance.total),
    percentOfAllocation: percentOfAllocation(balance),
    cycle: { number: balance.cycle, start: balance.cycleStart, end: balance.cycleEnd },
    version: balance.version,
    asOf: now.toISOString(),
  };
}

export const handler = httpHandler({
  route: routeOf('GET', '/v1/reports/balances'),
  query: balancesQuery,
  handle: async ({ query }) => {
    if (query.plan !== undefined && DEFAULT_CATALOG.plans[query.plan] === undefined) {
      throw new ApiError(400, 'validation_failed', 'The query string is invalid.', {
        fields: [{ path: 'plan', message: `one of ${Object.keys(DEFAULT_CATALOG.plans).join(', ')}` }],
      });
    }
    const limit = query.limit ?? DEFAULT_BALANCES_PAGE;
    // Percent in hundredths, compared in integers (12.5 % → 1250).
    const below = query.belowPercent === undefined ? undefined : Math.round(query.belowPercent * 100);
    const now = clock.now();
    const matches = (balance: BalanceAt): boolean =>
      (query.plan === undefined || balance.plan === query.plan) && (below === undefined || isBelowPercent(balance, below));

    const store = new DynamoProjectionStore();
    const rows: ReturnType<typeof balanceRow>[] = [];
    let position: Position | undefined = query.cursor === undefined ? undefined : decodeBalancesCursor(query.cursor);
    let examined = 0;
    let exhausted = false;
    while (rows.length < limit && examined < MAX_EXAMINED && !exhausted) {
      const page = await store.balancesPage({ limit: Math.min(100, MAX_EXAMINED - examined), ...(position === undefined ? {} : { from: position }) });
      let stoppedAfter: AccountProjection | undefined;
      for (const [i, account] of page.accounts.entries()) {
        examined += 1;
        const balance = balanceAt(account.balance, now, DEFAULT_CATALOG);
        if (matches(balance)) rows.push(balanceRow(balance, now));
        if (rows.length === limit && i < page.accounts.length - 1) {
          stoppedAfter = account;
          break;
        }
      }
      if (stoppedAfter !== undefined) {
        position = { shard: shardOf(stoppedAfter.accountId), after: accountKey(stoppedAfter.accountId).sk ?? null };
      } else if (page.next === null) {
        exhausted = true;
      } else {
        position = page.next;
      }
    }
    return {
      statusCode: 200,
      body: { items: rows, nextCursor: exhausted || position === undefined ? null : encodeBalancesCursor(position) },
    };
  },
});
