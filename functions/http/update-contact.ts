import { contactSchema } from '../../domain/index.js';
import { handleCommand } from '../lib/handle-command.js';
import { commandOutput, httpHandler, routeOf } from '../lib/http.js';

/**
 * PUT /v1/accounts/{id}/contact (service, that customer): where warnings go. PUT replaces: a channel left out is
 * removed, `{}` removes both. Email must be valid, phone E.164 (`+14155550123`).
 */
export const updateContactBody = contactSchema.strict();

export const handler = httpHandler({
  route: routeOf('PUT', '/v1/accounts/{id}/contact'),
  body: updateContactBody,
  handle: async ({ accountId, body, idempotency }) =>
    commandOutput(
      await handleCommand({
        accountId,
        idempotency,
        command: (now) => ({
          type: 'UpdateContact',
          accountId,
          now,
          contact: { ...(body.email === undefined ? {} : { email: body.email }), ...(body.phone === undefined ? {} : { phone: body.phone }) },
        }),
        respond: ({ state }) => ({ statusCode: 200, body: { accountId, contact: { ...state.contact }, version: state.version } }),
      }),
    ),
});
