import * as z from 'zod';
import { DEFAULT_CATALOG, millicreditsToCredits, type LedgerEvent } from '../../domain/index.js';
import { handleCommand } from '../lib/handle-command.js';
import { commandOutput, httpHandler, routeOf } from '../lib/http.js';
import { balanceView } from '../lib/views.js';

/**
 * POST /v1/accounts/{id}/purchases (service): credits a pack as a purchased lot that never expires. 201 when
 * credited; a `paymentRef` already credited for the same pack → 200 and nothing appended (a purchase is
 * idempotent on its payment), for another pack → 409 payment_ref_reused; unlimited plans → 422 packs_not_available.
 */
export const purchasePackBody = z.strictObject({
  pack: z.string().min(1).max(64),
  /** The payment provider's reference (charge, invoice…): the purchase is applied once per reference. */
  paymentRef: z.string().min(1).max(200),
});

type Credited = Extract<LedgerEvent, { type: 'Credited' }>;

export const handler = httpHandler({
  route: routeOf('POST', '/v1/accounts/{id}/purchases'),
  body: purchasePackBody,
  handle: async ({ accountId, body, idempotency }) =>
    commandOutput(
      await handleCommand({
        accountId,
        idempotency,
        command: (now) => ({ type: 'PurchasePack', accountId, now, pack: body.pack, paymentRef: body.paymentRef }),
        respond: ({ events, state }) => {
          const credited = events.find((e): e is Credited => e.type === 'Credited' && e.data.source === 'purchase');
          const pack = DEFAULT_CATALOG.packs[body.pack];
          return {
            statusCode: credited === undefined ? 200 : 201,
            body: {
              accountId,
              version: credited?.version ?? state.version,
              pack: body.pack,
              paymentRef: body.paymentRef,
              credits: pack === undefined ? null : millicreditsToCredits(pack.credits),
              priceUsd: pack === undefined ? null : pack.priceUsdCents / 100,
              lotId: credited?.data.lotId ?? null,
              /** False when this paymentRef had already been credited: nothing new was added. */
              credited: credited !== undefined,
              balance: balanceView(state),
            },
          };
        },
      }),
    ),
});
