import { afterAll, describe, expect, it } from 'vitest';
import { resetClients } from '../../functions/lib/dynamo.js';
import { ENV } from '../../infra/keys.js';
import { newAccountId, openAccount, useLocalApi } from '../support/local-api.js';

/**
 * A 500 never leaks internals (SPEC §5.6): when the store fails underneath a handler (here: the handlers are
 * pointed at a table that does not exist), the client gets `internal_error` with a request id to quote, and
 * nothing of the exception, the table, the SDK or the stack.
 */
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT'; // the failure is logged on purpose; keep the test output clean

const api = useLocalApi();

const LEAKS = [/ResourceNotFound/i, /dynamo/i, /Ledger/, /table/i, /\bat\s+\S+\s+\(/, /node_modules/, /\.ts\b/, /aws/i, /Exception/];

function breakTheStore(): () => void {
  const saved = process.env[ENV.ledgerTable];
  process.env[ENV.ledgerTable] = `${saved}-missing`;
  resetClients();
  return () => {
    process.env[ENV.ledgerTable] = saved;
    resetClients();
  };
}

describe('when the store fails underneath a handler', () => {
  let restore: (() => void) | undefined;
  afterAll(() => restore?.());

  it('then reads and writes answer 500 internal_error with a request id and no internals; a batch answers 500 per record', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    restore = breakTheStore();

    const responses = [
      await api().request('GET', `/v1/accounts/${id}/balance`),
      await api().request('POST', '/v1/usage', { body: { accountId: id, feature: 'image', quality: 'hd' } }),
      await api().request('GET', `/v1/accounts/${id}/ledger`),
    ];
    for (const res of responses) {
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'internal_error', message: expect.any(String), details: { requestId: expect.any(String) } } });
      for (const leak of LEAKS) expect(res.text).not.toMatch(leak);
    }

    const batch = await api().request('POST', '/v1/usage/batch', {
      body: { records: [{ idempotencyKey: 'k1', accountId: id, feature: 'image', quality: 'hd' }] },
    });
    expect(batch.status).toBe(200);
    expect(batch.body.results[0]).toMatchObject({ status: 500, body: { error: { code: 'internal_error' } } });
    for (const leak of LEAKS) expect(batch.text).not.toMatch(leak);

    restore();
    restore = undefined;
    const healed = await api().request('GET', `/v1/accounts/${id}/balance`);
    expect(healed.status).toBe(200);
    expect(healed.body.total).toBe(100);
  });
});
