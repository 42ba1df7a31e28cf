import * as z from 'zod';
import { handleBatchKey, handleCommandBatch, type BatchRecord, type BatchResult } from '../lib/handle-command.js';
import { ApiError } from '../lib/errors.js';
import { commandOutput, errorResponse, fieldIssues, httpHandler, logger, requestHash, routeOf } from '../lib/http.js';
import { idempotencyKeySchema, type StoredResponse } from '../lib/idempotency.js';
import { errorBody } from '../lib/views.js';
import { recordUsageCommand, usageRecordBody, usageResponse } from './record-usage.js';

/**
 * POST /v1/usage/batch (service): up to 100 usage records, each with its own `idempotencyKey`, across any
 * accounts. Records are grouped per account and each account's records are decided in order and appended
 * atomically; a refused record (402, 400, …) does not stop the others. The answer is 200 with one result per
 * record, in input order, each with its own status and the body POST /v1/usage would have given.
 *
 * A record is the same request as POST /v1/usage with the same body and key (its hash is taken as that route's),
 * so a client may retry a batch record alone, or a single usage inside a batch, and get the first answer back.
 *
 * The batch's own Idempotency-Key names the whole request (functions/lib/handle-command.ts `handleBatchKey`): the
 * same key and body replay the stored batch answer byte for byte, another body is 422 idempotency_key_reused and
 * nothing is applied. An answer with a record that may succeed when sent again (a 5xx, or 409 concurrent_update)
 * is not stored, so resending the batch with its key retries those records (the others replay from their keys).
 */
export const MAX_BATCH_RECORDS = 100;
/** Accounts whose records are written at the same time; each account's records are one transaction. */
const ACCOUNT_CONCURRENCY = 8;

export const usageBatchBody = z.strictObject({ records: z.array(z.unknown()).min(1) });

export const batchRecordBody = z.strictObject({ ...usageRecordBody.shape, idempotencyKey: idempotencyKeySchema });

export interface BatchItemResult {
  index: number;
  idempotencyKey: string | null;
  accountId: string | null;
  status: number;
  /** This record's answer is the stored one of an earlier request with the same key. */
  replayed: boolean;
  body: unknown;
}

interface Accepted {
  index: number;
  record: BatchRecord;
  idempotencyKey: string;
  accountId: string;
}

function failed(index: number, raw: unknown, status: number, body: unknown): BatchItemResult {
  const fields = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return { index, idempotencyKey: str(fields['idempotencyKey']), accountId: str(fields['accountId']), status, replayed: false, body };
}

async function inPool<T>(tasks: ReadonlyArray<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

/** Every record, per account; the batch answer and whether it is final (stored for the batch key). */
async function processBatch(records: readonly unknown[], requestId: string): Promise<{ response: StoredResponse; replayed: boolean; store: boolean }> {
  const results = new Array<BatchItemResult>(records.length);
  const byAccount = new Map<string, Accepted[]>();
  records.forEach((raw, index) => {
    const parsed = batchRecordBody.safeParse(raw);
    if (!parsed.success) {
      const fields = fieldIssues(parsed.error).map((f) => ({ ...f, path: `records.${index}.${f.path}` }));
      results[index] = failed(index, raw, 400, errorBody('validation_failed', `Record ${index} is invalid.`, { fields }));
      return;
    }
    const { idempotencyKey, ...usage } = parsed.data;
    const { idempotencyKey: _key, ...asSingleRequest } = raw as Record<string, unknown>;
    const accepted: Accepted = {
      index,
      idempotencyKey,
      accountId: usage.accountId,
      record: {
        idempotency: { key: idempotencyKey, requestHash: requestHash('POST', '/v1/usage', asSingleRequest) },
        command: (now) => recordUsageCommand(usage, now),
        respond: usageResponse,
      },
    };
    const group = byAccount.get(usage.accountId) ?? [];
    group.push(accepted);
    byAccount.set(usage.accountId, group);
  });

  const groups = [...byAccount.entries()];
  await inPool(
    groups.map(([accountId, group]) => async () => {
      let outcomes: BatchResult[];
      try {
        outcomes = await handleCommandBatch(
          accountId,
          group.map((g) => g.record),
        );
      } catch (error) {
        // The whole account's group failed (for example it stayed contended): its records share the answer.
        if (!(error instanceof ApiError)) logger.error('Usage batch: an account group failed', { requestId, accountId, error });
        const { statusCode, body: errorJson } = errorResponse(error, requestId);
        outcomes = group.map(() => ({ error: new ApiError(statusCode, errorJson.error.code, errorJson.error.message, errorJson.error.details) }));
      }
      group.forEach((g, i) => {
        const outcome = outcomes[i]!;
        const base = { index: g.index, idempotencyKey: g.idempotencyKey, accountId: g.accountId };
        if ('error' in outcome) {
          const mapped = errorResponse(outcome.error, requestId);
          results[g.index] = { ...base, status: mapped.statusCode, replayed: false, body: mapped.body };
        } else {
          results[g.index] = { ...base, status: outcome.response.statusCode, replayed: outcome.replayed, body: outcome.response.body };
        }
      });
    }),
    ACCOUNT_CONCURRENCY,
  );

  return {
    response: {
      statusCode: 200,
      body: {
        results,
        summary: {
          records: results.length,
          succeeded: results.filter((r) => r.status < 300).length,
          failed: results.filter((r) => r.status >= 300).length,
          replayed: results.filter((r) => r.replayed).length,
        },
      },
    },
    replayed: results.every((r) => r.replayed),
    store: !results.some(mayChangeWhenSentAgain),
  };
}

/** A record answer a resend may change: a failure on our side, or an account that stayed contended. */
function mayChangeWhenSentAgain(result: BatchItemResult): boolean {
  const code = (result.body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return result.status >= 500 || (result.status === 409 && code === 'concurrent_update');
}

export const handler = httpHandler({
  route: routeOf('POST', '/v1/usage/batch'),
  body: usageBatchBody,
  handle: async ({ body, idempotency, requestId }) => {
    const { records } = body;
    if (records.length > MAX_BATCH_RECORDS) {
      throw new ApiError(413, 'batch_too_large', `A batch holds at most ${MAX_BATCH_RECORDS} records; this one has ${records.length}.`, {
        records: records.length,
        limit: MAX_BATCH_RECORDS,
      });
    }

    if (idempotency === undefined) throw new Error('the usage batch route is mutating: the edge requires its Idempotency-Key');
    return commandOutput(await handleBatchKey(idempotency, () => processBatch(records, requestId)));
  },
});
