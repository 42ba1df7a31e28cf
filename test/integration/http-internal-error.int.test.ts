import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { documentClient, resetClients } from '../../functions/lib/dynamo.js';
import { ENV } from '../../infra/keys.js';
import { ledgerOf, newAccountId, openAccount, useLocalApi } from '../support/local-api.js';

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

  it('then reads, writes and batches (whose key cannot be checked) answer 500 internal_error with a request id and no internals', async () => {
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
    expect(batch.status).toBe(500);
    expect(batch.body).toEqual({ error: { code: 'internal_error', message: expect.any(String), details: { requestId: expect.any(String) } } });
    for (const leak of LEAKS) expect(batch.text).not.toMatch(leak);

    restore();
    restore = undefined;
    const healed = await api().request('GET', `/v1/accounts/${id}/balance`);
    expect(healed.status).toBe(200);
    expect(healed.body.total).toBe(100);
  });
});

describe('when one account of a batch fails on our side', () => {
  afterEach(() => vi.restoreAllMocks());

  it('then that record answers 500 per record, and the batch answer is not stored: the same batch with its key applies it then, the others replaying', async () => {
    const a = newAccountId('a');
    const b = newAccountId('b');
    await openAccount(api(), a);
    await openAccount(api(), b);
    const client = documentClient();
    const send = client.send.bind(client);
    let failed = false;
    vi.spyOn(client, 'send').mockImplementation((async (command: unknown) => {
      const items = command instanceof TransactWriteCommand ? (command.input.TransactItems ?? []) : [];
      if (!failed && items.some((item) => item.Put?.Item?.['accountId'] === b)) {
        failed = true;
        throw new Error('the store failed for this account');
      }
      return send(command as never);
    }) as never);
    const body = {
      records: [
        { idempotencyKey: `${a}-0`, accountId: a, feature: 'image', quality: 'standard' },
        { idempotencyKey: `${b}-0`, accountId: b, feature: 'image', quality: 'standard' },
      ],
    };

    const first = await api().request('POST', '/v1/usage/batch', { key: `batch-${a}`, body });
    expect(first.body.results.map((r: { status: number }) => r.status)).toEqual([201, 500]);

    const again = await api().request('POST', '/v1/usage/batch', { key: `batch-${a}`, body });
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(again.body.results.map((r: { status: number; replayed: boolean }) => [r.status, r.replayed])).toEqual([
      [201, true],
      [201, false],
    ]);
    expect((await ledgerOf(api(), b)).filter((e) => e.type === 'Debited')).toHaveLength(1);
  });
});
