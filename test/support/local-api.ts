import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { ManualClock } from '../../functions/lib/clock.js';
import { startLocal, type LocalRuntime } from '../../infra/local/main.js';
import type { LocalService } from '../../infra/local/services.js';
import { createTestTables, type TestTables } from './dynamodb.js';

/**
 * The local runtime (infra/local/main.ts `startLocal`) for one test file: the same server `npm start` serves, on a
 * free port, over this file's own tables on the shared DynamoDB Local, with a ManualClock that stays where the
 * test puts it. Requests go over real HTTP, so they cross everything a client's would: the local API Gateway, the
 * handler's middy stack, the command path, DynamoDB Local.
 */
export const T0 = new Date('2026-11-26T10:00:00.000Z');

export const TOKENS = {
  service: 'dev-service',
  finance: 'dev-finance',
  customer: (accountId: string): string => `dev-customer:${accountId}`,
} as const;

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  /** Bearer token; default dev-service; null sends no Authorization header. */
  token?: string | null;
  /** Idempotency-Key; POST and PUT get a fresh one unless given; null sends none. */
  key?: string | null;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (malformed JSON, oversized bodies). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface LocalApi {
  url: string;
  clock: ManualClock;
  runtime: LocalRuntime;
  tables: TestTables;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  /** Moves the local clock through the API, as a developer would. */
  advance(isoDuration: string): Promise<void>;
}

export async function startLocalApi(options: { services?: LocalService[]; start?: Date } = {}): Promise<LocalApi & { stop(): Promise<void> }> {
  const tables = await createTestTables();
  const clock = new ManualClock(options.start ?? T0);
  const runtime = await startLocal({
    port: 0,
    dynamodb: { endpoint: tables.endpoint },
    tablePrefix: tables.prefix,
    clock,
    services: options.services ?? [],
    log: () => undefined,
  });

  async function request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? TOKENS.service : opts.token;
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    const key = opts.key === undefined ? (method === 'POST' || method === 'PUT' ? randomUUID() : null) : opts.key;
    if (key !== null) headers['idempotency-key'] = key;
    let body: string | undefined = opts.rawBody;
    if (body === undefined && opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${runtime.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: the test sees the text
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  return {
    url: runtime.url,
    clock,
    runtime,
    tables,
    request,
    async advance(isoDuration) {
      const res = await request('POST', '/_local/clock', { body: { advanceBy: isoDuration }, key: null, token: null });
      if (res.status !== 200) throw new Error(`advancing the clock failed: ${res.text}`);
    },
    async stop() {
      await runtime.stop();
      await tables.drop();
    },
  };
}

/** Registers beforeAll/afterAll around a local API for this file; the returned function gives it once started. */
export function useLocalApi(options: { services?: LocalService[]; start?: Date } = {}): () => LocalApi {
  let api: (LocalApi & { stop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    api = await startLocalApi(options);
  });
  afterAll(async () => {
    await api?.stop();
  });
  return () => {
    if (api === undefined) throw new Error('the local API is started in beforeAll');
    return api;
  };
}

let counter = 0;
/** An account id no other test of the run uses. */
export const newAccountId = (label = 'acct'): string => `${label}-${process.pid}-${++counter}-${randomUUID().slice(0, 8)}`;

/** Opens an account through the API and fails loudly if that does not work. */
export async function openAccount(api: LocalApi, accountId: string, plan = 'free', extra: Record<string, unknown> = {}): Promise<void> {
  const res = await api.request('POST', '/v1/accounts', { body: { accountId, plan, ...extra } });
  if (res.status !== 201) throw new Error(`opening ${accountId} failed: ${res.status} ${res.text}`);
}

/** Every ledger item of an account, following the cursor (as finance). */
export async function ledgerOf(api: LocalApi, accountId: string): Promise<Array<{ version: number; type: string; at: string; data: any }>> {
  const items: Array<{ version: number; type: string; at: string; data: any }> = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '?limit=500' : `?limit=500&cursor=${encodeURIComponent(cursor)}`;
    const res = await api.request('GET', `/v1/accounts/${encodeURIComponent(accountId)}/ledger${query}`, { token: TOKENS.finance });
    if (res.status === 404) return [];
    if (res.status !== 200) throw new Error(`reading the ledger of ${accountId} failed: ${res.status} ${res.text}`);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor !== null);
  return items;
}

/** The last ledger version of an account (0 when it has none). */
export async function ledgerVersion(api: LocalApi, accountId: string): Promise<number> {
  const items = await ledgerOf(api, accountId);
  return items.at(-1)?.version ?? 0;
}

/** Records chat usage worth `credits` credits (chat/standard: 2 credits per 1,000 tokens). */
export async function spend(api: LocalApi, accountId: string, credits: number): Promise<ApiResponse> {
  return api.request('POST', '/v1/usage', {
    body: { accountId, feature: 'chat', model: 'standard', inputTokens: Math.round(credits * 500), outputTokens: 0 },
  });
}
