import * as z from 'zod';
import type { RecordUsage } from '../../domain/index.js';
import { handleCommand, type CommandOutcome } from '../lib/handle-command.js';
import { accountIdSchema, commandOutput, httpHandler, routeOf } from '../lib/http.js';
import { usageChargeView } from '../lib/views.js';

/**
 * POST /v1/usage (service): prices one usage record with the catalog and debits it (monthly credits first, then
 * purchased lots oldest first). 201 with the charge and the balance after it; 402 insufficient_credits when the
 * account cannot pay, with nothing recorded.
 */
const name = z.string().min(1).max(64);
const count = z.number().int().nonnegative();

/** One usage record, as POST /v1/usage takes it and as each record of POST /v1/usage/batch carries it. */
export const usageRecordBody = z.strictObject({
  accountId: accountIdSchema,
  feature: name,
  /** Token features (`chat`, `chatbot`): `mini`, `standard`, `advanced`. */
  model: name.optional(),
  /** Unit features (`image`): `standard`, `hd`. */
  quality: name.optional(),
  inputTokens: count.optional(),
  outputTokens: count.optional(),
  /** Images; 1 when left out. */
  units: count.optional(),
  chatbotId: z.string().min(1).max(128).optional(),
  /** When the usage happened (default: now); at most five minutes ahead of the ledger's clock. */
  occurredAt: z.iso.datetime({ offset: true }).optional(),
});
export type UsageRecordBody = z.output<typeof usageRecordBody>;

export function recordUsageCommand(body: UsageRecordBody, now: Date): RecordUsage {
  const { accountId, occurredAt, ...usage } = body;
  return { type: 'RecordUsage', accountId, now, usage: { ...usage, ...(occurredAt === undefined ? {} : { occurredAt: new Date(occurredAt) }) } };
}

/** The 201 answer to a recorded usage (also stored for its key, and replayed). */
export const usageResponse = ({ events, state }: CommandOutcome) => ({ statusCode: 201, body: usageChargeView(events, state) });

export const handler = httpHandler({
  route: routeOf('POST', '/v1/usage'),
  body: usageRecordBody,
  handle: async ({ body, idempotency }) =>
    commandOutput(
      await handleCommand({
        accountId: body.accountId,
        idempotency,
        command: (now) => recordUsageCommand(body, now),
        respond: usageResponse,
      }),
    ),
});
