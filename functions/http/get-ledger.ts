import * as z from 'zod';
import { AccountNotFoundError } from '../../domain/index.js';
import { loadAccount, readLedgerPage } from '../lib/event-store.js';
import { httpHandler, routeOf } from '../lib/http.js';
import { ledgerItemView } from '../lib/views.js';

/**
 * GET /v1/accounts/{id}/ledger (service, finance, that customer): the account's events in version order,
 * `limit` (1–500, default 100) per page; `nextCursor` (opaque) fetches the next page and is null on the last.
 * Amounts in `data` are credits, like everywhere else in the API.
 */
export const DEFAULT_LEDGER_PAGE = 100;
export const MAX_LEDGER_PAGE = 500;

export const ledgerQuery = z.object({
  limit: z
    .string()
    .regex(/^\d+$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_LEDGER_PAGE))
    .optional()
    .transform((n) => n ?? DEFAULT_LEDGER_PAGE),
  cursor: z.string().min(1).max(64).optional(),
});

export const handler = httpHandler({
  route: routeOf('GET', '/v1/accounts/{id}/ledger'),
  query: ledgerQuery,
  handle: async ({ accountId, query }) => {
    const page = await readLedgerPage(accountId, { limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
    // Every open account has events from version 1 on, so an empty first page means there is no such account. An
    // empty page after a cursor is either past the end of an open account or an account that does not exist: only
    // then is the head read (one GetItem), so a page with items costs nothing more.
    if (page.items.length === 0 && (query.cursor === undefined || (await loadAccount(accountId)).version === 0)) {
      throw new AccountNotFoundError(accountId);
    }
    return { statusCode: 200, body: { items: page.items.map(ledgerItemView), nextCursor: page.nextCursor } };
  },
});
