import * as z from 'zod';
import { creditsSchema, millicreditsToCredits, type LedgerEvent } from '../../domain/index.js';
import { handleCommand } from '../lib/handle-command.js';
import { commandOutput, httpHandler, routeOf } from '../lib/http.js';
import { balanceView, splitView } from '../lib/views.js';

/**
 * POST /v1/accounts/{id}/adjustments (finance): `{credits, reason}`. Positive credits a lot that never expires
 * (priced at $0); negative debits like usage (monthly first, then lots), never below zero (402).
 */
export const adjustCreditsBody = z.strictObject({
  credits: creditsSchema,
  reason: z.string().trim().min(1).max(500),
});

type Adjustment = Extract<LedgerEvent, { type: 'Credited' | 'Debited' }>;
const isAdjustment = (e: LedgerEvent): e is Adjustment =>
  (e.type === 'Credited' && e.data.source === 'adjustment') || (e.type === 'Debited' && e.data.reason === 'adjustment');

export const handler = httpHandler({
  route: routeOf('POST', '/v1/accounts/{id}/adjustments'),
  body: adjustCreditsBody,
  handle: async ({ accountId, body, idempotency }) =>
    commandOutput(
      await handleCommand({
        accountId,
        idempotency,
        command: (now) => ({ type: 'AdjustCredits', accountId, now, amount: body.credits, reason: body.reason }),
        respond: ({ events, state }) => {
          const adjustment = events.find(isAdjustment);
          return {
            statusCode: 201,
            body: {
              accountId,
              version: adjustment?.version ?? state.version,
              credits: millicreditsToCredits(body.credits),
              reason: body.reason,
              ...(adjustment?.type === 'Credited' ? { lotId: adjustment.data.lotId } : {}),
              ...(adjustment?.type === 'Debited' ? { split: splitView(adjustment.data.split) } : {}),
              balance: balanceView(state),
            },
          };
        },
      }),
    ),
});
