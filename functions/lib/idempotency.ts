import * as crypto from 'node:crypto';
import * as z from 'zod';
import { DomainError, type DomainErrorKind } from '../../domain/index.js';
import { BATCH_SORT_KEY, ITEM_KINDS, LEDGER_KEYS, accountPartition, batchPartition, idempotencySortKey } from '../../infra/keys.js';
import { errorBody, jsonTextOf, parsedJsonText } from './views.js';

/**
 * Idempotency records (SPEC §5.3). A mutating request carries an `Idempotency-Key`; the first response to it is
 * stored in the account's partition, in the same transaction as the events it produced, and replayed for the same
 * key and the same request. Keys are scoped per account because the record lives under the account's key.
 *
 * What is stored is the answer to a decision: a success, or a refusal the domain decided on an existing account's
 * state (402, 409, 422, and the 400s the domain raises). Refusals made before anything was decided (edge
 * validation, a missing key, 413, an unknown account) leave no record, so the corrected request may use the key.
 */

/** Records are kept at least this long; DynamoDB's TTL removes them some time after `expiresAt` passes. */
export const IDEMPOTENCY_RETENTION_SECONDS = 7 * 24 * 60 * 60;

/** A key fits in the sort key (≤ 1 KB) with room to spare; visible ASCII only, so it never needs escaping. */
export const idempotencyKeySchema = z
  .string()
  .min(1, 'Idempotency-Key must not be empty')
  .max(255, 'Idempotency-Key is at most 255 characters')
  .regex(/^[\x21-\x7e]+$/, 'Idempotency-Key is visible ASCII characters, no spaces');

export interface Idempotency {
  key: string;
  /** A digest of what the request asks for (see `hashRequest`): the same key with another hash is refused. */
  requestHash: string;
}

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

const STATUS_OF_KIND: Record<DomainErrorKind, number> = {
  validation: 400,
  not_found: 404,
  conflict: 409,
  insufficient_credits: 402,
  business_rule: 422,
};

/**
 * The answer to a refusal by the domain: the status of its kind and the JSON error body. The HTTP edge sends it
 * (functions/lib/http.ts `errorResponse`) and the command path stores it for the key, from this one function, so
 * a replay is the first answer byte for byte.
 */
export function refusalResponse(error: DomainError): StoredResponse & { body: ReturnType<typeof errorBody> } {
  return { statusCode: STATUS_OF_KIND[error.kind], body: errorBody(error.code, error.message, error.details) };
}

/**
 * JSON with object keys sorted at every depth, so equal requests serialize equally whatever their key order.
 * Object members whose value is undefined are left out; an undefined array item is `null` and an array hole is
 * nothing (what `[...].map(…).join(',')` makes of them); anything JSON.stringify has no text for is `null`.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i += 1) {
      if (i > 0) text += ',';
      const item: unknown = value[i];
      if (item !== undefined) text += canonicalJson(item);
      else if (i in value) text += 'null';
    }
    return `${text}]`;
  }
  const object = value as Record<string, unknown>;
  // Default sort order: by UTF-16 code units, as `a < b` compares strings.
  const keys = Object.keys(object).sort();
  let text = '{';
  let first = true;
  for (const key of keys) {
    const member = object[key];
    if (member === undefined) continue;
    text += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
    first = false;
  }
  return `${text}}`;
}

/**
 * The request hash: SHA-256 of the canonical JSON of what identifies the request (for example the route and the
 * parsed body). Two bodies that differ only in key order or whitespace hash the same.
 */
export function hashRequest(request: unknown): string {
  return sha256Hex(canonicalJson(request));
}

/** Node's one-shot digest where it has one (20.12, 22), else a Hash object: the same digest either way. */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

export function idempotencyExpiresAt(now: Date): number {
  return Math.floor(now.getTime() / 1000) + IDEMPOTENCY_RETENTION_SECONDS;
}

export interface IdempotencyRecord {
  accountId: string;
  key: string;
  requestHash: string;
  response: StoredResponse;
  /** The account version right after the request was applied. */
  version: number;
  createdAt: string;
  expiresAt: number;
}

/**
 * The stored response keeps its body as the JSON text that was sent. Why: a DynamoDB map does not keep the order of
 * its keys, so a body stored as a map would come back as an equal value in another key order, and a replay must be
 * the first response itself.
 */
function storedResponseAttribute(response: StoredResponse): Record<string, unknown> {
  return response.body === undefined ? { statusCode: response.statusCode } : { statusCode: response.statusCode, bodyJson: jsonTextOf(response.body) };
}

export function idempotencyItem(record: IdempotencyRecord): Record<string, unknown> {
  return {
    [LEDGER_KEYS.partitionKey]: accountPartition(record.accountId),
    [LEDGER_KEYS.sortKey]: idempotencySortKey(record.key),
    [LEDGER_KEYS.kindAttribute]: ITEM_KINDS.idempotency,
    accountId: record.accountId,
    key: record.key,
    requestHash: record.requestHash,
    response: storedResponseAttribute(record.response),
    version: record.version,
    createdAt: record.createdAt,
    [LEDGER_KEYS.ttlAttribute]: record.expiresAt,
  };
}

const storedRecordSchema = z.object({
  accountId: z.string(),
  key: z.string(),
  requestHash: z.string(),
  /** `bodyJson`: the body as sent; `body`: a map, as records written before `bodyJson` hold it. */
  response: z.object({ statusCode: z.number().int(), bodyJson: z.string().optional(), body: z.unknown().optional() }),
  version: z.number().int().nonnegative(),
  createdAt: z.string(),
  [LEDGER_KEYS.ttlAttribute]: z.number().int(),
});

function storedResponseOf(attribute: z.output<typeof storedRecordSchema>['response']): StoredResponse {
  return { statusCode: attribute.statusCode, body: attribute.bodyJson === undefined ? attribute.body : parsedJsonText(attribute.bodyJson) };
}

export function itemToIdempotencyRecord(item: Record<string, unknown>): IdempotencyRecord {
  const parsed = storedRecordSchema.parse(item);
  return {
    accountId: parsed.accountId,
    key: parsed.key,
    requestHash: parsed.requestHash,
    response: storedResponseOf(parsed.response),
    version: parsed.version,
    createdAt: parsed.createdAt,
    expiresAt: parsed[LEDGER_KEYS.ttlAttribute],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A usage batch's own key

/**
 * The record of a usage batch's own Idempotency-Key: the whole batch answer, in an item of its own (pk
 * `BATCH#<key>`, sk `BATCH`), since a batch spans accounts. Same kind and TTL as the per-account records, so the
 * stream filter (kind "event") never passes it.
 */
export interface BatchIdempotencyRecord {
  key: string;
  requestHash: string;
  response: StoredResponse;
  createdAt: string;
  expiresAt: number;
}

export function batchRecordKey(key: string): Record<string, string> {
  return { [LEDGER_KEYS.partitionKey]: batchPartition(key), [LEDGER_KEYS.sortKey]: BATCH_SORT_KEY };
}

export function batchRecordItem(record: BatchIdempotencyRecord): Record<string, unknown> {
  return {
    ...batchRecordKey(record.key),
    [LEDGER_KEYS.kindAttribute]: ITEM_KINDS.idempotency,
    key: record.key,
    requestHash: record.requestHash,
    response: storedResponseAttribute(record.response),
    createdAt: record.createdAt,
    [LEDGER_KEYS.ttlAttribute]: record.expiresAt,
  };
}

const storedBatchRecordSchema = storedRecordSchema.omit({ accountId: true, version: true });

export function itemToBatchRecord(item: Record<string, unknown>): BatchIdempotencyRecord {
  const parsed = storedBatchRecordSchema.parse(item);
  return {
    key: parsed.key,
    requestHash: parsed.requestHash,
    response: storedResponseOf(parsed.response),
    createdAt: parsed.createdAt,
    expiresAt: parsed[LEDGER_KEYS.ttlAttribute],
  };
}
