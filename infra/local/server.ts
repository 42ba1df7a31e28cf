import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { finished } from 'node:stream/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { addMonths } from '../../domain/index.js';
import type { ManualClock } from '../../functions/lib/clock.js';
import type { HttpEvent } from '../../functions/lib/http.js';
import { DEFAULT_CUSTOMER_ACCOUNT_CLAIM } from '../../functions/lib/auth.js';
import { ROUTES, type RouteDefinition } from '../routes.js';
import { syncAll, type LocalRoute, type LocalService } from './services.js';

/**
 * The local stand-in for API Gateway (HTTP API, payload 2.0): each node:http request becomes the event the deployed
 * handler would get, the development token becomes the authorizer context, and the handler's result is written
 * back. The handlers are the same modules the CDK construct deploys (infra/routes.ts), imported once each.
 */

export const DEV_TOKENS = { service: 'dev-service', finance: 'dev-finance', customerPrefix: 'dev-customer:' } as const;

/** The AWS account the local runtime pretends to be in (the documentation account id, never a real one). */
export const LOCAL_AWS_ACCOUNT = '000000000000';
export const LOCAL_SERVICE_ROLE_ARN = `arn:aws:iam::${LOCAL_AWS_ACCOUNT}:role/credits-local-service`;
/** main.ts lists this role in FINANCE_PRINCIPAL_ARNS, exactly as a deployment lists its finance roles. */
export const LOCAL_FINANCE_ROLE_ARN = `arn:aws:iam::${LOCAL_AWS_ACCOUNT}:role/credits-local-finance`;

/** API Gateway refuses larger payloads itself (HTTP API quota: 10 MB) before any handler runs. */
export const MAX_GATEWAY_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** HTTP APIs give up on an integration after 30 s; the handler's context says how much of it is left. */
const INTEGRATION_TIMEOUT_MS = 29_000;

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

type LambdaHandler = (event: HttpEvent, context: Context) => Promise<APIGatewayProxyStructuredResultV2 | string | object | undefined>;

export interface LocalServerOptions {
  clock: ManualClock;
  services?: readonly LocalService[];
  routes?: readonly RouteDefinition[];
  /** Where route entries (`functions/http/….ts`) are resolved from; the repository root by default. */
  repoRoot?: string;
  /** The JWT claim customers' account ids are put in (the handlers read the same setting). */
  customerAccountClaim?: string;
  /** Called with one line per request (`POST /v1/usage 201 12ms`), and for errors. */
  log?: (line: string) => void;
  logRequests?: boolean;
}

export interface LocalServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens → authorizer context

type Authorizer = NonNullable<HttpEvent['requestContext']['authorizer']>;

/** The authorizer context API Gateway would attach for a development token, or undefined (no or unknown token). */
export function authorizerFor(authorization: string | undefined, customerAccountClaim = DEFAULT_CUSTOMER_ACCOUNT_CLAIM): Authorizer | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  const token = match?.[1];
  if (token === undefined) return undefined;
  if (token === DEV_TOKENS.service) return iamAuthorizer(LOCAL_SERVICE_ROLE_ARN, token);
  if (token === DEV_TOKENS.finance) return iamAuthorizer(LOCAL_FINANCE_ROLE_ARN, token);
  if (token.startsWith(DEV_TOKENS.customerPrefix) && token.length > DEV_TOKENS.customerPrefix.length) {
    const accountId = token.slice(DEV_TOKENS.customerPrefix.length);
    return { jwt: { claims: { [customerAccountClaim]: accountId, sub: token }, scopes: null }, principalId: '', integrationLatency: 0 };
  }
  return undefined;
}

/** The IAM authorizer context of a session of `roleArn`, as API Gateway reports an assumed role. */
function iamAuthorizer(roleArn: string, session: string): Authorizer {
  return {
    iam: {
      accessKey: 'ASIALOCALDEVELOPMENT',
      accountId: LOCAL_AWS_ACCOUNT,
      callerId: `AROALOCAL:${session}`,
      cognitoIdentity: null,
      principalOrgId: '',
      userArn: roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/') + `/${session}`,
      userId: `AROALOCAL:${session}`,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Requests → API Gateway events

interface CompiledRoute {
  route: RouteDefinition;
  pattern: RegExp;
}

export function compileRoutes(routes: readonly RouteDefinition[]): CompiledRoute[] {
  return routes.map((route) => {
    const source = route.path
      .split('/')
      .map((segment) => (/^\{\w+\}$/.test(segment) ? '(?<' + segment.slice(1, -1) + '>[^/]+)' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    return { route, pattern: new RegExp(`^${source}$`) };
  });
}

export function matchRoute(compiled: readonly CompiledRoute[], method: string, path: string) {
  for (const { route, pattern } of compiled) {
    if (route.method !== method) continue;
    const m = pattern.exec(path);
    if (m === null) continue;
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(m.groups ?? {})) {
      try {
        params[name] = decodeURIComponent(value);
      } catch {
        params[name] = value;
      }
    }
    return { route, pathParameters: Object.keys(params).length === 0 ? undefined : params };
  }
  return undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** API Gateway's `requestContext.time` format: `12/Mar/2020:19:03:58 +0000`. */
export function gatewayTime(at: Date): string {
  return `${pad(at.getUTCDate())}/${MONTHS[at.getUTCMonth()]}/${at.getUTCFullYear()}:${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())} +0000`;
}

/** Bodies of these types reach the handler as text; API Gateway base64-encodes everything else. */
const TEXT_TYPES = /^(text\/|application\/(json|[\w.+-]+\+json|xml|[\w.+-]+\+xml|javascript|x-www-form-urlencoded))/i;

export interface RawRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  sourceIp: string;
}

/** The API Gateway HTTP API (payload 2.0) event for a request that matched `route`. */
export function toGatewayEvent(
  request: RawRequest,
  route: RouteDefinition,
  pathParameters: Record<string, string> | undefined,
  at: Date,
  customerAccountClaim?: string,
): HttpEvent {
  const questionMark = request.url.indexOf('?');
  const rawPath = questionMark === -1 ? request.url : request.url.slice(0, questionMark);
  const rawQueryString = questionMark === -1 ? '' : request.url.slice(questionMark + 1);

  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      cookies = (Array.isArray(value) ? value.join('; ') : value).split(/;\s*/).filter((c) => c !== '');
      continue;
    }
    headers[lower] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-for'] ??= request.sourceIp;
  headers['x-forwarded-proto'] ??= 'http';

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString !== '') {
    queryStringParameters = {};
    for (const [name, value] of new URLSearchParams(rawQueryString)) {
      // Repeated parameters arrive comma-joined, as API Gateway sends them.
      queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
    }
  }

  const requestId = randomUUID();
  const routeKey = `${route.method} ${route.path}`;
  const authorizer = authorizerFor(headers['authorization'], customerAccountClaim);
  const hasBody = request.body.length > 0;
  const textual = !hasBody || headers['content-type'] === undefined || TEXT_TYPES.test(headers['content-type']);

  const event: HttpEvent = {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    ...(cookies === undefined ? {} : { cookies }),
    headers,
    ...(queryStringParameters === undefined ? {} : { queryStringParameters }),
    ...(pathParameters === undefined ? {} : { pathParameters }),
    requestContext: {
      accountId: LOCAL_AWS_ACCOUNT,
      apiId: 'local',
      domainName: headers['host'] ?? 'localhost',
      domainPrefix: (headers['host'] ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method: request.method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey,
      stage: '$default',
      time: gatewayTime(at),
      timeEpoch: at.getTime(),
      ...(authorizer === undefined ? {} : { authorizer }),
    },
    isBase64Encoded: !textual,
    ...(hasBody ? { body: textual ? request.body.toString('utf8') : request.body.toString('base64') } : {}),
  };
  return event;
}

// ---------------------------------------------------------------------------------------------------------------
// The local clock: ISO-8601 durations

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const DURATION = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

/** `P1M`, `PT1H`, `P1DT2H`, `PT0.5S`…; undefined when the text is not such a duration. */
export function parseDuration(text: string): Duration | undefined {
  const m = DURATION.exec(text.trim().toUpperCase());
  if (m === null) return undefined;
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  return { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
}

/**
 * Years and months move along the calendar (Jan 31 + P1M = Feb 28, like a billing cycle), then days, hours,
 * minutes and seconds add fixed lengths (UTC has no daylight saving).
 */
export function addDuration(at: Date, d: Duration): Date {
  const moved = addMonths(at, d.years * 12 + d.months);
  const ms = (((d.weeks * 7 + d.days) * 24 + d.hours) * 60 + d.minutes) * 60_000 + Math.round(d.seconds * 1000);
  return new Date(moved.getTime() + ms);
}

// ---------------------------------------------------------------------------------------------------------------
// The server

const json = (res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}): void => {
  const text = JSON.stringify(body);
  res.writeHead(statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
};

const errorJson = (res: ServerResponse, statusCode: number, code: string, message: string, details: Record<string, unknown> = {}): void =>
  json(res, statusCode, { error: { code, message, details } });

/**
 * Reads the body, stopping (and answering 413, as API Gateway does) past its payload quota. A body that declares
 * its length within the quota (the usual case) cannot run past it (node:http delivers exactly that many bytes), so
 * it is collected from its chunks without the per-chunk promises of an async iteration.
 */
async function readBody(req: IncomingMessage): Promise<Buffer | 'too_large'> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) <= MAX_GATEWAY_PAYLOAD_BYTES) {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    await finished(req);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_GATEWAY_PAYLOAD_BYTES) return 'too_large';
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Writes a Lambda result back the way API Gateway does for payload 2.0 (a bare value is a 200 JSON body). */
function writeResult(res: ServerResponse, result: unknown): void {
  const structured = typeof result === 'object' && result !== null && 'statusCode' in result;
  if (!structured) {
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const r = result as APIGatewayProxyStructuredResultV2;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(r.headers ?? {})) headers[name.toLowerCase()] = String(value);
  if (r.cookies !== undefined && r.cookies.length > 0) headers['set-cookie'] = r.cookies;
  if (r.body !== undefined && r.isBase64Encoded !== true) {
    // Text is written as UTF-8 by the socket itself: the same bytes as a Buffer made of it, without the copy.
    headers['content-length'] = String(Buffer.byteLength(r.body, 'utf8'));
    res.writeHead(r.statusCode ?? 200, headers);
    res.end(r.body, 'utf8');
    return;
  }
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body, 'base64');
  headers['content-length'] = String(body.length);
  res.writeHead(r.statusCode ?? 200, headers);
  res.end(body);
}

/** The parts of a route's Lambda context that do not change between requests, made once per route. */
const functionNames = new WeakMap<RouteDefinition, { functionName: string; invokedFunctionArn: string; logGroupName: string }>();
const ignore = (): undefined => undefined;

function lambdaContext(route: RouteDefinition, requestId: string): Context {
  let names = functionNames.get(route);
  if (names === undefined) {
    const functionName = `credits-${route.entry.split('/').at(-1)?.replace(/\.ts$/, '') ?? 'handler'}`;
    names = { functionName, invokedFunctionArn: `arn:aws:lambda:us-east-1:${LOCAL_AWS_ACCOUNT}:function:${functionName}`, logGroupName: `/aws/lambda/${functionName}` };
    functionNames.set(route, names);
  }
  const deadline = Date.now() + INTEGRATION_TIMEOUT_MS;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: names.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: names.invokedFunctionArn,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: names.logGroupName,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: ignore,
    fail: ignore,
    succeed: ignore,
  };
}

class RouteNotAvailableError extends Error {}

export async function startLocalServer(options: LocalServerOptions & { port: number; host?: string }): Promise<LocalServer> {
  const { clock } = options;
  const services = options.services ?? [];
  const compiled = compileRoutes(options.routes ?? ROUTES);
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const log = options.log ?? (() => undefined);
  const handlers = new Map<string, Promise<LambdaHandler>>();

  const localRoutes = new Map<string, LocalRoute>();
  for (const service of services) for (const r of service.routes ?? []) localRoutes.set(`${r.method} ${r.path}`, r);

  function handlerOf(route: RouteDefinition): Promise<LambdaHandler> {
    let loading = handlers.get(route.entry);
    if (loading === undefined) {
      const url = pathToFileURL(resolve(repoRoot, route.entry)).href;
      loading = import(url).then(
        (module: { handler?: LambdaHandler }) => {
          if (typeof module.handler !== 'function') throw new Error(`${route.entry} does not export a handler`);
          return module.handler;
        },
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(route.entry.split('/').at(-1) ?? route.entry)) {
            throw new RouteNotAvailableError(`${route.entry} is not written yet`);
          }
          throw error;
        },
      );
      // A failed import is not cached, so a handler written while the server runs is picked up.
      loading.catch(() => handlers.delete(route.entry));
      handlers.set(route.entry, loading);
    }
    return loading;
  }

  async function handleLocal(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, raw: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return errorJson(res, 400, 'invalid_json', 'The request body is not valid JSON.');
      }
    }
    const registered = localRoutes.get(`${method} ${path}`);
    if (registered !== undefined) {
      const result = await registered.handle({ method, path, query: Object.fromEntries(query), body });
      return json(res, result.statusCode, result.body);
    }
    if (path === '/_local/health' && method === 'GET') return json(res, 200, { status: 'ok', now: clock.now().toISOString() });
    if (path === '/_local/clock' && method === 'GET') return json(res, 200, { now: clock.now().toISOString() });
    if (path === '/_local/clock' && method === 'POST') {
      const input = (typeof body === 'object' && body !== null ? body : {}) as { set?: unknown; advanceBy?: unknown };
      if (typeof input.set === 'string' && input.advanceBy === undefined) {
        const at = new Date(input.set);
        if (Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(input.set)) {
          return errorJson(res, 400, 'validation_failed', '"set" must be an ISO-8601 instant.', { fields: [{ path: 'set', message: 'not an ISO-8601 instant' }] });
        }
        clock.set(at);
      } else if (typeof input.advanceBy === 'string' && input.set === undefined) {
        const duration = parseDuration(input.advanceBy);
        if (duration === undefined) {
          return errorJson(res, 400, 'validation_failed', '"advanceBy" must be an ISO-8601 duration like P1M, PT1H or P1DT2H.', {
            fields: [{ path: 'advanceBy', message: 'not an ISO-8601 duration' }],
          });
        }
        clock.set(addDuration(clock.now(), duration));
      } else {
        return errorJson(res, 400, 'validation_failed', 'Send {"set": "<ISO instant>"} or {"advanceBy": "<ISO duration>"}.', {
          fields: [{ path: '(body)', message: 'exactly one of set, advanceBy' }],
        });
      }
      log(`clock is now ${clock.now().toISOString()}`);
      return json(res, 200, { now: clock.now().toISOString() });
    }
    if (path === '/_local/sync' && method === 'POST') {
      const result = await syncAll(services);
      return json(res, 200, { ...result, now: clock.now().toISOString() });
    }
    if (path === '/_local/notifications' && method === 'GET') return json(res, 200, { items: [] });
    return errorJson(res, 404, 'route_not_found', `No local route ${method} ${path}.`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    const raw = await readBody(req);
    if (raw === 'too_large') {
      res.setHeader('connection', 'close');
      return errorJson(res, 413, 'payload_too_large', `The request body exceeds ${MAX_GATEWAY_PAYLOAD_BYTES} bytes.`);
    }
    if (path.startsWith('/_local/')) return handleLocal(req, res, path, new URL(url, 'http://localhost').searchParams, raw);

    const matched = matchRoute(compiled, method, path);
    if (matched === undefined) return errorJson(res, 404, 'route_not_found', `No route ${method} ${path}.`);
    const event = toGatewayEvent(
      { method, url, headers: req.headers, body: raw, sourceIp: req.socket.remoteAddress ?? '127.0.0.1' },
      matched.route,
      matched.pathParameters,
      clock.now(),
      options.customerAccountClaim,
    );
    let handler: LambdaHandler;
    try {
      handler = await handlerOf(matched.route);
    } catch (error) {
      if (error instanceof RouteNotAvailableError) return errorJson(res, 501, 'route_not_available', `${method} ${matched.route.path} is not available yet.`);
      throw error;
    }
    const result = await handler(event, lambdaContext(matched.route, event.requestContext.requestId));
    writeResult(res, result);
    if (options.logRequests === true) log(`${method} ${url} ${res.statusCode} ${Math.round(performance.now() - started)}ms`);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`${req.method} ${req.url} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!res.headersSent) errorJson(res, 500, 'internal_error', 'Something went wrong on our side.');
      else res.end();
    });
  });

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host === undefined || options.host === '0.0.0.0' || options.host === '127.0.0.1' ? 'localhost' : options.host;

  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
