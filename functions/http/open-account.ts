import * as z from 'zod';
import { DEFAULT_CATALOG, contactSchema } from '../../domain/index.js';
import { handleCommand } from '../lib/handle-command.js';
import { accountIdSchema, commandOutput, httpHandler, routeOf } from '../lib/http.js';
import { accountView } from '../lib/views.js';

/**
 * POST /v1/accounts (service): opens an account. 201 with the account; the same settings again → 200 with the
 * account as it is (nothing appended); other settings for an existing id → 409 account_exists.
 */
export const openAccountBody = z.strictObject({
  accountId: accountIdSchema,
  plan: z.string().min(1).max(64),
  contact: contactSchema.strict().optional(),
  /** Sets the billing-cycle day and time; defaults to the moment the account is opened. Not in the future. */
  cycleAnchor: z.iso.datetime({ offset: true }).optional(),
});

export const handler = httpHandler({
  route: routeOf('POST', '/v1/accounts'),
  body: openAccountBody,
  handle: async ({ body, idempotency }) =>
    commandOutput(
      await handleCommand({
        accountId: body.accountId,
        idempotency,
        command: (now) => ({
          type: 'OpenAccount',
          accountId: body.accountId,
          now,
          plan: body.plan,
          ...(body.contact === undefined ? {} : { contact: body.contact }),
          ...(body.cycleAnchor === undefined ? {} : { cycleAnchor: new Date(body.cycleAnchor) }),
        }),
        respond: ({ events, state }) => ({ statusCode: events.length === 0 ? 200 : 201, body: accountView(state, DEFAULT_CATALOG) }),
      }),
    ),
});
