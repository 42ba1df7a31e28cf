import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * DynamoDB item sizes and capacity units by AWS's published rules, so the benchmark can say what a request
 * costs even where DynamoDB Local does not report consumed capacity:
 * - an item's size is the UTF-8 length of its attribute names plus its values (numbers ~ 1 byte per 2
 *   significant digits + 1, booleans and nulls 1 byte, lists and maps 3 bytes + 1 byte per element);
 * - a standard write costs 1 write unit per started KB, a transactional one twice that;
 * - a strongly consistent read costs 1 read unit per started 4 KB (of the summed items for a query),
 *   a transactional read twice that.
 */
const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

function numberSize(n: string): number {
  const digits = n.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.min(21, Math.ceil(Math.max(1, digits.length) / 2) + 1);
}

export function attributeValueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((a, s) => a + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((a, n) => a + numberSize(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((a, b) => a + b.byteLength, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((a, v) => a + 1 + attributeValueSize(v), 0);
  if (value.M !== undefined) return 3 + Object.entries(value.M).reduce((a, [k, v]) => a + 1 + utf8(k) + attributeValueSize(v), 0);
  return 0;
}

const TYPE_TAGS = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);

/** Whether an item is already in the wire format (every attribute a one-key `{S: …}`-style object). */
function isMarshalled(item: Record<string, unknown>): item is Record<string, AttributeValue> {
  return Object.values(item).every((v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    const keys = Object.keys(v);
    return keys.length === 1 && TYPE_TAGS.has(keys[0] as string);
  });
}

/** Size in bytes of an item, given in wire format or as a plain object (a document-client item). */
export function itemSize(item: Record<string, unknown>): number {
  const wire = isMarshalled(item) ? item : marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: true });
  return Object.entries(wire).reduce((a, [name, v]) => a + utf8(name) + attributeValueSize(v), 0);
}

export const writeUnits = (sizeBytes: number, transactional: boolean): number => Math.max(1, Math.ceil(sizeBytes / 1024)) * (transactional ? 2 : 1);

export const readUnits = (sizeBytes: number, consistent: boolean, transactional = false): number => {
  const units = Math.max(1, Math.ceil(sizeBytes / 4096));
  if (transactional) return units * 2;
  return consistent ? units : units / 2;
};
