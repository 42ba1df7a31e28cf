import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTES, type RouteDefinition } from '../../infra/routes.js';
import { TOKENS, ledgerVersion, newAccountId, openAccount, useLocalApi, type LocalApi } from '../support/local-api.js';

/**
 * The authorization matrix (SPEC §6): every route × service, finance, the account's own customer, another
 * customer, and no token. Allowed callers get the route's answer, refused ones 403 (401 without a token), and a
 * refused write changes nothing.
 */
const api = useLocalApi();

type Caller = 'service' | 'finance' | 'own customer' | 'other customer' | 'no token';
const CALLERS: readonly Caller[] = ['service', 'finance', 'own customer', 'other customer', 'no token'];

function tokenFor(caller: Caller, accountId: string): string | null {
  switch (caller) {
    case 'service':
      return TOKENS.service;
    case 'finance':
      return TOKENS.finance;
    case 'own customer':
      return TOKENS.customer(accountId);
    case 'other customer':
      return TOKENS.customer(`${accountId}-other`);
    case 'no token':
      return null;
  }
}

function allowed(route: RouteDefinition, caller: Caller): boolean {
  switch (caller) {
    case 'service':
      return route.access.service;
    case 'finance':
      return route.access.finance;
    // A customer may use a route about its own account; on routes about no account (the catalog) any customer may.
    case 'own customer':
      return route.access.ownCustomer;
    case 'other customer':
      return route.access.ownCustomer && !route.path.includes('{id}');
    case 'no token':
      return false;
  }
}

interface Call {
  path: string;
  body?: unknown;
  /** The account a write would change (checked unchanged when the write is refused). */
  touches?: string;
}

/** A valid request of each route this suite knows, for an open account; other routes get a bare request. */
const CALLS: Record<string, (accountId: string) => Call> = {
  'POST /v1/accounts': () => {
    const fresh = newAccountId('fresh');
    return { path: '/v1/accounts', body: { accountId: fresh, plan: 'free' }, touches: fresh };
  },
  'GET /v1/accounts/{id}': (id) => ({ path: `/v1/accounts/${id}` }),
  'GET /v1/accounts/{id}/balance': (id) => ({ path: `/v1/accounts/${id}/balance` }),
  'PUT /v1/accounts/{id}/plan': (id) => ({ path: `/v1/accounts/${id}/plan`, body: { plan: 'pro' }, touches: id }),
  'PUT /v1/accounts/{id}/contact': (id) => ({ path: `/v1/accounts/${id}/contact`, body: { email: 'me@example.com' }, touches: id }),
  'POST /v1/accounts/{id}/purchases': (id) => ({ path: `/v1/accounts/${id}/purchases`, body: { pack: 'pack_1000', paymentRef: `pay-${id}` }, touches: id }),
  'POST /v1/accounts/{id}/adjustments': (id) => ({ path: `/v1/accounts/${id}/adjustments`, body: { credits: 5, reason: 'matrix' }, touches: id }),
  'POST /v1/usage': (id) => ({ path: '/v1/usage', body: { accountId: id, feature: 'image', quality: 'standard' }, touches: id }),
  'POST /v1/usage/batch': (id) => ({
    path: '/v1/usage/batch',
    body: { records: [{ idempotencyKey: `batch-${id}`, accountId: id, feature: 'image', quality: 'standard' }] },
    touches: id,
  }),
  'GET /v1/accounts/{id}/ledger': (id) => ({ path: `/v1/accounts/${id}/ledger` }),
  'GET /v1/accounts/{id}/usage': (id) => ({ path: `/v1/accounts/${id}/usage?groupBy=feature` }),
  'GET /v1/accounts/{id}/usage/export': (id) => ({ path: `/v1/accounts/${id}/usage/export?format=jsonl` }),
  'GET /v1/reports/finance': () => ({ path: '/v1/reports/finance?month=2026-11' }),
  'GET /v1/reports/balances': () => ({ path: '/v1/reports/balances' }),
  'GET /v1/catalog': () => ({ path: '/v1/catalog' }),
};

/** Routes of the read side, whose full answers their own suites check: here only that the caller gets past auth. */
const PROJECTION_ROUTES = new Set([
  'GET /v1/accounts/{id}/usage',
  'GET /v1/accounts/{id}/usage/export',
  'GET /v1/reports/finance',
  'GET /v1/reports/balances',
]);

/** The routes whose handler this checkout has (the projection routes arrive with the projections). */
const served = ROUTES.filter((route) => existsSync(resolve(import.meta.dirname, '../..', route.entry)));
const routeKey = (route: RouteDefinition): string => `${route.method} ${route.path}`;

async function call(a: LocalApi, route: RouteDefinition, caller: Caller) {
  const accountId = newAccountId('m');
  await openAccount(a, accountId);
  const build = CALLS[routeKey(route)];
  const request = build === undefined ? { path: route.path.replace('{id}', accountId) } : build(accountId);
  const touched = request.touches;
  const before = touched === undefined ? 0 : await ledgerVersion(a, touched);
  const res = await a.request(route.method, request.path, { token: tokenFor(caller, accountId), ...(request.body === undefined ? {} : { body: request.body }) });
  const after = touched === undefined ? 0 : await ledgerVersion(a, touched);
  return { res, changed: after !== before };
}

describe('the authorization matrix', () => {
  it('covers every command and read route of the command side', () => {
    const keys = served.map(routeKey);
    for (const key of Object.keys(CALLS).slice(0, 10)) expect(keys).toContain(key);
    expect(keys).toContain('GET /v1/catalog');
  });

  describe.each(served.map((route) => [routeKey(route), route] as const))('%s', (_key, route) => {
    it.each(CALLERS.filter((caller) => allowed(route, caller)))('is served for %s (2xx for a valid request)', async (caller) => {
      const { res } = await call(api(), route, caller);
      expect([401, 403]).not.toContain(res.status);
      if (!PROJECTION_ROUTES.has(routeKey(route))) {
        expect(res.status, res.text).toBeGreaterThanOrEqual(200);
        expect(res.status, res.text).toBeLessThan(300);
      }
    });

    it.each(CALLERS.filter((caller) => caller !== 'no token' && !allowed(route, caller)))('is 403 forbidden for %s, and changes nothing', async (caller) => {
      const { res, changed } = await call(api(), route, caller);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
      expect(changed).toBe(false);
    });

    it('is 401 unauthorized without a token, and changes nothing', async () => {
      const { res, changed } = await call(api(), route, 'no token');
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(changed).toBe(false);
    });
  });

  it('treats an unknown token like no token (401)', async () => {
    const res = await api().request('GET', '/v1/catalog', { token: 'not-a-dev-token' });
    expect(res.status).toBe(401);
  });
});
