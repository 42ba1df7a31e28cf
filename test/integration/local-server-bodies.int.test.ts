import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../functions/lib/clock.js';
import { MAX_GATEWAY_PAYLOAD_BYTES, startLocalServer, type LocalServer } from '../../infra/local/server.js';
import type { RouteDefinition } from '../../infra/routes.js';

/**
 * How the local API Gateway reads request bodies and writes results, over real sockets, around a handler that
 * echoes what it was given: bodies arrive whole however they are sent, the 10 MB quota holds for bodies that
 * declare their length and for chunked ones, and text and base64 results reach the client as their bytes.
 */
const ECHO = `
export const handler = async (event) => {
  if (event.headers['x-answer'] === 'base64') return { statusCode: 200, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 255, 1]).toString('base64'), isBase64Encoded: true };
  const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ length: text.length, base64: event.isBase64Encoded, text: text.length <= 64 ? text : text.slice(0, 8), note: 'héllo 😀' }) };
};
`;

const ROUTE: RouteDefinition = { method: 'POST', path: '/v1/echo', entry: 'echo.mjs', access: { service: true, finance: false, ownCustomer: false }, mutating: false };

let server: LocalServer;
beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'local-server-bodies-'));
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'echo.mjs'), ECHO);
  server = await startLocalServer({ port: 0, clock: new ManualClock(), repoRoot: root, routes: [ROUTE] });
});
afterAll(async () => {
  await server.close();
});

interface Sent {
  /** Chunks written one after another; without `length` the request is sent chunked. */
  chunks: Buffer[];
  length?: number;
  headers?: Record<string, string>;
}

function send({ chunks, length, headers = {} }: Sent): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path: '/v1/echo', method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers, ...(length === undefined ? {} : { 'content-length': length }) } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

const json = (body: Buffer) => JSON.parse(body.toString('utf8')) as { length: number; base64: boolean; text: string; note: string };

describe('a request body', () => {
  it('that declares its length and arrives in several chunks reaches the handler whole', async () => {
    const text = '{"records":[' + Array.from({ length: 2000 }, (_, i) => `{"n":${i}}`).join(',') + ']}';
    const bytes = Buffer.from(text);
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 5000), bytes.subarray(5000)];
    const res = await send({ chunks, length: bytes.length });
    expect(res.status).toBe(200);
    expect(json(res.body)).toMatchObject({ length: text.length, base64: false, text: text.slice(0, 8) });
  });

  it('sent chunked, without a length, reaches the handler whole', async () => {
    const res = await send({ chunks: [Buffer.from('{"a":'), Buffer.from('"é"}')] });
    expect(json(res.body)).toMatchObject({ text: '{"a":"é"}', base64: false });
  });

  it('of no bytes reaches the handler as no body', async () => {
    const res = await send({ chunks: [], length: 0 });
    expect(json(res.body)).toMatchObject({ length: 0, text: '' });
  });

  it('of a type that is not text reaches the handler base64-encoded', async () => {
    const res = await send({ chunks: [Buffer.from('plain words')], length: 11, headers: { 'content-type': 'application/octet-stream' } });
    expect(json(res.body)).toMatchObject({ base64: true, text: 'plain words' });
  });

  it('beyond the 10 MB quota is refused with 413 payload_too_large, chunked or with its length declared', async () => {
    const mb = Buffer.alloc(1024 * 1024, 0x20);
    const chunked = await send({ chunks: Array.from({ length: 11 }, () => mb) });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body.toString('utf8')).error.code).toBe('payload_too_large');
    expect(chunked.headers['connection']).toBe('close');

    const declared = await send({ chunks: Array.from({ length: 11 }, () => mb), length: 11 * mb.length });
    expect(declared.status).toBe(413);
    expect(MAX_GATEWAY_PAYLOAD_BYTES).toBeLessThan(11 * mb.length);
  });
});

describe('a result', () => {
  it('of text is sent as its UTF-8 bytes, with their count as the content length and header names in lower case', async () => {
    const res = await send({ chunks: [Buffer.from('{}')], length: 2 });
    expect(res.headers['content-type']).toBe('application/json');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(json(res.body).note).toBe('héllo 😀');
  });

  it('that is base64-encoded is sent as the bytes it encodes', async () => {
    const res = await send({ chunks: [Buffer.from('{}')], length: 2, headers: { 'x-answer': 'base64' } });
    expect([...res.body]).toEqual([0, 255, 1]);
    expect(res.headers['content-length']).toBe('3');
  });
});
