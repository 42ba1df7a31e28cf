import { describe, expect, it } from 'vitest';
import { TOKENS, ledgerVersion, newAccountId, openAccount, useLocalApi } from '../support/local-api.js';

/**
 * Bad input gets a clear JSON error and changes nothing (SPEC §5.6): each malformed body of each mutating route
 * is a 400 naming the field paths, and the account's ledger version is the same after it as before.
 */
const api = useLocalApi();

interface Case {
  name: string;
  body: unknown;
  /** The field paths the error must name (exactly these). */
  paths: string[];
}

interface RouteCases {
  method: 'POST' | 'PUT';
  path: (accountId: string) => string;
  token?: string;
  cases: (accountId: string) => Case[];
}

const ROUTE_CASES: Record<string, RouteCases> = {
  'POST /v1/accounts': {
    method: 'POST',
    path: () => '/v1/accounts',
    cases: (id) => [
      { name: 'an empty object', body: {}, paths: ['accountId', 'plan'] },
      { name: 'an empty account id', body: { accountId: '', plan: 'free' }, paths: ['accountId'] },
      { name: 'an account id with a space', body: { accountId: 'a b', plan: 'free' }, paths: ['accountId'] },
      { name: 'a numeric plan', body: { accountId: id, plan: 5 }, paths: ['plan'] },
      { name: 'an invalid email', body: { accountId: id, plan: 'free', contact: { email: 'not-an-email' } }, paths: ['contact.email'] },
      { name: 'a phone not in E.164', body: { accountId: id, plan: 'free', contact: { phone: '0612345678' } }, paths: ['contact.phone'] },
      { name: 'a cycle anchor that is no instant', body: { accountId: id, plan: 'free', cycleAnchor: 'yesterday' }, paths: ['cycleAnchor'] },
      { name: 'an unknown field', body: { accountId: id, plan: 'free', colour: 'blue' }, paths: ['colour'] },
      { name: 'an array instead of an object', body: [id, 'free'], paths: ['(body)'] },
    ],
  },
  'PUT /v1/accounts/{id}/plan': {
    method: 'PUT',
    path: (id) => `/v1/accounts/${id}/plan`,
    cases: () => [
      { name: 'no plan', body: {}, paths: ['plan'] },
      { name: 'an empty plan', body: { plan: '' }, paths: ['plan'] },
      { name: 'an unknown field', body: { plan: 'pro', when: 'now' }, paths: ['when'] },
    ],
  },
  'PUT /v1/accounts/{id}/contact': {
    method: 'PUT',
    path: (id) => `/v1/accounts/${id}/contact`,
    cases: () => [
      { name: 'an invalid email', body: { email: 'someone' }, paths: ['email'] },
      { name: 'a phone without country code', body: { phone: '4155550123' }, paths: ['phone'] },
      { name: 'a numeric email', body: { email: 5 }, paths: ['email'] },
      { name: 'an unknown channel', body: { fax: '+14155550123' }, paths: ['fax'] },
    ],
  },
  'POST /v1/accounts/{id}/purchases': {
    method: 'POST',
    path: (id) => `/v1/accounts/${id}/purchases`,
    cases: () => [
      { name: 'an empty object', body: {}, paths: ['pack', 'paymentRef'] },
      { name: 'an empty payment reference', body: { pack: 'pack_1000', paymentRef: '' }, paths: ['paymentRef'] },
      { name: 'a numeric pack', body: { pack: 1000, paymentRef: 'p-1' }, paths: ['pack'] },
    ],
  },
  'POST /v1/accounts/{id}/adjustments': {
    method: 'POST',
    path: (id) => `/v1/accounts/${id}/adjustments`,
    token: TOKENS.finance,
    cases: () => [
      { name: 'credits with four decimals', body: { credits: 1.0005, reason: 'r' }, paths: ['credits'] },
      { name: 'credits as a string', body: { credits: '5', reason: 'r' }, paths: ['credits'] },
      { name: 'credits beyond a billion', body: { credits: 2_000_000_000, reason: 'r' }, paths: ['credits'] },
      { name: 'no reason', body: { credits: 5 }, paths: ['reason'] },
      { name: 'a blank reason', body: { credits: 5, reason: '   ' }, paths: ['reason'] },
    ],
  },
  'POST /v1/usage': {
    method: 'POST',
    path: () => '/v1/usage',
    cases: (id) => [
      { name: 'fractional tokens', body: { accountId: id, feature: 'chat', model: 'mini', inputTokens: 1.5 }, paths: ['inputTokens'] },
      { name: 'negative tokens', body: { accountId: id, feature: 'chat', model: 'mini', outputTokens: -3 }, paths: ['outputTokens'] },
      { name: 'no feature', body: { accountId: id }, paths: ['feature'] },
      { name: 'units as a string', body: { accountId: id, feature: 'image', quality: 'hd', units: '3' }, paths: ['units'] },
      { name: 'an occurredAt that is no instant', body: { accountId: id, feature: 'image', quality: 'hd', occurredAt: 'soon' }, paths: ['occurredAt'] },
      { name: 'an unknown field', body: { accountId: id, feature: 'chat', model: 'mini', inputTokens: 1, tokens: 5 }, paths: ['tokens'] },
    ],
  },
  'POST /v1/usage/batch': {
    method: 'POST',
    path: () => '/v1/usage/batch',
    cases: (id) => [
      { name: 'no records', body: {}, paths: ['records'] },
      { name: 'records that are not a list', body: { records: 'all of them' }, paths: ['records'] },
      { name: 'an empty list', body: { records: [] }, paths: ['records'] },
      {
        name: 'an unknown field beside the records',
        body: { records: [{ idempotencyKey: 'k', accountId: id, feature: 'image', quality: 'hd' }], dryRun: true },
        paths: ['dryRun'],
      },
    ],
  },
};

describe.each(Object.entries(ROUTE_CASES))('%s', (_route, spec) => {
  // The cases are listed for a placeholder id; each test opens its own account and builds its cases for it.
  const names = spec.cases('placeholder').map((c, i) => [c.name, i] as const);

  it.each(names)('refuses %s with 400 naming the fields, and changes nothing', async (_name, index) => {
    const id = newAccountId('bad');
    await openAccount(api(), id);
    const testCase = spec.cases(id)[index]!;
    const before = await ledgerVersion(api(), id);
    const res = await api().request(spec.method, spec.path(id), { body: testCase.body, token: spec.token ?? TOKENS.service });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toEqual(expect.any(String));
    const paths = (res.body.error.details.fields as Array<{ path: string; message: string }>).map((f) => f.path);
    expect([...new Set(paths)].sort()).toEqual([...testCase.paths].sort());
    expect(await ledgerVersion(api(), id)).toBe(before);
  });

  it('refuses a body that is not JSON with 400 invalid_json, and an empty body too', async () => {
    const id = newAccountId('bad');
    await openAccount(api(), id);
    const broken = await api().request(spec.method, spec.path(id), { rawBody: '{"accountId": ', token: spec.token ?? TOKENS.service });
    expect([broken.status, broken.body.error.code]).toEqual([400, 'invalid_json']);
    const empty = await api().request(spec.method, spec.path(id), { token: spec.token ?? TOKENS.service });
    expect([empty.status, empty.body.error.code]).toEqual([400, 'invalid_json']);
    expect(await ledgerVersion(api(), id)).toBe(2);
  });
});

describe('oversized requests', () => {
  it('given a 65 KB usage body, then it is 413 payload_too_large before any parsing, and nothing is charged', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const body = JSON.stringify({ accountId: id, feature: 'chat', model: 'mini', inputTokens: 1, chatbotId: 'x'.repeat(65 * 1024) });
    const res = await api().request('POST', '/v1/usage', { rawBody: body });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: 'payload_too_large', details: { limit: 65_536 } });
    expect(await ledgerVersion(api(), id)).toBe(2);
    const notJson = await api().request('POST', '/v1/usage', { rawBody: 'x'.repeat(65 * 1024) });
    expect(notJson.status).toBe(413);
  });

  it('given a batch of 101 records, then it is 413 batch_too_large and none is applied; 100 records are accepted', async () => {
    const id = newAccountId();
    await openAccount(api(), id, 'pro');
    const records = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => ({ idempotencyKey: `${prefix}-${i}`, accountId: id, feature: 'chat', model: 'mini', inputTokens: 100 }));
    const tooMany = await api().request('POST', '/v1/usage/batch', { body: { records: records(101, 'over') } });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error).toMatchObject({ code: 'batch_too_large', details: { records: 101, limit: 100 } });
    expect(await ledgerVersion(api(), id)).toBe(2);

    const full = await api().request('POST', '/v1/usage/batch', { body: { records: records(100, 'full') } });
    expect(full.status).toBe(200);
    expect(full.body.summary).toMatchObject({ records: 100, succeeded: 100 });
    expect(await ledgerVersion(api(), id)).toBe(102);
  });
});
