import { usageBody } from './command-path.js';
import { runLoad, type LoadResult } from './lib/stats.js';

/**
 * Debits through the local HTTP server (infra/local/server.ts): the API Gateway-shaped event, the middy stack of
 * the record-usage handler and the command path, over keep-alive HTTP/1.1 from the same process.
 */
export const SERVICE_TOKEN = 'dev-service';

export interface HttpRunOptions {
  url: string;
  accountIds: readonly string[];
  operations: number;
  concurrency: number;
  runId: string;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: kept as text for the failure message
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export async function runHttpDebits(options: HttpRunOptions): Promise<LoadResult & { statuses: Record<string, number> }> {
  const { url, accountIds, operations, concurrency, runId } = options;
  const statuses: Record<string, number> = {};
  const result = await runLoad(operations, concurrency, async (i) => {
    const accountId = accountIds[i % accountIds.length] as string;
    const response = await postJson(`${url}/v1/usage`, usageBody(accountId), { 'idempotency-key': `${runId}-${i}` });
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    if (response.status >= 500) throw new Error(`HTTP ${response.status}: ${JSON.stringify(response.body)}`);
  });
  return { ...result, statuses };
}

export async function runHttpBatches(options: HttpRunOptions & { batchSize: number }): Promise<LoadResult & { statuses: Record<string, number>; records: number }> {
  const { url, accountIds, operations, concurrency, runId, batchSize } = options;
  const statuses: Record<string, number> = {};
  const result = await runLoad(operations, concurrency, async (i) => {
    const accountId = accountIds[i % accountIds.length] as string;
    const records = Array.from({ length: batchSize }, (_, j) => ({ ...usageBody(accountId), idempotencyKey: `${runId}-${i}-${j}` }));
    const response = await postJson(`${url}/v1/usage/batch`, { records }, { 'idempotency-key': `${runId}-${i}` });
    if (response.status >= 300) {
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      throw new Error(`HTTP ${response.status}: ${JSON.stringify(response.body)}`);
    }
    countResults(statuses, response.body);
  });
  return { ...result, statuses, records: operations * batchSize };
}

/** Batches whose records each belong to a different account (the accounts taken round-robin). */
export async function runHttpBatchesSpread(options: HttpRunOptions & { batchSize: number }): Promise<LoadResult & { statuses: Record<string, number>; records: number }> {
  const { url, accountIds, operations, concurrency, runId, batchSize } = options;
  const statuses: Record<string, number> = {};
  const result = await runLoad(operations, concurrency, async (i) => {
    const records = Array.from({ length: batchSize }, (_, j) => ({
      ...usageBody(accountIds[(i * batchSize + j) % accountIds.length] as string),
      idempotencyKey: `${runId}-${i}-${j}`,
    }));
    const response = await postJson(`${url}/v1/usage/batch`, { records }, { 'idempotency-key': `${runId}-${i}` });
    if (response.status >= 300) throw new Error(`HTTP ${response.status}: ${JSON.stringify(response.body)}`);
    countResults(statuses, response.body);
  });
  return { ...result, statuses, records: operations * batchSize };
}

function countResults(statuses: Record<string, number>, body: unknown): void {
  const results = ((body as { results?: Array<{ status?: number }> } | undefined)?.results ?? []) as Array<{ status?: number }>;
  for (const r of results) statuses[String(r.status ?? 'unknown')] = (statuses[String(r.status ?? 'unknown')] ?? 0) + 1;
}
