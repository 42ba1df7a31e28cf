import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonResult, requestHash } from '../../../functions/lib/http.js';
import { canonicalJson, hashRequest, idempotencyItem, itemToIdempotencyRecord } from '../../../functions/lib/idempotency.js';

/**
 * Request hashes and stored responses: what an idempotency record holds must keep matching the requests and
 * answers of records already stored, and a replay must be the first answer's bytes.
 */

/** The canonical JSON that stored records' hashes were made with (the first implementation), as the reference. */
function referenceCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : referenceCanonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${referenceCanonicalJson(v)}`).join(',')}}`;
}

/** The same value with every object's keys inserted in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  // defineProperty, not assignment: a parsed body may have an own "__proto__" member, which `copy[key] =` would
  // turn into the copy's prototype.
  for (const key of Object.keys(value).reverse()) {
    Object.defineProperty(copy, key, { value: reversedKeys((value as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

describe('the request hash', () => {
  it('of a usage request and of a purchase is the one records already stored were written with', () => {
    // Digests recorded from the first implementation: a changed hash would refuse every retry of a stored key.
    const usage = { accountId: 'acme', feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 };
    expect(hashRequest({ method: 'POST', path: '/v1/usage', body: usage })).toBe('0ac248207f53c3d85937e02b8ffcc7edb7fca3fd4e49931ead4a34cb4bed8dd4');
    expect(requestHash('post', '/v1/accounts/acme/purchases', { pack: 'pack_1000', paymentRef: 'pay-1' })).toBe(
      '98e3b8e3fb630ce08b191d3298a49840126e24a9a4a0537299b05ae49a195909',
    );
  });

  it('serializes any value exactly as the records already stored were hashed, whatever the order of its keys', () => {
    const anything = fc.anything({ withSparseArray: true, withNullPrototype: true, withMap: true, withSet: true, withBoxedValues: true, withDate: true });
    fc.assert(
      fc.property(anything, (value) => {
        expect(canonicalJson(value)).toBe(referenceCanonicalJson(value));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(reversedKeys(value))).toBe(text);
        expect(JSON.parse(text)).toStrictEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps an own "__proto__" member of a parsed body, so two bodies that differ only there hash differently', () => {
    const one = JSON.parse('{"__proto__":1,"a":2}') as unknown;
    const two = JSON.parse('{"__proto__":3,"a":2}') as unknown;
    expect(canonicalJson(one)).toBe('{"__proto__":1,"a":2}');
    expect(hashRequest(one)).not.toBe(hashRequest(two));
  });

  it('leaves out members that are undefined, writes null for an undefined item, nothing for a hole, and {} for a Date', () => {
    const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
    expect(canonicalJson({ z: 1, gone: undefined, a: [1, undefined, { y: undefined, b: true, '10': 2, '9': 3 }] })).toBe(
      '{"a":[1,null,{"10":2,"9":3,"b":true}],"z":1}',
    );
    expect(canonicalJson(sparse)).toBe('[1,,3]');
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":{}}');
    expect(hashRequest(sparse)).toBe('cb0cfcbc65391b8b7eb9d01a23f28c3fdf9f864df849b6dbabf55c3b77cdf066');
  });
});

describe('a stored response', () => {
  const record = (body: unknown) => ({
    accountId: 'acme',
    key: 'use-1',
    requestHash: 'h',
    response: { statusCode: 201, body },
    version: 3,
    createdAt: '2026-11-26T10:00:00.000Z',
    expiresAt: 1_795_000_000,
  });

  it('keeps the body as the text the HTTP edge sends for it', () => {
    const body = { accountId: 'acme', version: 3, charged: 3.602, split: { monthly: 3.602, purchased: 0 } };
    const item = idempotencyItem(record(body));
    expect((item.response as { bodyJson: string }).bodyJson).toBe(JSON.stringify(body));
    expect(jsonResult(201, body).body).toBe((item.response as { bodyJson: string }).bodyJson);
  });

  it('is replayed as the stored text itself, byte for byte', () => {
    const stored = { ...idempotencyItem(record({})), response: { statusCode: 201, bodyJson: '{"b":1,"a":{"d":[1,2.5],"c":"x"}}' } };
    const replay = itemToIdempotencyRecord(stored).response;
    expect(replay.body).toStrictEqual({ b: 1, a: { d: [1, 2.5], c: 'x' } });
    expect(jsonResult(201, replay.body).body).toBe('{"b":1,"a":{"d":[1,2.5],"c":"x"}}');
  });

  it('of a record written before bodyJson (a map) is replayed as its value', () => {
    const stored = { ...idempotencyItem(record({})), response: { statusCode: 402, body: { error: { code: 'insufficient_credits' } } } };
    const replay = itemToIdempotencyRecord(stored).response;
    expect(jsonResult(402, replay.body).body).toBe('{"error":{"code":"insufficient_credits"}}');
  });

  it('but a body that was never stored is serialized as it is when it is sent', () => {
    const body: Record<string, unknown> = { a: 1 };
    expect(jsonResult(200, body).body).toBe('{"a":1}');
    body['a'] = 2;
    expect(jsonResult(200, body).body).toBe('{"a":2}');
  });
});
