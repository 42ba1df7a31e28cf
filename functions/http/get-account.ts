import { AccountNotFoundError, DEFAULT_CATALOG, stateAt } from '../../domain/index.js';
import { clock } from '../lib/clock.js';
import { loadAccount } from '../lib/event-store.js';
import { httpHandler, routeOf } from '../lib/http.js';
import { accountView } from '../lib/views.js';

/**
 * GET /v1/accounts/{id} (service, finance, that customer): plan, entitlements, contact, cycle and balance, as of
 * now: cycle boundaries already passed are folded in memory even when no command has recorded them yet.
 */
export const handler = httpHandler({
  route: routeOf('GET', '/v1/accounts/{id}'),
  handle: async ({ accountId }) => {
    const state = await loadAccount(accountId);
    if (state.opened === null) throw new AccountNotFoundError(accountId);
    return { statusCode: 200, body: accountView(stateAt(state, clock.now()), DEFAULT_CATALOG, state.version) };
  },
});
