import fc from 'fast-check';
import type { RouteDefinition } from '../../../infra/routes.js';
import type { ApiResponse, LocalApi } from '../../support/local-api.js';

/**
 * HTTP fuzzing with fast-check: per route, random bodies (near-valid ones built from the route's own fields with
 * wild values, arbitrary JSON, malformed JSON, oversized bodies), headers (tokens of every kind and none, odd
 * idempotency keys and content types), paths (the account id replaced by anything, the path itself mangled) and
 * query strings. The properties: never a 5xx; every error is the JSON error shape; never a ledger change on a 4xx.
 * On a failure, fast-check shrinks to a small counterexample, which is reported with its seed.
 */

/**
 * The accounts one route's fuzzing aims at besides random ids: opened fresh for each route (a free, a pro and a
 * custom one), so what one route's requests did (an upgrade to custom, say) does not narrow what the next reaches.
 */
export interface FuzzAccounts {
  free: string;
  pro: string;
  custom: string;
}

const listOf = (a: FuzzAccounts): [string, string, string] => [a.free, a.pro, a.custom];

/** Counts writes of ledger items (events, heads) the server makes: a 4xx must make none. */
export interface LedgerWriteCounter {
  readonly count: number;
}

export interface FuzzRequest {
  method: string;
  path: string;
  token: string | null;
  key: string | null;
  contentType: string | null;
  body: { kind: 'json'; value: unknown } | { kind: 'raw'; text: string } | { kind: 'none' };
}

export interface FuzzResult {
  route: string;
  cases: number;
  byStatus: Record<string, number>;
  /** Requests answered 2xx that wrote to the ledger (allowed: a valid request may change it). */
  writesOn2xx: number;
  anomalies: string[];
}

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const headerText = (maxLength: number) => fc.string({ unit: printable, maxLength });

/** Values that mean something somewhere in the API, and values that mean nothing anywhere. */
const DOMAIN_WORDS = [
  'free', 'pro', 'custom', 'enterprise', 'pack_1000', 'pack_5000', 'pack_0', 'chat', 'chatbot', 'image', 'video',
  'mini', 'standard', 'advanced', 'hd', 'day', 'feature', 'model', 'csv', 'jsonl', 'xml', '2026-11', '2026-13',
  '2026-11-26T10:00:00.000Z', '2026-11-26T10:00:00+02:00', '2099-01-01T00:00:00Z', '1970-01-01T00:00:00Z', 'not a date',
  '+14155550123', '+1', '0014155550123', 'a@example.com', 'not-an-email', '', ' ', '..', '../..', '%00', '__proto__',
  'constructor', 'null', 'true', '0', '-1', '1e309', 'fuzz-free',
] as const;

const wildNumber = fc.oneof(
  fc.integer({ min: -1000, max: 100_000 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 0.0001, 1.2345, 3.602, 1e21, -1e21, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 1_000_000_001),
);
const wildString = fc.oneof(fc.constantFrom(...DOMAIN_WORDS), fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ minLength: 200, maxLength: 600 }));
const wildValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: wildString },
  { weight: 3, arbitrary: wildNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }) },
);

/**
 * An object with some of the given fields, each from its plausible values or, now and then, a wild one, and maybe
 * a field nobody asked for: about two bodies in three get past validation to the business rules, the rest probe
 * validation one or two fields at a time.
 */
function nearValid(fields: Record<string, fc.Arbitrary<unknown>>, required: readonly string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const model = Object.fromEntries(Object.entries(fields).map(([k, arb]) => [k, fc.oneof({ weight: 12, arbitrary: arb }, { weight: 1, arbitrary: wildValue })]));
  return fc
    .tuple(fc.record(model, { requiredKeys: required.map((k) => k) as never }), fc.option(fc.tuple(fc.string({ maxLength: 12 }), wildValue), { freq: 5 }))
    .map(([body, extra]) => (extra === null ? body : { ...body, [extra[0]]: extra[1] }));
}

const accountOf = (a: FuzzAccounts) => fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...listOf(a)) }, { weight: 1, arbitrary: wildString });
const tokens = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 20_000 }) }, { weight: 1, arbitrary: wildNumber });
const credits = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: -200_000, max: 200_000 }).map((mc) => mc / 1000) }, { weight: 1, arbitrary: wildNumber });
const instant = fc.oneof(
  { weight: 4, arbitrary: fc.date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2027-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: wildString },
);
/** Mostly one of the valid values, sometimes a near miss. */
const mostly = (valid: readonly string[], nearMiss: string): fc.Arbitrary<string> =>
  fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constant(nearMiss) });
const usageFields = (a: FuzzAccounts) => ({
  accountId: accountOf(a),
  feature: mostly(['chat', 'chatbot', 'image'], 'video'),
  model: mostly(['mini', 'standard', 'advanced'], 'turbo'),
  quality: mostly(['standard', 'hd'], 'ultra'),
  inputTokens: tokens,
  outputTokens: tokens,
  units: fc.oneof(fc.integer({ min: 0, max: 5 }), wildNumber),
  chatbotId: fc.constantFrom('bot-1', 'bot-2'),
  occurredAt: instant,
});

/** Near-valid bodies per mutating route. */
function bodyFor(route: RouteDefinition, a: FuzzAccounts): fc.Arbitrary<unknown> {
  const account = accountOf(a);
  switch (`${route.method} ${route.path}`) {
    case 'POST /v1/accounts':
      return nearValid({
        accountId: account,
        plan: mostly(['free', 'pro', 'custom'], 'gold'),
        contact: nearValid({ email: fc.constantFrom('a@example.com', 'x'), phone: fc.constantFrom('+14155550123', '+1') }),
        cycleAnchor: instant,
      }, ['accountId', 'plan']);
    case 'PUT /v1/accounts/{id}/plan':
      return nearValid({ plan: mostly(['free', 'pro', 'custom'], 'gold') }, ['plan']);
    case 'PUT /v1/accounts/{id}/contact':
      return nearValid({ email: fc.constantFrom('a@example.com', 'b@example.org', 'x'), phone: fc.constantFrom('+14155550123', '+1', 'phone') });
    case 'POST /v1/accounts/{id}/purchases':
      return nearValid({ pack: mostly(['pack_1000', 'pack_5000'], 'pack_9'), paymentRef: fc.oneof(fc.uuid(), wildString) }, ['pack', 'paymentRef']);
    case 'POST /v1/accounts/{id}/adjustments':
      return nearValid({ credits, reason: mostly(['goodwill', 'correction'], ' ') }, ['credits', 'reason']);
    case 'POST /v1/usage':
      return nearValid(usageFields(a), ['accountId', 'feature']);
    case 'POST /v1/usage/batch':
      return nearValid({
        records: fc.oneof(
          fc.array(nearValid({ ...usageFields(a), idempotencyKey: fc.oneof(fc.uuid(), wildString) }, ['accountId', 'feature', 'idempotencyKey']), { maxLength: 12 }),
          fc.constantFrom(0, 1, 99, 100, 101, 150).map((n) => Array.from({ length: n }, (_, i) => ({ accountId: a.pro, feature: 'chat', model: 'mini', inputTokens: 1, idempotencyKey: `fuzz-many-${n}-${i}` }))),
        ),
      }, ['records']);
    default:
      return fc.constant(undefined);
  }
}

const validUsage = (accounts: fc.Arbitrary<string>) =>
  fc.oneof(
    fc.record({ accountId: accounts, feature: fc.constantFrom('chat', 'chatbot'), model: fc.constantFrom('mini', 'standard', 'advanced'), inputTokens: fc.integer({ min: 0, max: 20_000 }), outputTokens: fc.integer({ min: 0, max: 5_000 }) }),
    fc.record({ accountId: accounts, feature: fc.constant('image'), quality: fc.constantFrom('standard', 'hd'), units: fc.integer({ min: 1, max: 4 }) }),
  );

/** Bodies that pass validation, so the business rules (402, 409, 422, 201) are fuzzed too. */
function validBodyFor(route: RouteDefinition, a: FuzzAccounts): fc.Arbitrary<unknown> {
  const known = fc.constantFrom(...listOf(a));
  switch (`${route.method} ${route.path}`) {
    case 'POST /v1/accounts':
      return fc.record({ accountId: fc.oneof(known, fc.stringMatching(/^fz-[a-z0-9]{1,8}$/)), plan: fc.constantFrom('free', 'pro', 'custom') });
    case 'PUT /v1/accounts/{id}/plan':
      // Not custom: an upgrade to it applies at once and would leave no limited account for the other routes.
      return fc.record({ plan: fc.constantFrom('free', 'pro') });
    case 'PUT /v1/accounts/{id}/contact':
      return fc.record({ email: fc.constantFrom('a@example.com', 'b@example.org'), phone: fc.constantFrom('+14155550123', '+447700900123') }, { requiredKeys: [] });
    case 'POST /v1/accounts/{id}/purchases':
      return fc.record({ pack: fc.constantFrom('pack_1000', 'pack_5000'), paymentRef: fc.oneof(fc.uuid(), fc.constantFrom('pay-1', 'pay-2')) });
    case 'POST /v1/accounts/{id}/adjustments':
      return fc.record({ credits: fc.integer({ min: -500_000, max: 500_000 }).filter((n) => n !== 0).map((mc) => mc / 1000), reason: fc.constantFrom('goodwill', 'correction') });
    case 'POST /v1/usage':
      return validUsage(known);
    case 'POST /v1/usage/batch':
      return fc.record({ records: fc.array(fc.tuple(validUsage(known), fc.uuid()).map(([u, key]) => ({ ...u, idempotencyKey: key })), { minLength: 1, maxLength: 10 }) });
    default:
      return fc.constant(undefined);
  }
}

/** Query strings for the reading routes: their parameters with wild values, and strangers. */
const queryString = fc
  .dictionary(
    fc.oneof(fc.constantFrom('limit', 'cursor', 'from', 'to', 'groupBy', 'format', 'month', 'plan', 'belowPercent', 'accountId'), fc.string({ maxLength: 6 })),
    fc.oneof(wildString, wildNumber.map(String)),
    { maxKeys: 4 },
  )
  .map((q) => {
    const entries = Object.entries(q);
    return entries.length === 0 ? '' : `?${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
  });

/** The route's path with `{id}` filled (a known account, or anything), sometimes mangled. */
function pathFor(route: RouteDefinition, a: FuzzAccounts): fc.Arbitrary<string> {
  const id = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...listOf(a)) },
    { weight: 2, arbitrary: wildString.map((s) => encodeURIComponent(s)) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%ZZ', '..', '%2e%2e', '%2F', 'a%00b', '') },
  );
  const base = id.map((value) => route.path.replace('{id}', value));
  const mangled = fc.tuple(base, fc.constantFrom('/', '//', '/x', '.json', '?', '#frag', '/%')).map(([p, suffix]) => `${p}${suffix}`);
  const cased = base.map((p) => p.toUpperCase());
  const prefixed = base.map((p) => p.replace('/v1/', '/v2/'));
  return fc.oneof({ weight: 16, arbitrary: base }, { weight: 1, arbitrary: mangled }, { weight: 1, arbitrary: fc.oneof(cased, prefixed) });
}

/** Mostly a caller the route admits (so requests reach the handler), then every other kind, none and garbage. */
function tokenFor(route: RouteDefinition, a: FuzzAccounts): fc.Arbitrary<string | null> {
  const admitted = [
    ...(route.access.service ? ['dev-service'] : []),
    ...(route.access.finance ? ['dev-finance'] : []),
    ...(route.access.ownCustomer ? [`dev-customer:${a.free}`, `dev-customer:${a.pro}`] : []),
  ];
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...admitted) },
    { weight: 2, arbitrary: fc.constantFrom('dev-service', 'dev-finance', `dev-customer:${a.free}`, `dev-customer:${a.custom}`) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.oneof(headerText(40), fc.constantFrom('dev-customer:', 'dev-service ', 'Basic xyz', `dev-customer:../${a.pro}`)) },
  );
}

export function requestArbitrary(route: RouteDefinition, a: FuzzAccounts): fc.Arbitrary<FuzzRequest> {
  const method = fc.oneof({ weight: 19, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') });
  const key = fc.oneof(
    { weight: 5, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: headerText(300) },
  );
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'multipart/form-data') },
  );
  const asBody = (value: unknown): FuzzRequest['body'] => (value === undefined ? { kind: 'none' } : { kind: 'json', value });
  const body: fc.Arbitrary<FuzzRequest['body']> = fc.oneof(
    { weight: 5, arbitrary: validBodyFor(route, a).map(asBody) },
    { weight: 8, arbitrary: bodyFor(route, a).map(asBody) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => ({ kind: 'json' as const, value })) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom('{', '{"a":', '[1,2', 'null', '""', '{"records":')).map((text) => ({ kind: 'raw' as const, text })) },
    { weight: 1, arbitrary: fc.constantFrom(70_000, 200_000).map((n) => ({ kind: 'raw' as const, text: `{"pad":"${'x'.repeat(n)}"}` })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  );
  const path = route.method === 'GET' ? fc.tuple(pathFor(route, a), queryString).map(([p, q]) => `${p}${q}`) : pathFor(route, a);
  return fc.record({ method, path, token: tokenFor(route, a), key, contentType, body });
}

async function send(api: LocalApi, request: FuzzRequest): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (request.contentType !== null) headers['content-type'] = request.contentType;
  const options: Parameters<LocalApi['request']>[2] = { token: request.token, key: request.key, headers };
  if (request.body.kind === 'json') options.rawBody = JSON.stringify(request.body.value) ?? 'null';
  if (request.body.kind === 'raw') options.rawBody = request.body.text;
  if (request.method === 'GET' && request.body.kind !== 'none') delete options.rawBody; // fetch refuses a GET body
  return api.request(request.method, request.path, options);
}

/** What a response must be, whatever was asked: a problem list (empty when it is fine). */
export function problemsOf(response: ApiResponse, ledgerWrites: number): string[] {
  const problems: string[] = [];
  if (response.status >= 500) problems.push(`answered ${response.status}`);
  if (response.status >= 400) {
    const error = (response.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (typeof error?.code !== 'string' || typeof error.message !== 'string') problems.push(`a ${response.status} without the JSON error shape: ${response.text.slice(0, 200)}`);
    if (ledgerWrites > 0) problems.push(`a ${response.status} changed the ledger (${ledgerWrites} writes)`);
  }
  return problems;
}

let routeCounter = 0;

/** Opens a free, a pro and a custom account for one route's fuzzing. */
export async function openFuzzAccounts(api: LocalApi): Promise<FuzzAccounts> {
  const label = `fz${process.pid}-${++routeCounter}`;
  const accounts: FuzzAccounts = { free: `${label}-free`, pro: `${label}-pro`, custom: `${label}-custom` };
  for (const [plan, accountId] of Object.entries(accounts)) {
    const response = await api.request('POST', '/v1/accounts', { body: { accountId, plan } });
    if (response.status !== 201) throw new Error(`opening ${accountId} failed: ${response.status} ${response.text}`);
  }
  return accounts;
}

export async function fuzzRoute(api: LocalApi, route: RouteDefinition, options: { runs: number; seed: number; writes: LedgerWriteCounter }): Promise<FuzzResult> {
  const result: FuzzResult = { route: `${route.method} ${route.path}`, cases: 0, byStatus: {}, writesOn2xx: 0, anomalies: [] };
  const accounts = await openFuzzAccounts(api);
  try {
    await fc.assert(
      fc.asyncProperty(requestArbitrary(route, accounts), async (request) => {
        const before = options.writes.count;
        const response = await send(api, request);
        const writes = options.writes.count - before;
        result.cases += 1;
        result.byStatus[response.status] = (result.byStatus[response.status] ?? 0) + 1;
        if (response.status < 300 && writes > 0) result.writesOn2xx += 1;
        const problems = problemsOf(response, writes);
        if (problems.length > 0) throw new Error(`${request.method} ${request.path}: ${problems.join('; ')}`);
      }),
      { numRuns: options.runs, seed: options.seed, endOnFailure: false },
    );
  } catch (error) {
    result.anomalies.push(`${result.route} (fast-check seed ${options.seed}): ${(error as Error).message.split('\n').slice(0, 8).join(' ')}`);
  }
  return result;
}

/** Counts successful writes of ledger events and heads through a client (the handlers' shared one). */
export function countLedgerWrites(client: { middlewareStack: { add: (mw: any, options: any) => void } }, ledgerTable: string): LedgerWriteCounter {
  const counter = { count: 0 };
  const touchesLedger = (table: unknown, item: any): boolean => {
    if (table !== ledgerTable) return false;
    const sk = item?.sk;
    const text = typeof sk === 'string' ? sk : sk?.S;
    return typeof text === 'string' && (text === 'HEAD' || text.startsWith('EVENT#'));
  };
  client.middlewareStack.add(
    (next: (args: { input: Record<string, any> }) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: Record<string, any> }) => {
        const output = await next(args);
        const input = args.input;
        if (context.commandName === 'TransactWriteItemsCommand') {
          for (const a of (input['TransactItems'] ?? []) as Array<Record<string, any>>) {
            const write = a['Put'] ?? a['Update'] ?? a['Delete'];
            if (write !== undefined && touchesLedger(write.TableName, write.Item ?? write.Key)) counter.count += 1;
          }
        } else if (['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand'].includes(context.commandName ?? '')) {
          if (touchesLedger(input['TableName'], input['Item'] ?? input['Key'])) counter.count += 1;
        } else if (context.commandName === 'BatchWriteItemCommand') {
          for (const [table, requests] of Object.entries((input['RequestItems'] ?? {}) as Record<string, Array<Record<string, any>>>)) {
            for (const r of requests) if (touchesLedger(table, r['PutRequest']?.Item ?? r['DeleteRequest']?.Key)) counter.count += 1;
          }
        }
        return output;
      },
    { step: 'initialize', name: 'reliabilityLedgerWrites', override: true },
  );
  return counter;
}
