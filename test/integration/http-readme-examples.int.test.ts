import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLocalApi } from '../support/local-api.js';

/**
 * The curl examples of the README ("Try it locally" in the HTTP API section) work as printed: each is
 * parsed as curl would read it and sent, in order, to the local server.
 */
const api = useLocalApi();

const DOC = resolve(import.meta.dirname, '../../README.md');

/** Splits a command line like a POSIX shell does for the single-quoted words the examples use. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|(\S+)/g;
  for (const match of line.matchAll(pattern)) words.push(match[1] ?? match[2]!);
  return words;
}

interface Curl {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function parseCurl(line: string): Curl {
  const words = shellWords(line);
  expect(words[0]).toBe('curl');
  const curl: Curl = { method: 'GET', url: '', headers: {}, body: undefined };
  for (let i = 1; i < words.length; i += 1) {
    const word = words[i]!;
    if (word === '-s' || word === '-i') continue;
    if (word === '-X') curl.method = words[++i]!;
    else if (word === '-H') {
      const [name, ...value] = words[++i]!.split(':');
      curl.headers[name!.trim()] = value.join(':').trim();
    } else if (word === '-d') {
      curl.body = words[++i]!;
      if (curl.method === 'GET') curl.method = 'POST';
    } else if (/^https?:\/\//.test(word)) curl.url = word;
    else throw new Error(`the examples use a curl option this test does not know: ${word}`);
  }
  return curl;
}

function examples(): string[] {
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf('### Try it locally');
  expect(start, 'the README has a "Try it locally" section').toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + 1);
  const end = rest.search(/\n#{2,3} /);
  const section = end === -1 ? rest : rest.slice(0, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

describe('the documented curl examples', () => {
  it('open an account, charge 3.602 credits, show the balance, refuse with 402, replay, list the ledger and move the clock', async () => {
    const commands = examples();
    expect(commands).toHaveLength(7);
    const answers = [];
    for (const command of commands) {
      const curl = parseCurl(command);
      const res = await fetch(curl.url.replace('http://localhost:3000', api().url), {
        method: curl.method,
        headers: curl.headers,
        ...(curl.body === undefined ? {} : { body: curl.body }),
      });
      answers.push({ status: res.status, replayed: res.headers.get('idempotent-replayed'), body: (await res.json()) as any });
    }
    expect(answers.map((a) => a.status)).toEqual([201, 201, 200, 402, 201, 200, 200]);
    expect(answers[1]!.body).toMatchObject({ charged: 3.602 });
    expect(answers[2]!.body).toMatchObject({ accountId: 'acme', total: 96.398 });
    expect(answers[3]!.body.error).toMatchObject({ code: 'insufficient_credits', details: { required: 160, available: 96.398 } });
    expect(answers[4]).toMatchObject({ replayed: 'true', body: answers[1]!.body });
    expect(answers[5]!.body.items.map((i: { type: string }) => i.type)).toEqual(['AccountOpened', 'Granted', 'Debited']);

    const balance = await fetch(`${api().url}/v1/accounts/acme/balance`, { headers: { authorization: 'Bearer dev-service' } });
    expect(((await balance.json()) as { total: number }).total).toBe(100);
  });
});
