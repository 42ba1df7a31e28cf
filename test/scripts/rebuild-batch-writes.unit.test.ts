import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, type BatchWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BATCH_WRITE_SIZE,
  batchPutItems,
  DynamoProjectionStore,
  MAX_BATCH_WRITE_ATTEMPTS,
  UnprocessedItemsError,
  type BatchWriteSend,
} from '../../functions/lib/projection-store.js';
import { forEachInFlight, SharedBatchWriter } from '../../scripts/rebuild-projections.js';

/**
 * How a rebuild writes: BatchWriteItem of 25 with a few requests in flight, UnprocessedItems sent again after a
 * growing wait, the items of the accounts in flight sharing batches, and accounts taken from the listing a bounded
 * number at a time. DynamoDB is a fake `send` here
 * that keeps what it was asked to put; waits are recorded, not slept.
 */

const TABLE = 'projections-under-test';
type Item = Record<string, unknown>;
const itemsNumbered = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ pk: `P#${i}`, sk: 'S', n: i }));
const idOf = (item: Item): string => String(item.pk);

interface FakeTable {
  send: BatchWriteSend;
  /** Items put, in the order they were accepted (a put the fake left unprocessed is not in it). */
  stored: Item[];
  /** The items of each request, in the order sent. */
  requests: Item[][];
  maxInFlight: number;
}

/**
 * A table that accepts a request's items except those `leaveUnprocessed` picks (given the request number, from 1),
 * which it returns as UnprocessedItems, as DynamoDB does when throttled. Each answer comes after a turn of the event
 * loop, so requests sent together are in flight together.
 */
function fakeTable(leaveUnprocessed: (request: number, items: Item[]) => Item[] = () => []): FakeTable {
  const table: FakeTable = { stored: [], requests: [], maxInFlight: 0, send: async () => ({}) };
  let inFlight = 0;
  table.send = async (input: BatchWriteCommandInput) => {
    inFlight += 1;
    table.maxInFlight = Math.max(table.maxInFlight, inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    inFlight -= 1;
    const entries = Object.entries(input.RequestItems ?? {});
    expect(entries.map(([name]) => name)).toEqual([TABLE]);
    const items = (entries[0]?.[1] ?? []).map((request) => request.PutRequest?.Item as Item);
    table.requests.push(items);
    const left = leaveUnprocessed(table.requests.length, items);
    table.stored.push(...items.filter((item) => !left.includes(item)));
    return left.length === 0 ? {} : { UnprocessedItems: { [TABLE]: left.map((Item) => ({ PutRequest: { Item } })) } };
  };
  return table;
}

const recordWaits = (): { waits: number[]; wait: (ms: number) => Promise<void> } => {
  const waits: number[] = [];
  return { waits, wait: async (ms) => void waits.push(ms) };
};

describe('batch puts of a rebuild', () => {
  it('given 60 items, then they go out as requests of 25, 25 and 10, each item exactly once', async () => {
    const table = fakeTable();
    const items = itemsNumbered(60);
    await batchPutItems(table.send, TABLE, items);
    expect(table.requests.map((r) => r.length).sort((a, b) => b - a)).toEqual([25, 25, 10]);
    expect(table.stored.map(idOf).sort()).toEqual(items.map(idOf).sort());
  });

  it('given 10 batches, then at most `inFlight` requests are out at once, and more than one is', async () => {
    const table = fakeTable();
    await batchPutItems(table.send, TABLE, itemsNumbered(10 * BATCH_WRITE_SIZE), { inFlight: 3 });
    expect(table.requests).toHaveLength(10);
    expect(table.maxInFlight).toBe(3);
  });

  it('given a response that leaves 7 items unprocessed, then exactly those 7 are sent again after a wait, and every item is stored once', async () => {
    const items = itemsNumbered(25);
    const throttled = items.slice(3, 10);
    const table = fakeTable((request) => (request === 1 ? throttled : []));
    const { waits, wait } = recordWaits();
    await batchPutItems(table.send, TABLE, items, { wait, random: () => 1 });
    expect(table.requests.map((r) => r.map(idOf))).toEqual([items.map(idOf), throttled.map(idOf)]);
    expect(waits).toEqual([50]);
    expect(table.stored.map(idOf).sort()).toEqual(items.map(idOf).sort());
  });

  it('given items left unprocessed again and again, then each wait doubles, up to 5 s, and each is a random part of that', async () => {
    const items = itemsNumbered(5);
    const table = fakeTable((request, sent) => (request <= 9 ? sent.slice(0, 1) : []));
    const full = recordWaits();
    await batchPutItems(table.send, TABLE, items, { wait: full.wait, random: () => 1 });
    expect(full.waits).toEqual([50, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(table.stored.map(idOf).sort()).toEqual(items.map(idOf).sort());

    const jittered = recordWaits();
    await batchPutItems(fakeTable((request, sent) => (request <= 2 ? sent.slice(0, 1) : [])).send, TABLE, items, { wait: jittered.wait, random: () => 0.25 });
    expect(jittered.waits).toEqual([12.5, 25]);
  });

  it('given a table that never takes some items, then after the last attempt it fails naming how many were left, and starts no further batch', async () => {
    const items = itemsNumbered(3 * BATCH_WRITE_SIZE);
    const stuck = items[0] as Item;
    const table = fakeTable((_request, sent) => sent.filter((item) => item === stuck));
    const { wait } = recordWaits();
    const failure = batchPutItems(table.send, TABLE, items, { wait, inFlight: 1 });
    await expect(failure).rejects.toBeInstanceOf(UnprocessedItemsError);
    await expect(failure).rejects.toThrow(`1 items for ${TABLE} were still unprocessed after ${MAX_BATCH_WRITE_ATTEMPTS} batch writes`);
    expect(table.requests).toHaveLength(MAX_BATCH_WRITE_ATTEMPTS);
    expect(table.stored.map(idOf)).not.toContain(idOf(items[BATCH_WRITE_SIZE] as Item));
  });

  it('given no items, then nothing is sent', async () => {
    const table = fakeTable();
    await batchPutItems(table.send, TABLE, []);
    expect(table.requests).toEqual([]);
  });

  describe('the store', () => {
    const dynamo = mockClient(DynamoDBDocumentClient);
    afterEach(() => dynamo.reset());

    it('putItems sends BatchWriteItem requests to its own table, and sends what came back unprocessed again', async () => {
      const items = itemsNumbered(30);
      dynamo
        .on(BatchWriteCommand)
        .resolvesOnce({ UnprocessedItems: { [TABLE]: [{ PutRequest: { Item: items[0] as Item } }] } })
        .resolves({});
      const store = new DynamoProjectionStore(TABLE, DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })));
      await store.putItems(items);
      const sent = dynamo.commandCalls(BatchWriteCommand).map((call) => (call.args[0].input.RequestItems?.[TABLE] ?? []).map((r) => idOf(r.PutRequest?.Item as Item)));
      expect(sent.map((ids) => ids.length).sort((a, b) => a - b)).toEqual([1, 5, 25]);
      expect(sent.flat().sort()).toEqual([...items.map(idOf), idOf(items[0] as Item)].sort());
    });
  });
});

describe('batches shared by the accounts in flight', () => {
  /** A `put` of one batch that answers when the test says so, keeping every batch it was given. */
  function gatedPut(): { put: (batch: Item[]) => Promise<void>; batches: Item[][]; open: number; answer(index: number, error?: Error): void } {
    const answers: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    const gate = {
      batches: [] as Item[][],
      open: 0,
      put: (batch: Item[]) =>
        new Promise<void>((resolve, reject) => {
          gate.batches.push(batch);
          gate.open += 1;
          answers.push({
            resolve: () => {
              gate.open -= 1;
              resolve();
            },
            reject: (e) => {
              gate.open -= 1;
              reject(e);
            },
          });
        }),
      answer: (index: number, error?: Error) => {
        const a = answers[index] as (typeof answers)[number];
        if (error === undefined) a.resolve();
        else a.reject(error);
      },
    };
    return gate;
  }
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const accountItemsOf = (account: string, n: number): Item[] => Array.from({ length: n }, (_, i) => ({ pk: `${account}#${i}` }));

  it('given ten accounts of 12 items arriving while the one batch allowed is out, then they go out in full batches of 25, each item once', async () => {
    const gate = gatedPut();
    const writer = new SharedBatchWriter(gate.put, 1);
    const accounts = Array.from({ length: 10 }, (_, a) => accountItemsOf(`A${a}`, 12));
    const done = accounts.map((items) => writer.write(items));
    // The first account's items went out at once (there was room); the other 108 wait, then fill batches of 25.
    for (let i = 0; gate.batches.length > i || gate.open > 0; i += 1) {
      gate.answer(i);
      await turn();
    }
    await Promise.all(done);
    expect(gate.batches.map((b) => b.length)).toEqual([12, 25, 25, 25, 25, 8]);
    expect(gate.batches.flat().map(idOf).sort()).toEqual(accounts.flat().map(idOf).sort());
  });

  it('an account is done only once every one of its items is written, even when they span two batches', async () => {
    const gate = gatedPut();
    const writer = new SharedBatchWriter(gate.put, 2);
    let secondDone = false;
    void writer.write(accountItemsOf('first', 20));
    const second = writer.write(accountItemsOf('second', 10)).then(() => {
      secondDone = true;
    });
    expect(gate.batches.map((b) => b.length)).toEqual([20, 10]);
    await writer.write([]); // nothing to write: done at once
    gate.answer(1);
    await turn();
    expect(secondDone).toBe(true);

    const third = writer.write(accountItemsOf('third', 30));
    let thirdDone = false;
    void third.then(() => {
      thirdDone = true;
    });
    await turn();
    expect(gate.batches.map((b) => b.length)).toEqual([20, 10, 25]); // one slot was free
    gate.answer(2);
    await turn();
    expect(thirdDone).toBe(false); // 5 of its items are still to go
    expect(gate.batches.map((b) => b.length)).toEqual([20, 10, 25, 5]);
    gate.answer(3);
    await second;
    await third;
    expect(thirdDone).toBe(true);
  });

  it('never has more batches out than its limit', async () => {
    const gate = gatedPut();
    const writer = new SharedBatchWriter(gate.put, 3);
    let most = 0;
    const done = Array.from({ length: 8 }, (_, a) => writer.write(accountItemsOf(`A${a}`, 30)));
    for (let i = 0; i < gate.batches.length; i += 1) {
      most = Math.max(most, gate.open);
      gate.answer(i);
      await turn();
    }
    await Promise.all(done);
    expect(most).toBe(3);
    expect(gate.batches.flat()).toHaveLength(8 * 30);
  });

  it('given a batch that fails, then the accounts with items in it fail, and an account not in it is still written', async () => {
    const gate = gatedPut();
    const writer = new SharedBatchWriter(gate.put, 2);
    const a = writer.write(accountItemsOf('a', 25));
    const b = writer.write(accountItemsOf('b', 5));
    gate.answer(0, new Error('throttled for good'));
    gate.answer(1);
    await expect(a).rejects.toThrow('throttled for good');
    await expect(b).resolves.toBeUndefined();
  });
});

describe('accounts in flight', () => {
  async function* source(n: number, taken: { count: number }): AsyncIterable<number> {
    for (let i = 0; i < n; i += 1) {
      taken.count += 1;
      yield i;
    }
  }

  it('given 100 accounts and room for 8, then each is worked on exactly once, never more than 8 at a time, and 8 at once when there are enough', async () => {
    const done: number[] = [];
    let running = 0;
    let most = 0;
    await forEachInFlight(source(100, { count: 0 }), 8, async (i) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
      done.push(i);
    });
    expect(done.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(most).toBe(8);
  });

  it('takes accounts from the listing only as room frees up, so a long listing streams through', async () => {
    const taken = { count: 0 };
    let finished = 0;
    let mostAhead = 0;
    await forEachInFlight(source(50, taken), 4, async () => {
      mostAhead = Math.max(mostAhead, taken.count - finished);
      await new Promise((resolve) => setImmediate(resolve));
      finished += 1;
    });
    expect(mostAhead).toBeLessThanOrEqual(4);
  });

  it('given one account failing, then no further account starts, the ones in flight finish, and the error is thrown', async () => {
    const taken = { count: 0 };
    const finished: number[] = [];
    const failure = forEachInFlight(source(100, taken), 4, async (i) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (i === 5) throw new Error('account 5 failed');
      await new Promise((resolve) => setImmediate(resolve));
      finished.push(i);
    });
    await expect(failure).rejects.toThrow('account 5 failed');
    // 4, 6 and 7 were in flight beside 5: they finish; nothing after them was taken.
    expect(finished.slice().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 6, 7]);
    expect(taken.count).toBe(8);
  });

  it('refuses a limit below one, which would never finish', async () => {
    await expect(forEachInFlight(source(1, { count: 0 }), 0, async () => {})).rejects.toThrow(RangeError);
  });
});
