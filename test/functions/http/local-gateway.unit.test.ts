import { describe, expect, it } from 'vitest';
import { principalOf } from '../../../functions/lib/auth.js';
import {
  LOCAL_FINANCE_ROLE_ARN,
  addDuration,
  authorizerFor,
  compileRoutes,
  gatewayTime,
  matchRoute,
  parseDuration,
  toGatewayEvent,
} from '../../../infra/local/server.js';
import { ROUTES } from '../../../infra/routes.js';

/**
 * The local API Gateway (infra/local/server.ts) builds the same payload 2.0 event the deployed handler gets, and
 * turns development tokens into the authorizer context AWS's authorizers would attach.
 */
const compiled = compileRoutes(ROUTES);
const AT = new Date('2026-11-26T10:00:00.000Z');
const settings = { financePrincipals: [LOCAL_FINANCE_ROLE_ARN], customerAccountClaim: 'account_id' };

function eventFor(method: string, url: string, headers: Record<string, string | string[]> = {}, body = '') {
  const path = url.split('?')[0]!;
  const matched = matchRoute(compiled, method, path);
  if (matched === undefined) throw new Error(`no route ${method} ${path}`);
  return toGatewayEvent({ method, url, headers, body: Buffer.from(body), sourceIp: '127.0.0.1' }, matched.route, matched.pathParameters, AT);
}

describe('matching routes', () => {
  it('tells a route from a longer one by its segments, and decodes the account id', () => {
    expect(matchRoute(compiled, 'GET', '/v1/accounts/acme/usage/export')?.route.entry).toBe('functions/http/export-usage.ts');
    expect(matchRoute(compiled, 'GET', '/v1/accounts/acme/usage')?.route.entry).toBe('functions/http/get-usage-report.ts');
    expect(matchRoute(compiled, 'POST', '/v1/usage/batch')?.route.entry).toBe('functions/http/record-usage-batch.ts');
    expect(matchRoute(compiled, 'GET', '/v1/accounts/a%40b.com')?.pathParameters).toEqual({ id: 'a@b.com' });
  });

  it('matches nothing for another method or a trailing slash, as API Gateway would not', () => {
    expect(matchRoute(compiled, 'GET', '/v1/usage')).toBeUndefined();
    expect(matchRoute(compiled, 'GET', '/v1/catalog/')).toBeUndefined();
  });
});

describe('the API Gateway event', () => {
  it('has the route key, raw path and query, lower-cased headers, cookies apart, path parameters and the request context', () => {
    const event = eventFor('GET', '/v1/accounts/acme/ledger?limit=2&tag=a&tag=b', {
      'Content-Type': 'application/json',
      'X-Trace': 't-1',
      Cookie: 'a=1; b=2',
      'User-Agent': 'curl/8',
      Host: 'localhost:3000',
    });
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /v1/accounts/{id}/ledger',
      rawPath: '/v1/accounts/acme/ledger',
      rawQueryString: 'limit=2&tag=a&tag=b',
      queryStringParameters: { limit: '2', tag: 'a,b' },
      pathParameters: { id: 'acme' },
      cookies: ['a=1', 'b=2'],
      isBase64Encoded: false,
      requestContext: {
        routeKey: 'GET /v1/accounts/{id}/ledger',
        stage: '$default',
        http: { method: 'GET', path: '/v1/accounts/acme/ledger', sourceIp: '127.0.0.1', userAgent: 'curl/8' },
        time: '26/Nov/2026:10:00:00 +0000',
        timeEpoch: AT.getTime(),
        domainName: 'localhost:3000',
      },
    });
    expect(event.headers).toMatchObject({ 'content-type': 'application/json', 'x-trace': 't-1' });
    expect(event.headers).not.toHaveProperty('cookie');
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event).not.toHaveProperty('body');
  });

  it('passes a JSON body as text and a binary one base64-encoded', () => {
    const text = eventFor('POST', '/v1/usage', { 'content-type': 'application/json' }, '{"a":1}');
    expect([text.body, text.isBase64Encoded]).toEqual(['{"a":1}', false]);
    const binary = eventFor('POST', '/v1/usage', { 'content-type': 'application/octet-stream' }, 'raw');
    expect([binary.body, binary.isBase64Encoded]).toEqual([Buffer.from('raw').toString('base64'), true]);
  });

  it('has no authorizer without a token, so the handler answers 401', () => {
    expect(eventFor('GET', '/v1/catalog').requestContext.authorizer).toBeUndefined();
  });
});

describe('development tokens', () => {
  it('dev-service is an IAM caller that is a service', () => {
    expect(principalOf({ authorizer: authorizerFor('Bearer dev-service') }, settings)?.kind).toBe('service');
  });

  it('dev-finance is an IAM caller in the finance role the local runtime lists', () => {
    const authorizer = authorizerFor('Bearer dev-finance');
    expect(authorizer).toMatchObject({ iam: { userArn: 'arn:aws:sts::000000000000:assumed-role/credits-local-finance/dev-finance' } });
    expect(principalOf({ authorizer }, settings)?.kind).toBe('finance');
    expect(principalOf({ authorizer }, { ...settings, financePrincipals: [] })?.kind).toBe('service');
  });

  it('dev-customer:<id> carries JWT claims with that account id, under the configured claim', () => {
    expect(authorizerFor('Bearer dev-customer:acme')).toMatchObject({ jwt: { claims: { account_id: 'acme' } } });
    expect(authorizerFor('bearer dev-customer:acme', 'tenant')).toMatchObject({ jwt: { claims: { tenant: 'acme' } } });
    expect(principalOf({ authorizer: authorizerFor('Bearer dev-customer:acme') }, settings)).toEqual({ kind: 'customer', accountId: 'acme' });
  });

  it('gives no authorizer for no token, an unknown one, an empty customer id or another scheme', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer nope', 'Bearer dev-customer:', 'Basic dev-service', 'dev-service']) {
      expect(authorizerFor(header)).toBeUndefined();
    }
  });
});

describe('the local clock’s durations', () => {
  it('reads ISO-8601 durations', () => {
    expect(parseDuration('P1M')).toMatchObject({ months: 1, days: 0, hours: 0 });
    expect(parseDuration('PT1H')).toMatchObject({ hours: 1, months: 0 });
    expect(parseDuration('P1DT2H')).toMatchObject({ days: 1, hours: 2 });
    expect(parseDuration('P1Y2M3W4DT5H6M7.5S')).toEqual({ years: 1, months: 2, weeks: 3, days: 4, hours: 5, minutes: 6, seconds: 7.5 });
  });

  it('refuses what is not one', () => {
    for (const text of ['', 'P', 'PT', '1M', 'P1H', '-P1D', 'P1.5D', 'month']) expect(parseDuration(text)).toBeUndefined();
  });

  it('moves months along the calendar, clamped to the month end, and days and hours by fixed lengths', () => {
    const jan31 = new Date('2027-01-31T10:00:00.000Z');
    expect(addDuration(jan31, parseDuration('P1M')!).toISOString()).toBe('2027-02-28T10:00:00.000Z');
    expect(addDuration(new Date('2028-01-31T10:00:00.000Z'), parseDuration('P1M')!).toISOString()).toBe('2028-02-29T10:00:00.000Z');
    expect(addDuration(jan31, parseDuration('P1DT2H')!).toISOString()).toBe('2027-02-01T12:00:00.000Z');
    expect(addDuration(jan31, parseDuration('PT0.25S')!).toISOString()).toBe('2027-01-31T10:00:00.250Z');
  });

  it('formats requestContext.time like API Gateway', () => {
    expect(gatewayTime(new Date('2027-03-05T07:08:09.000Z'))).toBe('05/Mar/2027:07:08:09 +0000');
  });
});
