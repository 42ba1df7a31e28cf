import { DomainError } from '../domain/index.js';
import { recordUsageCommand, usageRecordBody, usageResponse } from '../functions/http/record-usage.js';
import { ApiError } from '../functions/lib/errors.js';
import { handleCommand, handleCommandBatch, type BatchRecord, type CommandInput } from '../functions/lib/handle-command.js';
import { errorResponse, requestHash } from '../functions/lib/http.js';
import { balanceView } from '../functions/lib/views.js';
import { runLoad, type LoadResult } from './lib/stats.js';

/**
 * Debits straight through the command path (handleCommand), in-process: what the record-usage handler does after
 * its HTTP edge, with an idempotency key and a 201 response stored for it, as a real request has.
 */

/** A small chat usage (0.05 credits): a pro account pays for 100,000 of them, so no run empties an account. */
export const BENCH_USAGE = { feature: 'chat', model: 'mini', inputTokens: 60, outputTokens: 40 } as const;

export interface Outcomes {
  /** Status code → count, as the HTTP edge would map each result. */
  statuses: Record<string, number>;
}

export function usageBody(accountId: string): Record<string, unknown> {
  return { accountId, ...BENCH_USAGE };
}

/** What the record-usage handler hands the command path for this body (its own command and response builders). */
export function debitInput(accountId: string, key: string): CommandInput {
  const body = usageBody(accountId);
  const parsed = usageRecordBody.parse(body);
  return {
    accountId,
    idempotency: { key, requestHash: requestHash('POST', '/v1/usage', body) },
    command: (now: Date) => recordUsageCommand(parsed, now),
    respond: usageResponse,
  };
}

export function batchRecord(accountId: string, key: string): BatchRecord {
  const input = debitInput(accountId, key);
  return { idempotency: input.idempotency!, command: input.command, respond: input.respond };
}

/** Opens accounts on the pro plan (untimed set-up), `concurrency` at a time. */
export async function openAccounts(accountIds: readonly string[], concurrency = 16): Promise<void> {
  await runLoad(accountIds.length, concurrency, async (i) => {
    const accountId = accountIds[i] as string;
    await handleCommand({
      accountId,
      command: (now) => ({ type: 'OpenAccount', accountId, now, plan: 'pro' }),
      respond: ({ state }) => ({ statusCode: 201, body: balanceView(state) }),
    });
  }).then((r) => {
    if (r.failures > 0) throw new Error(`opening accounts failed: ${r.failureSamples.join('; ')}`);
  });
}

/** The status the HTTP edge answers for an error (its one mapping, functions/lib/http.ts). */
export function statusOf(error: unknown): number {
  if (error instanceof DomainError || error instanceof ApiError) return errorResponse(error, 'bench').statusCode;
  return 500;
}

export interface DebitRunOptions {
  accountIds: readonly string[];
  operations: number;
  concurrency: number;
  /** Unique per run, so keys never collide with an earlier run's. */
  runId: string;
}

/** Debits spread round-robin over the accounts (one account: all on it), counting what each answered. */
export async function runCommandPathDebits(options: DebitRunOptions): Promise<LoadResult & Outcomes> {
  const { accountIds, operations, concurrency, runId } = options;
  const statuses: Record<string, number> = {};
  const count = (status: number): void => {
    statuses[status] = (statuses[status] ?? 0) + 1;
  };
  const result = await runLoad(operations, concurrency, async (i) => {
    const accountId = accountIds[i % accountIds.length] as string;
    try {
      const { response } = await handleCommand(debitInput(accountId, `${runId}-${i}`));
      count(response.statusCode);
    } catch (error) {
      const status = statusOf(error);
      count(status);
      if (status >= 500) throw error;
    }
  });
  return { ...result, statuses };
}

/** Batches of `batchSize` debits for one account each, the accounts taken round-robin. */
export async function runCommandPathBatches(options: DebitRunOptions & { batchSize: number }): Promise<LoadResult & Outcomes & { records: number }> {
  const { accountIds, operations, concurrency, runId, batchSize } = options;
  const statuses: Record<string, number> = {};
  const result = await runLoad(operations, concurrency, async (i) => {
    const accountId = accountIds[i % accountIds.length] as string;
    const records = Array.from({ length: batchSize }, (_, j) => batchRecord(accountId, `${runId}-${i}-${j}`));
    const results = await handleCommandBatch(accountId, records);
    for (const r of results) {
      const status = 'error' in r ? statusOf(r.error) : r.response.statusCode;
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  });
  return { ...result, statuses, records: operations * batchSize };
}
