import { AccountNotFoundError, stateAt } from '../../domain/index.js';
import { clock } from '../lib/clock.js';
import { loadAccount } from '../lib/event-store.js';
import { httpHandler, routeOf } from '../lib/http.js';
import { balanceView } from '../lib/views.js';

/**
 * GET /v1/accounts/{id}/balance (service, finance, that customer): the real-time balance (SPEC §9). A cycle
 * boundary that has passed is shown as passed (expired monthly credits gone, the new allocation there) even
 * before the schedule or the next command records it; `version` is the last recorded ledger version.
 */
export const handler = httpHandler({
  route: routeOf('GET', '/v1/accounts/{id}/balance'),
  handle: async ({ accountId }) => {
    const state = await loadAccount(accountId);
    if (state.opened === null) throw new AccountNotFoundError(accountId);
    return { statusCode: 200, body: balanceView(stateAt(state, clock.now()), state.version) };
  },
});
