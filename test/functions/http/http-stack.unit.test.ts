import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { DomainError, InsufficientCreditsError, creditsSchema, type DomainErrorKind } from '../../../domain/index.js';
import { ApiError } from '../../../functions/lib/errors.js';
import {
  MAX_BODY_BYTES,
  fieldIssues,
  httpHandler,
  logger,
  requestHash,
  type HandlerInput,
  type HttpAuthorizer,
  type HttpEvent,
} from '../../../functions/lib/http.js';
import type { RouteDefinition } from '../../../infra/routes.js';

/**
 * The shared HTTP stack with hand-built API Gateway (payload 2.0) events: no server, no store. Checks the order of
 * refusals (auth, size, key, JSON, schema), the one error mapping, and what the route's handler receives.
 */
process.env.FINANCE_PRINCIPAL_ARNS = 'arn:aws:iam::111122223333:role/finance';

const SERVICE_ARN = 'arn:aws:sts::111122223333:assumed-role/chat-service/s';
const FINANCE_ARN = 'arn:aws:sts::111122223333:assumed-role/finance/s';
const asService: HttpAuthorizer = { iam: { userArn: SERVICE_ARN } as never };
const asFinance: HttpAuthorizer = { iam: { userArn: FINANCE_ARN } as never };
const asCustomer = (accountId: string): HttpAuthorizer => ({ jwt: { claims: { account_id: accountId }, scopes: null } });

const WRITE: RouteDefinition = {
  method: 'POST',
  path: '/v1/accounts/{id}/things',
  entry: 'test',
  access: { service: true, finance: false, ownCustomer: true },
  mutating: true,
};
const READ: RouteDefinition = { method: 'GET', path: '/v1/accounts/{id}/stuff', entry: 'test', access: { service: true, finance: true, ownCustomer: true }, mutating: false };

const context = { awsRequestId: 'aws-req' } as Context;

interface EventOptions {
  route?: RouteDefinition;
  accountId?: string;
  authorizer?: HttpAuthorizer | null;
  headers?: Record<string, string>;
  body?: string;
  base64?: boolean;
  query?: Record<string, string>;
}

function event(options: EventOptions = {}): HttpEvent {
  const route = options.route ?? WRITE;
  const accountId = options.accountId ?? 'acme';
  const rawPath = route.path.replace('{id}', accountId);
  const authorizer = options.authorizer === undefined ? asService : options.authorizer;
  return {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath,
    rawQueryString: '',
    headers: { 'Idempotency-Key': 'key-1', ...options.headers },
    ...(options.query === undefined ? {} : { queryStringParameters: options.query }),
    pathParameters: { id: accountId },
    requestContext: {
      accountId: '111122223333',
      apiId: 'api',
      domainName: 'example.com',
      domainPrefix: 'example',
      http: { method: route.method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'req-1',
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      time: '26/Nov/2026:10:00:00 +0000',
      timeEpoch: 0,
      ...(authorizer === null ? {} : { authorizer }),
    },
    isBase64Encoded: options.base64 ?? false,
    ...(options.body === undefined ? {} : { body: options.body }),
  };
}

const thingBody = z.strictObject({ credits: creditsSchema, note: z.string().optional(), tags: z.array(z.string().min(1)).optional() });
type ThingInput = HandlerInput<z.output<typeof thingBody>, undefined>;

function writeHandler(respond: (input: ThingInput) => Promise<{ statusCode: number; body?: unknown; replayed?: boolean }> = async () => ({ statusCode: 201, body: { ok: true } })) {
  const seen: ThingInput[] = [];
  const handler = httpHandler({
    route: WRITE,
    body: thingBody,
    handle: async (input) => {
      seen.push(input);
      return respond(input);
    },
  });
  return { handler, seen };
}

const json = (result: { body?: string }) => JSON.parse(result.body ?? 'null');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a valid request', () => {
  it('reaches the handler with the principal, the account id, the parsed body (credits as millicredits) and the idempotency key', async () => {
    const { handler, seen } = writeHandler();
    const result = await handler(event({ body: '{"credits": 1.5, "note": "hi"}' }), context);
    expect(result.statusCode).toBe(201);
    expect(result.headers).toMatchObject({ 'content-type': 'application/json' });
    expect(json(result)).toEqual({ ok: true });
    expect(seen[0]).toMatchObject({
      principal: { kind: 'service', arn: SERVICE_ARN },
      accountId: 'acme',
      body: { credits: 1500, note: 'hi' },
      idempotency: { key: 'key-1', requestHash: requestHash('POST', '/v1/accounts/acme/things', { credits: 1.5, note: 'hi' }) },
      requestId: 'req-1',
    });
  });

  it('is bound to a request hash that ignores key order and spacing but not the body, the method or the path', () => {
    const a = requestHash('POST', '/v1/accounts/acme/things', JSON.parse('{"credits":1,"note":"x"}'));
    expect(requestHash('POST', '/v1/accounts/acme/things', JSON.parse('{ "note": "x",\n "credits": 1.0 }'))).toBe(a);
    expect(requestHash('POST', '/v1/accounts/acme/things', { credits: 2, note: 'x' })).not.toBe(a);
    expect(requestHash('PUT', '/v1/accounts/acme/things', { credits: 1, note: 'x' })).not.toBe(a);
    expect(requestHash('POST', '/v1/accounts/globex/things', { credits: 1, note: 'x' })).not.toBe(a);
  });

  it('given a replayed answer, then the response carries Idempotent-Replayed: true; a first answer does not', async () => {
    const replayed = writeHandler(async () => ({ statusCode: 201, body: {}, replayed: true }));
    const first = writeHandler(async () => ({ statusCode: 201, body: {}, replayed: false }));
    expect((await replayed.handler(event({ body: '{"credits":1}' }), context)).headers).toMatchObject({ 'Idempotent-Replayed': 'true' });
    expect((await first.handler(event({ body: '{"credits":1}' }), context)).headers).not.toHaveProperty('Idempotent-Replayed');
  });

  it('reads headers whatever their case', async () => {
    const { handler, seen } = writeHandler();
    const upper = event({ body: '{"credits":1}' });
    upper.headers = { 'IDEMPOTENCY-KEY': 'upper' };
    expect((await handler(upper, context)).statusCode).toBe(201);
    expect(seen[0]?.idempotency?.key).toBe('upper');
  });
});

describe('authorization comes first', () => {
  it('given no authorizer context, then 401 unauthorized with a Bearer challenge, before the body is even looked at', async () => {
    const { handler, seen } = writeHandler();
    const result = await handler(event({ authorizer: null, body: 'not json', headers: { 'Idempotency-Key': '' } }), context);
    expect(result.statusCode).toBe(401);
    expect(result.headers).toMatchObject({ 'www-authenticate': 'Bearer' });
    expect(json(result).error.code).toBe('unauthorized');
    expect(seen).toHaveLength(0);
  });

  it('given a customer of another account, then 403; of this account, served', async () => {
    const { handler } = writeHandler();
    expect((await handler(event({ authorizer: asCustomer('globex'), body: '{"credits":1}' }), context)).statusCode).toBe(403);
    expect((await handler(event({ authorizer: asCustomer('acme'), body: '{"credits":1}' }), context)).statusCode).toBe(201);
  });

  it('given a caller of a finance role on a route without finance access, then 403 forbidden', async () => {
    const { handler } = writeHandler();
    const result = await handler(event({ authorizer: asFinance, body: '{"credits":1}' }), context);
    expect(result.statusCode).toBe(403);
    expect(json(result).error).toMatchObject({ code: 'forbidden', details: { principal: 'finance' } });
  });

  it('given an account id that no account can have, then 400 naming the path parameter', async () => {
    const { handler } = writeHandler();
    const result = await handler(event({ accountId: 'has space', authorizer: asService, body: '{"credits":1}' }), context);
    expect(result.statusCode).toBe(400);
    expect(json(result).error.details.fields[0].path).toBe('id');
  });
});

describe('size, key, JSON and schema', () => {
  const padded = (bytes: number): string => {
    const head = '{"credits":1,"note":"';
    return head + 'x'.repeat(bytes - head.length - 2) + '"}';
  };

  it('given a body one byte over 64 KB, then 413 payload_too_large; exactly 64 KB is accepted', async () => {
    const { handler } = writeHandler();
    expect(padded(MAX_BODY_BYTES + 1)).toHaveLength(65_537);
    const over = await handler(event({ body: padded(MAX_BODY_BYTES + 1) }), context);
    expect(over.statusCode).toBe(413);
    expect(json(over).error).toMatchObject({ code: 'payload_too_large', details: { bytes: 65_537, limit: 65_536 } });
    expect((await handler(event({ body: padded(MAX_BODY_BYTES) }), context)).statusCode).toBe(201);
  });

  it('counts a base64-encoded body by its decoded bytes', async () => {
    const { handler, seen } = writeHandler();
    const small = await handler(event({ body: Buffer.from('{"credits":2}').toString('base64'), base64: true }), context);
    expect(small.statusCode).toBe(201);
    expect(seen[0]?.body.credits).toBe(2000);
    const big = await handler(event({ body: Buffer.from(padded(MAX_BODY_BYTES + 10)).toString('base64'), base64: true }), context);
    expect(big.statusCode).toBe(413);
  });

  it('counts a text body by its UTF-8 bytes, not its characters', async () => {
    const { handler } = writeHandler();
    const head = '{"credits":1,"note":"';
    const accented = (bytes: number): string => head + 'x' + 'é'.repeat((bytes - head.length - 3) / 2) + '"}';
    expect(Buffer.byteLength(accented(MAX_BODY_BYTES))).toBe(MAX_BODY_BYTES);
    expect((await handler(event({ body: accented(MAX_BODY_BYTES) }), context)).statusCode).toBe(201);
    const over = await handler(event({ body: accented(MAX_BODY_BYTES + 2) }), context);
    expect(over.statusCode).toBe(413);
    expect(json(over).error.details).toEqual({ bytes: MAX_BODY_BYTES + 2, limit: MAX_BODY_BYTES });
  });

  it('reads a text body as its UTF-8 bytes decode: a lone surrogate becomes U+FFFD, a pair stays', async () => {
    const { handler, seen } = writeHandler();
    const lone = await handler(event({ body: '{"credits":1,"note":"a\uD800b"}' }), context);
    expect(lone.statusCode).toBe(201);
    expect(seen[0]?.body.note).toBe('a\uFFFDb');
    await handler(event({ body: '{"credits":1,"note":"a\uD83D\uDE00b"}' }), context);
    expect(seen[1]?.body.note).toBe('a😀b');
  });

  it('given no Idempotency-Key on a write, then 400 idempotency_key_required; more than 255 characters or a space, 400 invalid_idempotency_key', async () => {
    const { handler, seen } = writeHandler();
    const missing = await handler(event({ headers: { 'Idempotency-Key': '' }, body: '{"credits":1}' }), context);
    expect([missing.statusCode, json(missing).error.code]).toEqual([400, 'idempotency_key_required']);
    const long = await handler(event({ headers: { 'Idempotency-Key': 'k'.repeat(256) }, body: '{"credits":1}' }), context);
    expect([long.statusCode, json(long).error.code]).toEqual([400, 'invalid_idempotency_key']);
    const spaced = await handler(event({ headers: { 'Idempotency-Key': 'a b' }, body: '{"credits":1}' }), context);
    expect([spaced.statusCode, json(spaced).error.code]).toEqual([400, 'invalid_idempotency_key']);
    expect(seen).toHaveLength(0);
    expect((await handler(event({ headers: { 'Idempotency-Key': 'k'.repeat(255) }, body: '{"credits":1}' }), context)).statusCode).toBe(201);
  });

  it('does not ask a read for an Idempotency-Key', async () => {
    const handler = httpHandler({ route: READ, handle: async ({ idempotency }) => ({ statusCode: 200, body: { idempotency: idempotency ?? null } }) });
    const result = await handler(event({ route: READ, headers: { 'Idempotency-Key': '' } }), context);
    expect([result.statusCode, json(result)]).toEqual([200, { idempotency: null }]);
  });

  it('given a body that is not JSON, or none, then 400 invalid_json', async () => {
    const { handler } = writeHandler();
    const broken = await handler(event({ body: '{"credits":' }), context);
    expect([broken.statusCode, json(broken).error.code]).toEqual([400, 'invalid_json']);
    const none = await handler(event({}), context);
    expect([none.statusCode, json(none).error.code]).toEqual([400, 'invalid_json']);
  });

  it('given credits with four decimals, an unknown field and a bad list item, then 400 validation_failed naming each path', async () => {
    const { handler, seen } = writeHandler();
    const result = await handler(event({ body: '{"credits":1.0001,"colour":"red","tags":["ok",""]}' }), context);
    expect(result.statusCode).toBe(400);
    const error = json(result).error;
    expect(error.code).toBe('validation_failed');
    expect(error.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(['colour', 'credits', 'tags.1']);
    expect(error.details.fields.find((f: { path: string }) => f.path === 'credits').message).toMatch(/3 decimals/);
    expect(seen).toHaveLength(0);
  });

  it('validates the query string with its own schema', async () => {
    const handler = httpHandler({
      route: READ,
      query: z.object({ limit: z.string().regex(/^\d+$/) }),
      handle: async ({ query }) => ({ statusCode: 200, body: query }),
    });
    const bad = await handler(event({ route: READ, query: { limit: 'ten' } }), context);
    expect([bad.statusCode, json(bad).error.details.fields[0].path]).toEqual([400, 'limit']);
    expect(json(await handler(event({ route: READ, query: { limit: '10' } }), context))).toEqual({ limit: '10' });
  });
});

describe('the one error mapping', () => {
  const kinds: Array<[DomainErrorKind, number]> = [
    ['validation', 400],
    ['not_found', 404],
    ['conflict', 409],
    ['insufficient_credits', 402],
    ['business_rule', 422],
  ];

  it.each(kinds)('maps a DomainError of kind %s to %i with its code and details', async (kind, status) => {
    const { handler } = writeHandler(async () => {
      throw new DomainError(kind, `some_${kind}`, 'A message for the client.', { field: 'x' });
    });
    const result = await handler(event({ body: '{"credits":1}' }), context);
    expect(result.statusCode).toBe(status);
    expect(json(result)).toEqual({ error: { code: `some_${kind}`, message: 'A message for the client.', details: { field: 'x' } } });
  });

  it('shows insufficient credits as required and available credits', async () => {
    const { handler } = writeHandler(async () => {
      throw new InsufficientCreditsError(104, 100);
    });
    const result = await handler(event({ body: '{"credits":1}' }), context);
    expect([result.statusCode, json(result).error.details]).toEqual([402, { required: 104, available: 100 }]);
  });

  it('maps an ApiError to its own status', async () => {
    const { handler } = writeHandler(async () => {
      throw new ApiError(409, 'concurrent_update', 'Retry.', { attempts: 11 });
    });
    const result = await handler(event({ body: '{"credits":1}' }), context);
    expect([result.statusCode, json(result).error.code]).toEqual([409, 'concurrent_update']);
  });

  it('turns anything else into a 500 internal_error that says nothing internal, and logs it', async () => {
    const log = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const { handler } = writeHandler(async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'state') at arn:aws:dynamodb:eu-west-1:111122223333:table/Ledger");
    });
    const result = await handler(event({ body: '{"credits":1}' }), context);
    expect(result.statusCode).toBe(500);
    expect(json(result)).toEqual({ error: { code: 'internal_error', message: expect.any(String), details: { requestId: 'req-1' } } });
    expect(result.body).not.toMatch(/state|arn:|dynamodb|Ledger|TypeError/);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0]?.[1]).toMatchObject({ requestId: 'req-1', error: expect.any(TypeError) });
  });
});

describe('fieldIssues', () => {
  it('lists nested paths dotted, and each unknown key on its own', () => {
    const schema = z.strictObject({ a: z.strictObject({ b: z.array(z.number()) }) });
    const parsed = schema.safeParse({ a: { b: [1, 'two'], c: 1, d: 2 } });
    expect(parsed.success).toBe(false);
    if (!parsed.success) {
      expect(fieldIssues(parsed.error).map((f) => f.path).sort()).toEqual(['a.b.1', 'a.c', 'a.d']);
    }
  });
});
