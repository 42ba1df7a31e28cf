import { describe, expect, it } from 'vitest';
import { TOKENS, ledgerOf, ledgerVersion, newAccountId, openAccount, spend, useLocalApi, type LocalApi } from '../support/local-api.js';

/**
 * Every command and read route through the local server (the same handlers API Gateway invokes): the success,
 * each error code the route can give, and the same request sent twice.
 */
const api = useLocalApi();

const path = (accountId: string, rest = ''): string => `/v1/accounts/${encodeURIComponent(accountId)}${rest}`;

/** Sends the same request twice with one key and checks the second is the first's answer with no new event. */
async function expectReplay(a: LocalApi, accountId: string, method: string, url: string, body: unknown, token: string = TOKENS.service) {
  const key = `replay-${newAccountId('k')}`;
  const first = await a.request(method, url, { body, key, token });
  const after = await ledgerVersion(a, accountId);
  const second = await a.request(method, url, { body, key, token });
  expect(second.status).toBe(first.status);
  expect(second.headers.get('idempotent-replayed')).toBe('true');
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  expect(second.body).toEqual(first.body);
  expect(second.text).toBe(first.text); // the first response itself, byte for byte, not an equal JSON value
  expect(await ledgerVersion(a, accountId)).toBe(after);
  return first;
}

describe('POST /v1/accounts', () => {
  it('given no account, when a service opens one on the free plan, then it is 201 with 100 monthly credits and two events', async () => {
    const id = newAccountId();
    const res = await api().request('POST', '/v1/accounts', { body: { accountId: id, plan: 'free', contact: { email: 'ops@example.com' } } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      accountId: id,
      plan: 'free',
      entitlements: { monthlyCredits: 100, unlimited: false, chatbots: 1 },
      contact: { email: 'ops@example.com' },
      balance: { total: 100, monthly: { allocation: 100, remaining: 100 }, purchased: { remaining: 0 }, version: 2 },
    });
    expect((await ledgerOf(api(), id)).map((e) => e.type)).toEqual(['AccountOpened', 'Granted']);
  });

  it('given an open account, when the same body is sent again with another key, then it is 200 with the account and nothing is appended', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const again = await api().request('POST', '/v1/accounts', { body: { accountId: id, plan: 'free' } });
    expect(again.status).toBe(200);
    expect(again.body.accountId).toBe(id);
    expect(await ledgerVersion(api(), id)).toBe(2);
  });

  it('given an open account, when it is opened again with another plan, then it is 409 account_exists', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const res = await api().request('POST', '/v1/accounts', { body: { accountId: id, plan: 'pro' } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('account_exists');
  });

  it('when the plan is not in the catalog, then it is 400 unknown_plan and no account exists', async () => {
    const id = newAccountId();
    const res = await api().request('POST', '/v1/accounts', { body: { accountId: id, plan: 'platinum' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unknown_plan');
    expect(await ledgerVersion(api(), id)).toBe(0);
  });

  it('when the cycle anchor is in the future, then it is 400 invalid_cycle_anchor', async () => {
    const future = new Date(api().clock.now().getTime() + 86_400_000).toISOString();
    const res = await api().request('POST', '/v1/accounts', { body: { accountId: newAccountId(), plan: 'free', cycleAnchor: future } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_cycle_anchor');
  });

  it('when the same request is sent twice with one key, then the second replays the first 201 and appends nothing', async () => {
    const id = newAccountId();
    const first = await expectReplay(api(), id, 'POST', '/v1/accounts', { accountId: id, plan: 'free' });
    expect(first.status).toBe(201);
  });

  it('when a key is reused with another body, then it is 422 idempotency_key_reused', async () => {
    const id = newAccountId();
    const key = newAccountId('key');
    await api().request('POST', '/v1/accounts', { body: { accountId: id, plan: 'free' }, key });
    const res = await api().request('POST', '/v1/accounts', { body: { accountId: id, plan: 'pro' }, key });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('idempotency_key_reused');
  });

  it('when the body is the same JSON in another key order and spacing, then it is the same request (replayed)', async () => {
    const id = newAccountId();
    const key = newAccountId('key');
    await api().request('POST', '/v1/accounts', { rawBody: `{"accountId":"${id}","plan":"free"}`, key });
    const res = await api().request('POST', '/v1/accounts', { rawBody: `{ "plan": "free",\n "accountId": "${id}" }`, key });
    expect(res.status).toBe(201);
    expect(res.headers.get('idempotent-replayed')).toBe('true');
  });

  it('when no Idempotency-Key is sent, then it is 400 idempotency_key_required and nothing is opened', async () => {
    const id = newAccountId();
    const res = await api().request('POST', '/v1/accounts', { body: { accountId: id, plan: 'free' }, key: null });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('idempotency_key_required');
    expect(await ledgerVersion(api(), id)).toBe(0);
  });

  it('when the Idempotency-Key is longer than 255 characters, then it is 400 invalid_idempotency_key', async () => {
    const res = await api().request('POST', '/v1/accounts', { body: { accountId: newAccountId(), plan: 'free' }, key: 'k'.repeat(256) });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_idempotency_key');
  });
});

describe('GET /v1/accounts/{id}', () => {
  it('given a pro account with contact channels, then it shows plan, entitlements, contact, cycle and balance', async () => {
    const id = newAccountId();
    await openAccount(api(), id, 'pro', { contact: { email: 'a@example.com', phone: '+14155550123' } });
    const res = await api().request('GET', path(id));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      accountId: id,
      plan: 'pro',
      pendingPlan: null,
      entitlements: { monthlyCredits: 5000, unlimited: false, chatbots: 5, priceUsd: 29 },
      contact: { email: 'a@example.com', phone: '+14155550123' },
      cycle: { number: 0 },
      balance: { total: 5000 },
      version: 2,
    });
    expect(Date.parse(res.body.cycle.end)).toBeGreaterThan(Date.parse(res.body.cycle.start));
  });

  it('when the account does not exist, then it is 404 account_not_found', async () => {
    const res = await api().request('GET', path(newAccountId()));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('account_not_found');
  });
});

describe('GET /v1/accounts/{id}/balance', () => {
  it('given a free account that spent 3.602 credits, then the balance has the SPEC §9 shape', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    await api().request('POST', '/v1/usage', { body: { accountId: id, feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 } });
    const res = await api().request('GET', path(id, '/balance'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      accountId: id,
      plan: 'free',
      unlimited: false,
      monthly: { allocation: 100, remaining: 96.398 },
      purchased: { remaining: 0 },
      total: 96.398,
      cycle: { number: 0, start: expect.any(String), end: expect.any(String) },
      version: 3,
    });
  });

  it('when the account does not exist, then it is 404 account_not_found', async () => {
    const res = await api().request('GET', path(newAccountId(), '/balance'));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('account_not_found');
  });
});

describe('PUT /v1/accounts/{id}/plan', () => {
  it('given a free account, when it upgrades to pro, then the upgrade applies now with the pro allocation', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    await spend(api(), id, 10);
    const res = await api().request('PUT', path(id, '/plan'), { body: { plan: 'pro' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ plan: 'pro', change: 'applied', pendingPlan: null, balance: { total: 5000, monthly: { allocation: 5000 } } });
    const types = (await ledgerOf(api(), id)).map((e) => e.type);
    expect(types.slice(-3)).toEqual(['PlanChanged', 'Expired', 'Granted']);
  });

  it('given a pro account, when it downgrades to free, then it is scheduled for the next cycle start; asking for pro again cancels it', async () => {
    const id = newAccountId();
    await openAccount(api(), id, 'pro');
    const down = await api().request('PUT', path(id, '/plan'), { body: { plan: 'free' } });
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ plan: 'pro', change: 'scheduled', pendingPlan: { plan: 'free' } });
    expect(down.body.effectiveAt).toBe(down.body.balance.cycle.end);
    const cancel = await api().request('PUT', path(id, '/plan'), { body: { plan: 'pro' } });
    expect(cancel.body).toMatchObject({ plan: 'pro', change: 'cancelled', pendingPlan: null });
  });

  it('when the plan is unknown, then it is 400 unknown_plan; when the account is unknown, 404', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const unknownPlan = await api().request('PUT', path(id, '/plan'), { body: { plan: 'gold' } });
    expect(unknownPlan.status).toBe(400);
    expect(unknownPlan.body.error.code).toBe('unknown_plan');
    const unknownAccount = await api().request('PUT', path(newAccountId(), '/plan'), { body: { plan: 'pro' } });
    expect(unknownAccount.status).toBe(404);
    expect(unknownAccount.body.error.code).toBe('account_not_found');
  });

  it('when the same change is sent twice with one key, then the second replays the first', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    await expectReplay(api(), id, 'PUT', path(id, '/plan'), { plan: 'pro' });
  });
});

describe('PUT /v1/accounts/{id}/contact', () => {
  it('given an account with an email, when a phone alone is put, then the phone replaces both channels', async () => {
    const id = newAccountId();
    await openAccount(api(), id, 'free', { contact: { email: 'old@example.com' } });
    const res = await api().request('PUT', path(id, '/contact'), { body: { phone: '+447700900123' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accountId: id, contact: { phone: '+447700900123' } });
    expect(res.body.contact.email).toBeUndefined();
    const account = await api().request('GET', path(id));
    expect(account.body.contact).toEqual({ phone: '+447700900123' });
  });

  it('when the account does not exist, then it is 404 and the same request twice replays', async () => {
    const missing = await api().request('PUT', path(newAccountId(), '/contact'), { body: { email: 'x@example.com' } });
    expect(missing.status).toBe(404);
    const id = newAccountId();
    await openAccount(api(), id);
    await expectReplay(api(), id, 'PUT', path(id, '/contact'), { email: 'x@example.com' });
  });
});

describe('POST /v1/accounts/{id}/purchases', () => {
  it('given a free account, when a pack_1000 is bought, then 1,000 purchased credits are added as a lot', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const res = await api().request('POST', path(id, '/purchases'), { body: { pack: 'pack_1000', paymentRef: `pay-${id}` } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ pack: 'pack_1000', credits: 1000, priceUsd: 10, credited: true, balance: { purchased: { remaining: 1000 }, total: 1100 } });
    expect(res.body.lotId).toEqual(expect.any(String));
  });

  it('given a purchase, when the same paymentRef comes again under another key, then it is 200 and nothing more is credited', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    await api().request('POST', path(id, '/purchases'), { body: { pack: 'pack_1000', paymentRef: 'pay-1' } });
    const again = await api().request('POST', path(id, '/purchases'), { body: { pack: 'pack_1000', paymentRef: 'pay-1' } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ credited: false, balance: { purchased: { remaining: 1000 } } });
    const otherPack = await api().request('POST', path(id, '/purchases'), { body: { pack: 'pack_5000', paymentRef: 'pay-1' } });
    expect(otherPack.status).toBe(409);
    expect(otherPack.body.error.code).toBe('payment_ref_reused');
  });

  it('when the pack is unknown, then 400 unknown_pack; on the unlimited custom plan, 422 packs_not_available; unknown account, 404', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const unknownPack = await api().request('POST', path(id, '/purchases'), { body: { pack: 'pack_7', paymentRef: 'p' } });
    expect([unknownPack.status, unknownPack.body.error.code]).toEqual([400, 'unknown_pack']);
    const custom = newAccountId();
    await openAccount(api(), custom, 'custom');
    const onCustom = await api().request('POST', path(custom, '/purchases'), { body: { pack: 'pack_1000', paymentRef: 'p' } });
    expect([onCustom.status, onCustom.body.error.code]).toEqual([422, 'packs_not_available']);
    const missing = await api().request('POST', path(newAccountId(), '/purchases'), { body: { pack: 'pack_1000', paymentRef: 'p' } });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'account_not_found']);
  });

  it('when the same purchase is sent twice with one key, then the second replays the 201', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const first = await expectReplay(api(), id, 'POST', path(id, '/purchases'), { pack: 'pack_5000', paymentRef: 'pay-r' });
    expect(first.status).toBe(201);
  });
});

describe('POST /v1/accounts/{id}/adjustments', () => {
  it('given a free account, when finance adds 10 credits and then takes 25.5, then both apply (the debit drawing monthly first)', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const plus = await api().request('POST', path(id, '/adjustments'), { token: TOKENS.finance, body: { credits: 10, reason: 'goodwill' } });
    expect(plus.status).toBe(201);
    expect(plus.body).toMatchObject({ credits: 10, balance: { purchased: { remaining: 10 }, total: 110 } });
    const minus = await api().request('POST', path(id, '/adjustments'), { token: TOKENS.finance, body: { credits: -25.5, reason: 'correction' } });
    expect(minus.status).toBe(201);
    expect(minus.body).toMatchObject({ credits: -25.5, split: { monthly: 25.5, purchased: 0 }, balance: { total: 84.5 } });
  });

  it('when a negative adjustment exceeds the balance, then it is 402 insufficient_credits and nothing is recorded', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const res = await api().request('POST', path(id, '/adjustments'), { token: TOKENS.finance, body: { credits: -100.001, reason: 'too much' } });
    expect(res.status).toBe(402);
    expect(res.body.error).toMatchObject({ code: 'insufficient_credits', details: { required: 100.001, available: 100 } });
    expect(await ledgerVersion(api(), id)).toBe(2);
  });

  it('when the amount is zero, then it is 400 invalid_amount; unknown account, 404; the same request twice replays', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const zero = await api().request('POST', path(id, '/adjustments'), { token: TOKENS.finance, body: { credits: 0, reason: 'nothing' } });
    expect([zero.status, zero.body.error.code]).toEqual([400, 'invalid_amount']);
    const missing = await api().request('POST', path(newAccountId(), '/adjustments'), { token: TOKENS.finance, body: { credits: 1, reason: 'r' } });
    expect(missing.status).toBe(404);
    await expectReplay(api(), id, 'POST', path(id, '/adjustments'), { credits: 1.5, reason: 'r' }, TOKENS.finance);
  });
});

describe('POST /v1/usage', () => {
  it('given a free account, when 1,234 + 567 chat/standard tokens arrive, then 3.602 credits are charged from the monthly bucket (SPEC §9)', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const res = await api().request('POST', '/v1/usage', { body: { accountId: id, feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      accountId: id,
      version: 3,
      charged: 3.602,
      split: { monthly: 3.602, purchased: 0 },
      balance: { monthly: { remaining: 96.398 }, total: 96.398, version: 3 },
    });
  });

  it('given a free account with 30 credits left, when 40 credits of usage arrive, then it is 402 with required and available, and nothing is appended', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    expect((await spend(api(), id, 70)).status).toBe(201);
    const before = await ledgerVersion(api(), id);
    const res = await spend(api(), id, 40);
    expect(res.status).toBe(402);
    expect(res.body).toEqual({
      error: { code: 'insufficient_credits', message: expect.any(String), details: { required: 40, available: 30 } },
    });
    expect(await ledgerVersion(api(), id)).toBe(before);
  });

  it('given a usage refused with 402 under a key, when a pack is bought and the same usage comes with that key, then the 402 is replayed byte for byte; a new key is charged', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    expect((await spend(api(), id, 70)).status).toBe(201);
    const body = { accountId: id, feature: 'chat', model: 'standard', inputTokens: 20_000 };
    const refused = await api().request('POST', '/v1/usage', { key: 'use-40', body });
    expect(refused.status).toBe(402);
    const purchase = await api().request('POST', path(id, '/purchases'), { body: { pack: 'pack_1000', paymentRef: `pay-${id}` } });
    expect(purchase.status).toBe(201);
    const version = await ledgerVersion(api(), id);

    const again = await api().request('POST', '/v1/usage', { key: 'use-40', body });
    expect(again.status).toBe(402);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(refused.headers.get('idempotent-replayed')).toBeNull();
    expect(again.text).toBe(refused.text);
    expect(await ledgerVersion(api(), id)).toBe(version);

    const reused = await api().request('POST', '/v1/usage', { key: 'use-40', body: { ...body, inputTokens: 10_000 } });
    expect([reused.status, reused.body.error.code]).toEqual([422, 'idempotency_key_reused']);
    const fresh = await api().request('POST', '/v1/usage', { key: 'use-40-again', body });
    expect([fresh.status, fresh.body.charged]).toEqual([201, 40]);
  });

  it('given a request refused before anything was decided (a malformed body, an unknown account), when it is fixed and sent with the same key, then it is applied', async () => {
    const id = newAccountId();
    const usage = { accountId: id, feature: 'image', quality: 'hd' };
    const malformed = await api().request('POST', '/v1/usage', { key: 'fix-me', body: { ...usage, units: -1 } });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'validation_failed']);
    const unknown = await api().request('POST', '/v1/usage', { key: 'fix-me', body: usage });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'account_not_found']);

    await openAccount(api(), id);
    const applied = await api().request('POST', '/v1/usage', { key: 'fix-me', body: usage });
    expect([applied.status, applied.headers.get('idempotent-replayed')]).toEqual([201, null]);
  });

  it('given a pack bought on the custom plan under a key, when it is sent again with that key, then its 422 is replayed', async () => {
    const id = newAccountId();
    await openAccount(api(), id, 'custom');
    const body = { pack: 'pack_1000', paymentRef: `pay-${id}` };
    const first = await api().request('POST', path(id, '/purchases'), { key: 'custom-pack', body });
    expect([first.status, first.body.error.code]).toEqual([422, 'packs_not_available']);
    const again = await api().request('POST', path(id, '/purchases'), { key: 'custom-pack', body });
    expect([again.status, again.headers.get('idempotent-replayed'), again.text]).toEqual([422, 'true', first.text]);
  });

  it('when usage crosses 20% of the allocation, then the answer names the threshold and a ThresholdCrossed is in the same append', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const res = await spend(api(), id, 80.001);
    expect(res.body.thresholdsCrossed).toEqual([20]);
    expect((await ledgerOf(api(), id)).at(-1)?.type).toBe('ThresholdCrossed');
  });

  it('when the feature or model has no rate, then 400 unknown_rate; a token feature without a model, 400 invalid_usage; unknown account, 404', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const noRate = await api().request('POST', '/v1/usage', { body: { accountId: id, feature: 'chat', model: 'galactic', inputTokens: 1 } });
    expect([noRate.status, noRate.body.error.code]).toEqual([400, 'unknown_rate']);
    const noModel = await api().request('POST', '/v1/usage', { body: { accountId: id, feature: 'chat', inputTokens: 1 } });
    expect([noModel.status, noModel.body.error.code]).toEqual([400, 'invalid_usage']);
    const missing = await api().request('POST', '/v1/usage', { body: { accountId: newAccountId(), feature: 'image', quality: 'hd' } });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'account_not_found']);
    expect(await ledgerVersion(api(), id)).toBe(2);
  });

  it('when the same usage is sent twice with one key, then it is charged once and the second replays the 201', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const first = await expectReplay(api(), id, 'POST', '/v1/usage', { accountId: id, feature: 'image', quality: 'hd', units: 3 });
    expect(first.body.charged).toBe(24);
    const balance = await api().request('GET', path(id, '/balance'));
    expect(balance.body.total).toBe(76);
  });
});

describe('POST /v1/usage/batch', () => {
  it('given two accounts, when a batch mixes good, unaffordable, malformed and unknown-account records, then each gets its own result in input order', async () => {
    const a = newAccountId('a');
    const b = newAccountId('b');
    await openAccount(api(), a);
    await openAccount(api(), b);
    const records = [
      { idempotencyKey: 'r0', accountId: a, feature: 'image', quality: 'hd', units: 10 },
      { idempotencyKey: 'r1', accountId: b, feature: 'chat', model: 'mini', inputTokens: 333 },
      { idempotencyKey: 'r2', accountId: a, feature: 'image', quality: 'hd', units: 5 },
      { idempotencyKey: 'r3', accountId: a, feature: 'image', quality: 'standard', units: 5 },
      { idempotencyKey: 'r4', accountId: b, feature: 'chat', model: 'mini', inputTokens: -1 },
      { idempotencyKey: 'r5', accountId: newAccountId('ghost'), feature: 'image', quality: 'hd' },
    ];
    const res = await api().request('POST', '/v1/usage/batch', { body: { records } });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { index: number; status: number }) => [r.index, r.status])).toEqual([
      [0, 201],
      [1, 201],
      [2, 402],
      [3, 201],
      [4, 400],
      [5, 404],
    ]);
    expect(res.body.results[0].body).toMatchObject({ charged: 80, balance: { total: 20 } });
    expect(res.body.results[1].body).toMatchObject({ charged: 0.167 });
    expect(res.body.results[2].body.error).toMatchObject({ code: 'insufficient_credits', details: { required: 40, available: 20 } });
    expect(res.body.results[3].body).toMatchObject({ charged: 20, balance: { total: 0 } });
    expect(res.body.results[4].body.error.details.fields).toEqual([{ path: 'records.4.inputTokens', message: expect.any(String) }]);
    expect(res.body.summary).toEqual({ records: 6, succeeded: 3, failed: 3, replayed: 0 });
    expect((await api().request('GET', path(a, '/balance'))).body.total).toBe(0);
  });

  it('when the same records are sent again under a new batch key, then every record replays, nothing is appended, and the response says it was replayed', async () => {
    const a = newAccountId();
    await openAccount(api(), a);
    const body = {
      records: [
        { idempotencyKey: 'b0', accountId: a, feature: 'image', quality: 'standard' },
        { idempotencyKey: 'b1', accountId: a, feature: 'image', quality: 'standard', units: 2 },
      ],
    };
    const first = await api().request('POST', '/v1/usage/batch', { body });
    const version = await ledgerVersion(api(), a);
    const second = await api().request('POST', '/v1/usage/batch', { body });
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.results.map((r: { replayed: boolean }) => r.replayed)).toEqual([true, true]);
    expect(second.body.results.map((r: { body: unknown }) => r.body)).toEqual(first.body.results.map((r: { body: unknown }) => r.body));
    expect(await ledgerVersion(api(), a)).toBe(version);
  });

  it('when the same batch is sent again with its key, then the stored batch answer is replayed byte for byte and nothing is appended', async () => {
    const a = newAccountId();
    await openAccount(api(), a);
    const body = { records: [{ idempotencyKey: `${a}-r0`, accountId: a, feature: 'image', quality: 'hd', units: 13 }, { idempotencyKey: `${a}-r1`, accountId: a, feature: 'image', quality: 'standard' }] };
    const first = await api().request('POST', '/v1/usage/batch', { key: `batch-${a}`, body });
    expect(first.body.results.map((r: { status: number }) => r.status)).toEqual([402, 201]);
    const version = await ledgerVersion(api(), a);

    const again = await api().request('POST', '/v1/usage/batch', { key: `batch-${a}`, body });
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.text).toBe(first.text);
    expect(await ledgerVersion(api(), a)).toBe(version);
  });

  it('given a batch key already used, when it comes with other records, then it is 422 idempotency_key_reused and none of them is applied', async () => {
    const a = newAccountId();
    await openAccount(api(), a);
    const record = (key: string, units: number) => ({ idempotencyKey: key, accountId: a, feature: 'image', quality: 'standard', units });
    const first = await api().request('POST', '/v1/usage/batch', { key: `batch-${a}`, body: { records: [record(`${a}-A`, 1)] } });
    expect(first.body.results[0].status).toBe(201);
    const version = await ledgerVersion(api(), a);

    const other = await api().request('POST', '/v1/usage/batch', { key: `batch-${a}`, body: { records: [record(`${a}-B`, 2)] } });
    expect([other.status, other.body.error.code]).toEqual([422, 'idempotency_key_reused']);
    expect(await ledgerVersion(api(), a)).toBe(version);
    const alone = await api().request('POST', '/v1/usage', { key: `${a}-B`, body: { accountId: a, feature: 'image', quality: 'standard', units: 2 } });
    expect([alone.status, alone.headers.get('idempotent-replayed')]).toEqual([201, null]);
  });

  it('given two identical batches sent at once with one key, then each record is charged once and both get the one stored answer, which a third send replays', async () => {
    const a = newAccountId();
    await openAccount(api(), a, 'pro');
    const records = Array.from({ length: 10 }, (_, i) => ({ idempotencyKey: `${a}-${i}`, accountId: a, feature: 'image', quality: 'standard' }));
    const send = () => api().request('POST', '/v1/usage/batch', { key: `batch-${a}`, body: { records } });

    const [one, two] = await Promise.all([send(), send()]);

    expect([one!.status, two!.status]).toEqual([200, 200]);
    expect(two!.text).toBe(one!.text);
    expect(one!.body.results.every((r: { status: number }) => r.status === 201)).toBe(true);
    const debits = (await ledgerOf(api(), a)).filter((e) => e.type === 'Debited');
    expect(debits).toHaveLength(10);
    const third = await send();
    expect([third.text, third.headers.get('idempotent-replayed')]).toEqual([one!.text, 'true']);
  });

  it('given a usage recorded alone with a key, when the same record comes in a batch with that key, then it replays instead of charging again', async () => {
    const a = newAccountId();
    await openAccount(api(), a);
    const single = await api().request('POST', '/v1/usage', { key: 'same-usage', body: { accountId: a, feature: 'image', quality: 'hd' } });
    const batch = await api().request('POST', '/v1/usage/batch', {
      body: { records: [{ idempotencyKey: 'same-usage', accountId: a, feature: 'image', quality: 'hd' }] },
    });
    expect(batch.body.results[0]).toMatchObject({ status: 201, replayed: true, body: single.body });
    expect((await api().request('GET', path(a, '/balance'))).body.total).toBe(92);
  });

  it('when one key appears twice in a batch with different records, then the second is 422 idempotency_key_reused', async () => {
    const a = newAccountId();
    await openAccount(api(), a);
    const res = await api().request('POST', '/v1/usage/batch', {
      body: {
        records: [
          { idempotencyKey: 'dup', accountId: a, feature: 'image', quality: 'hd' },
          { idempotencyKey: 'dup', accountId: a, feature: 'image', quality: 'standard' },
        ],
      },
    });
    expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 422]);
    expect(res.body.results[1].body.error.code).toBe('idempotency_key_reused');
  });
});

describe('GET /v1/accounts/{id}/ledger', () => {
  it('given five events, when read two at a time, then three pages follow the cursor in version order and the last has no cursor', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    await spend(api(), id, 1);
    await spend(api(), id, 2);
    await spend(api(), id, 3);
    const versions: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`;
      const res = await api().request('GET', path(id, `/ledger${query}`));
      expect(res.status).toBe(200);
      versions.push(...res.body.items.map((i: { version: number }) => i.version));
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor !== null);
    expect(versions).toEqual([1, 2, 3, 4, 5]);
    expect(pages).toBe(3);
  });

  it('shows amounts in credits: a grant of 100, a debit of 3.602 split by bucket, the rate per 1,000 tokens', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    await api().request('POST', '/v1/usage', { body: { accountId: id, feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 } });
    const items = await ledgerOf(api(), id);
    expect(items[1]).toMatchObject({ type: 'Granted', data: { credits: 100 } });
    expect(items[2]).toMatchObject({
      version: 3,
      type: 'Debited',
      data: { reason: 'usage', amount: 3.602, split: { monthly: 3.602, purchased: 0, lots: [] }, usage: { quantity: 1801, rate: { credits: 2, per: 1000 } } },
    });
  });

  it('when the cursor was not issued by the API, then 400 invalid_cursor; a limit above 500, 400; an unknown account, 404', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    const badCursor = await api().request('GET', path(id, '/ledger?cursor=not-a-cursor'));
    expect([badCursor.status, badCursor.body.error.code]).toEqual([400, 'invalid_cursor']);
    const bigLimit = await api().request('GET', path(id, '/ledger?limit=501'));
    expect([bigLimit.status, bigLimit.body.error.code]).toEqual([400, 'validation_failed']);
    expect(bigLimit.body.error.details.fields[0].path).toBe('limit');
    const missing = await api().request('GET', path(newAccountId(), '/ledger'));
    expect([missing.status, missing.body.error.code]).toEqual([404, 'account_not_found']);
  });

  it('given an unknown account, when its ledger is asked for with a cursor, then it is 404 account_not_found too; past the end of an open account, 200 with no items', async () => {
    const missing = await api().request('GET', path(newAccountId(), '/ledger?cursor=Mw'));
    expect([missing.status, missing.body.error?.code]).toEqual([404, 'account_not_found']);

    const id = newAccountId();
    await openAccount(api(), id);
    const pastTheEnd = await api().request('GET', path(id, '/ledger?cursor=Mw'));
    expect([pastTheEnd.status, pastTheEnd.body]).toEqual([200, { items: [], nextCursor: null }]);
  });
});

describe('GET /v1/catalog', () => {
  it('lists plans, packs and rates in credits with the catalog version', async () => {
    const res = await api().request('GET', '/v1/catalog', { token: TOKENS.customer('anyone') });
    expect(res.status).toBe(200);
    expect(res.body.version).toEqual(expect.any(String));
    expect(res.body.plans.map((p: { id: string }) => p.id)).toEqual(['free', 'pro', 'custom']);
    expect(res.body.packs).toContainEqual({ id: 'pack_1000', credits: 1000, priceUsd: 10 });
    expect(res.body.rates).toContainEqual({ feature: 'chat', variant: 'mini', measure: 'tokens', credits: 0.5, per: 1000 });
  });
});

describe('the local clock reaches every handler', () => {
  it('given a free account that spent 10 credits, when the clock passes the cycle end, then the balance shows the new grant before any command records it', async () => {
    const id = newAccountId();
    await openAccount(api(), id);
    await spend(api(), id, 10);
    const before = await api().request('GET', path(id, '/balance'));
    await api().advance('P1M');
    const after = await api().request('GET', path(id, '/balance'));
    expect(after.body).toMatchObject({ total: 100, cycle: { number: 1, start: before.body.cycle.end }, version: before.body.version });
    const usage = await spend(api(), id, 1);
    expect(usage.body.balance).toMatchObject({ total: 99, cycle: { number: 1 } });
    expect((await ledgerOf(api(), id)).map((e) => e.type).slice(-3)).toEqual(['Expired', 'Granted', 'Debited']);
  });
});
