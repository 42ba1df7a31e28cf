import middy, { type MiddlewareObj, type MiddyfiedHandler, type Request } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import { Logger } from '@aws-lambda-powertools/logger';
import type {
  APIGatewayEventRequestContextIAMAuthorizer,
  APIGatewayEventRequestContextJWTAuthorizer,
  APIGatewayEventRequestContextV2,
  APIGatewayProxyEventV2WithRequestContext,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import * as z from 'zod';
import { DomainError } from '../../domain/index.js';
import { ROUTES, type RouteDefinition } from '../../infra/routes.js';
import { authEnvSchema, authorize, principalOf, type AuthSettings, type Principal } from './auth.js';
import { env } from './config.js';
import { ApiError } from './errors.js';
import { hashRequest, idempotencyKeySchema, refusalResponse, type Idempotency } from './idempotency.js';
import { errorBody, knownJsonText } from './views.js';

/**
 * The HTTP edge every route shares (API Gateway HTTP API, payload 2.0), as one middy stack:
 *
 *   header normalizer → authorize (401/403) → body size (413) → Idempotency-Key (400) → JSON body (400)
 *   → zod body and query (400) → request hash → the route's `handle` → JSON response
 *
 * and ONE error mapper, the only `onError`, registered last: DomainError kinds (through `refusalResponse`, which
 * the command path also stores for the key) and ApiErrors become their status and
 * `{"error":{"code","message","details"}}`; anything else is logged and answered 500 with nothing internal.
 */

/** IAM (services, finance) or JWT (customers); absent when no authorizer vouched for the caller. */
export type HttpAuthorizer = APIGatewayEventRequestContextIAMAuthorizer | APIGatewayEventRequestContextJWTAuthorizer;
export type HttpRequestContext = APIGatewayEventRequestContextV2 & { authorizer?: HttpAuthorizer };
export type HttpEvent = APIGatewayProxyEventV2WithRequestContext<HttpRequestContext>;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** Larger bodies are refused before parsing (SPEC §5.6); a usage batch of 100 records fits well within it. */
export const MAX_BODY_BYTES = 64 * 1024;

export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** Account ids: what product services and identity providers use (slugs, UUIDs, ULIDs, e-mail-like ids). */
export const accountIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ - (starting with a letter or digit)');

export type { Idempotency } from './idempotency.js';

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface HandlerInput<B, Q> {
  event: HttpEvent;
  principal: Principal;
  body: B;
  query: Q;
  /** The `{id}` path parameter, validated; empty on routes without one. */
  accountId: string;
  /** Present on mutating routes (the header is required there). */
  idempotency: Idempotency | undefined;
  requestId: string;
}

export interface HandlerOutput {
  statusCode: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The response is a stored one replayed for a repeated Idempotency-Key (adds `Idempotent-Replayed: true`). */
  replayed?: boolean;
}

export interface HttpHandlerOptions<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  route: RouteDefinition;
  body?: B;
  query?: Q;
  handle: (input: HandlerInput<Output<B>, Output<Q>>) => Promise<HandlerOutput>;
}

/** A command's (possibly replayed) stored response as the handler's output. */
export const commandOutput = (result: { response: { statusCode: number; body: unknown }; replayed: boolean }): HandlerOutput => ({
  statusCode: result.response.statusCode,
  body: result.response.body,
  replayed: result.replayed,
});

/** The route of ROUTES with this method and path; a typo fails at module load, not at request time. */
export function routeOf(method: RouteDefinition['method'], path: string): RouteDefinition {
  const route = ROUTES.find((r) => r.method === method && r.path === path);
  if (route === undefined) throw new Error(`No route ${method} ${path} in infra/routes.ts`);
  return route;
}

export const logger = new Logger({ serviceName: 'credits-ledger' });

/** Read on the first request and kept (functions/lib/config.ts), so the local runtime can set the environment first. */
const currentAuthSettings = (): AuthSettings => env(authEnvSchema);

/** What the before-middlewares learn about a request, for the route handler. */
interface Parsed {
  principal: Principal;
  accountId: string;
  body: unknown;
  query: unknown;
  idempotency: Idempotency | undefined;
}

type MiddyRequest = Request<HttpEvent, HttpResult, Error, Context>;

// ---------------------------------------------------------------------------------------------------------------
// Pure helpers (exported for unit tests)

/**
 * The request hash an Idempotency-Key is bound to: method, path and the canonical JSON body (key order and
 * whitespace do not matter; any other difference does).
 */
export function requestHash(method: string, path: string, body: unknown): string {
  return hashRequest({ method: method.toUpperCase(), path, body: body ?? null });
}

export interface FieldIssue {
  path: string;
  message: string;
}

/** Zod issues as `{path, message}` with dotted paths (`records.3.inputTokens`); unknown keys are named one by one. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown field' }));
    }
    return [{ path: at.length === 0 ? '(body)' : at.join('.'), message: issue.message }];
  });
}

export function validationError(where: 'body' | 'query' | 'path', error: z.ZodError): ApiError {
  const what = where === 'body' ? 'The request body' : where === 'query' ? 'The query string' : 'The path';
  return new ApiError(400, 'validation_failed', `${what} is invalid.`, { fields: fieldIssues(error) });
}

/** The one place an error becomes an HTTP response. Unknown errors become a 500 that says nothing internal. */
export function errorResponse(error: unknown, requestId: string): { statusCode: number; body: ReturnType<typeof errorBody> } {
  if (error instanceof DomainError) return refusalResponse(error);
  if (error instanceof ApiError) {
    return { statusCode: error.statusCode, body: errorBody(error.code, error.message, error.details) };
  }
  return {
    statusCode: 500,
    body: errorBody('internal_error', 'Something went wrong on our side. Retry with the same Idempotency-Key; quote the requestId if it persists.', {
      requestId,
    }),
  };
}

export function jsonResult(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    // A command's response body was serialized once already, for its idempotency record: the same text is sent.
    body: body === undefined ? '' : (knownJsonText(body) ?? JSON.stringify(body)),
  };
}

/** Any UTF-16 surrogate: a string without one is well-formed, and UTF-8 round trips leave it as it is. */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The request body as API Gateway delivered it: its size in bytes and its text (UTF-8). A text body is used as it
 * is, measured without copying; only a base64 body, or text with surrogates (where a lone one becomes U+FFFD, as
 * decoding its UTF-8 bytes gives), goes through a buffer.
 */
function rawBodyOf(event: HttpEvent): { bytes: number; text: () => string } | undefined {
  const body = event.body;
  if (body === undefined || body === null) return undefined;
  if (!event.isBase64Encoded && !SURROGATE.test(body)) return { bytes: Buffer.byteLength(body, 'utf8'), text: () => body };
  const buffer = Buffer.from(body, event.isBase64Encoded ? 'base64' : 'utf8');
  return { bytes: buffer.length, text: () => buffer.toString('utf8') };
}

// ---------------------------------------------------------------------------------------------------------------
// Middlewares

function requestIdOf(request: MiddyRequest): string {
  return request.event.requestContext?.requestId ?? request.context?.awsRequestId ?? 'unknown';
}

/** Authorization, sizes, the Idempotency-Key, JSON and zod, in that order: the cheapest refusal first. */
function parseRequest(
  route: RouteDefinition,
  bodySchema: z.ZodType | undefined,
  querySchema: z.ZodType | undefined,
  parsed: WeakMap<HttpEvent, Parsed>,
): MiddlewareObj<HttpEvent, HttpResult, Error, Context> {
  const hasAccountPath = route.path.includes('{id}');
  const before = async (request: MiddyRequest): Promise<void> => {
    const { event } = request;
    const principal = principalOf(event.requestContext, currentAuthSettings());
    const rawId = event.pathParameters?.['id'];
    authorize(principal, route.access, hasAccountPath ? (rawId ?? '') : undefined);

    let accountId = '';
    if (hasAccountPath) {
      const id = accountIdSchema.safeParse(rawId);
      if (!id.success) throw new ApiError(400, 'validation_failed', 'The account id in the path is invalid.', { fields: fieldIssues(id.error).map((f) => ({ ...f, path: 'id' })) });
      accountId = id.data;
    }

    const raw = rawBodyOf(event);
    if (raw !== undefined && raw.bytes > MAX_BODY_BYTES) {
      throw new ApiError(413, 'payload_too_large', `The request body is ${raw.bytes} bytes; at most ${MAX_BODY_BYTES} are accepted.`, {
        bytes: raw.bytes,
        limit: MAX_BODY_BYTES,
      });
    }

    let key: string | undefined;
    if (route.mutating) {
      key = event.headers?.['idempotency-key'];
      if (key === undefined || key === '') {
        throw new ApiError(400, 'idempotency_key_required', 'This request changes data: send an Idempotency-Key header (for example a UUID).');
      }
      const valid = idempotencyKeySchema.safeParse(key);
      if (!valid.success) {
        throw new ApiError(400, 'invalid_idempotency_key', valid.error.issues[0]?.message ?? 'Invalid Idempotency-Key.', { length: key.length });
      }
    }

    let json: unknown;
    if (bodySchema !== undefined) {
      const text = raw?.text() ?? '';
      if (text.trim() === '') throw new ApiError(400, 'invalid_json', 'This route needs a JSON body.');
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new ApiError(400, 'invalid_json', 'The request body is not valid JSON.', { reason: (error as Error).message });
      }
    }

    let body: unknown;
    if (bodySchema !== undefined) {
      const result = bodySchema.safeParse(json);
      if (!result.success) throw validationError('body', result.error);
      body = result.data;
    }
    let query: unknown;
    if (querySchema !== undefined) {
      const result = querySchema.safeParse(event.queryStringParameters ?? {});
      if (!result.success) throw validationError('query', result.error);
      query = result.data;
    }

    const idempotency = key === undefined ? undefined : { key, requestHash: requestHash(event.requestContext.http.method, event.rawPath, json) };
    parsed.set(event, { principal, accountId, body, query, idempotency });
  };
  return { before };
}

/** The only onError of the stack. */
function mapErrors(): MiddlewareObj<HttpEvent, HttpResult, Error, Context> {
  const onError = async (request: MiddyRequest): Promise<void> => {
    const requestId = requestIdOf(request);
    const { statusCode, body } = errorResponse(request.error, requestId);
    if (statusCode >= 500) {
      logger.error('Request failed', { requestId, routeKey: request.event?.routeKey, error: request.error });
    }
    request.response = jsonResult(statusCode, body, statusCode === 401 ? { 'www-authenticate': 'Bearer' } : {});
  };
  return { onError };
}

/** A route's Lambda handler: the shared stack around the route's own `handle`. */
export function httpHandler<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
  options: HttpHandlerOptions<B, Q>,
): MiddyfiedHandler<HttpEvent, HttpResult, Error, Context> {
  const { route, handle } = options;
  const parsed = new WeakMap<HttpEvent, Parsed>();

  const routeHandler = async (event: HttpEvent, context: Context): Promise<HttpResult> => {
    const state = parsed.get(event);
    if (state === undefined) throw new Error('request was not parsed');
    const output = await handle({
      event,
      principal: state.principal,
      body: state.body as Output<B>,
      query: state.query as Output<Q>,
      accountId: state.accountId,
      idempotency: state.idempotency,
      requestId: event.requestContext?.requestId ?? context?.awsRequestId ?? 'unknown',
    });
    const headers = { ...output.headers, ...(output.replayed === true ? { [REPLAYED_HEADER]: 'true' } : {}) };
    return jsonResult(output.statusCode, output.body, headers);
  };

  return middy<HttpEvent, HttpResult, Error, Context>()
    .use(httpHeaderNormalizer())
    .use(parseRequest(route, options.body, options.query, parsed))
    .use(mapErrors())
    .handler(routeHandler);
}
