import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccountNotFoundError, InsufficientCreditsError, execute, initialState, type AccountState, type Command } from '../../../domain/index.js';
import { ManualClock, resetClock, setClock } from '../../../functions/lib/clock.js';
import { resetClients } from '../../../functions/lib/dynamo.js';
import { headItem } from '../../../functions/lib/event-store.js';
import { IdempotencyKeyReusedError } from '../../../functions/lib/errors.js';
import {
  DEFAULT_CONFLICT_RETRY_POLICY,
  chunkAtRecordBoundaries,
  firstEntryBeyondOneTransaction,
  handleBatchKey,
  handleCommand,
  mayRetry,
  type CommandOutcome,
} from '../../../functions/lib/handle-command.js';
import { hashRequest } from '../../../functions/lib/idempotency.js';

/**
 * The exact DynamoDB requests of the command path, with the SDK mocked: what a debit reads (one consistent
 * request) and what it writes (one TransactWriteItems: event, head, idempotency record, each with its guard).
 */
const dynamo = mockClient(DynamoDBDocumentClient);
const TABLE = 'ledger-under-test';
const T0 = new Date('2026-11-26T10:00:00.000Z');
const DEBIT_AT = new Date('2026-11-26T10:05:00.000Z');
const clock = new ManualClock(DEBIT_AT);

let savedTable: string | undefined;
beforeAll(() => {
  savedTable = process.env.LEDGER_TABLE_NAME;
  process.env.LEDGER_TABLE_NAME = TABLE;
  resetClients();
  setClock(clock);
});
afterAll(() => {
  if (savedTable === undefined) delete process.env.LEDGER_TABLE_NAME;
  else process.env.LEDGER_TABLE_NAME = savedTable;
  resetClients();
  resetClock();
  dynamo.restore();
});
beforeEach(() => {
  dynamo.reset();
  clock.set(DEBIT_AT);
});

const opened: AccountState = execute({ type: 'OpenAccount', accountId: 'acme', now: T0, plan: 'free' }, initialState('acme')).state;

const usage = { feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 };
const debit = (now: Date): Command => ({ type: 'RecordUsage', accountId: 'acme', now, usage });
const respond = ({ state }: CommandOutcome) => ({ statusCode: 201, body: { version: state.version } });
const requestHash = hashRequest({ route: 'POST /v1/usage', body: usage });
/** 13 HD images cost 104 credits; a new free account has 100. */
const tooMuch = (now: Date): Command => ({ type: 'RecordUsage', accountId: 'acme', now, usage: { feature: 'image', quality: 'hd', units: 13 } });

describe('a debit with an idempotency key', () => {
  it('reads the head and the key record in one consistent BatchGetItem, then writes one transaction: the event, the head at the expected version, the record', async () => {
    dynamo.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [headItem(opened)] } });
    dynamo.on(TransactWriteCommand).resolves({});

    const result = await handleCommand({ accountId: 'acme', idempotency: { key: 'use-1', requestHash }, command: debit, respond });

    expect(result).toEqual({ response: { statusCode: 201, body: { version: 3 } }, replayed: false });
    expect(dynamo.calls()).toHaveLength(2);
    expect(dynamo.commandCalls(BatchGetCommand)[0]!.args[0].input).toEqual({
      RequestItems: {
        [TABLE]: {
          Keys: [
            { pk: 'ACCOUNT#acme', sk: 'HEAD' },
            { pk: 'ACCOUNT#acme', sk: 'IDEMPOTENCY#use-1' },
          ],
          ConsistentRead: true,
        },
      },
    });

    const expectedState = execute(debit(DEBIT_AT), opened).state;
    expect(dynamo.commandCalls(TransactWriteCommand)[0]!.args[0].input).toEqual({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: 'ACCOUNT#acme',
              sk: 'EVENT#0000000003',
              kind: 'event',
              accountId: 'acme',
              version: 3,
              type: 'Debited',
              at: '2026-11-26T10:05:00.000Z',
              data: {
                reason: 'usage',
                amount: 3602,
                split: { monthly: 3602, purchased: 0, lots: [] },
                unlimited: false,
                cycle: 0,
                usage: {
                  feature: 'chat',
                  model: 'standard',
                  inputTokens: 1234,
                  outputTokens: 567,
                  occurredAt: '2026-11-26T10:05:00.000Z',
                  quantity: 1801,
                  rate: { feature: 'chat', variant: 'standard', measure: 'tokens', millicredits: 2000, per: 1000 },
                  catalogVersion: '2026-11-01',
                },
              },
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': 'pk' },
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: { pk: 'ACCOUNT#acme', sk: 'HEAD', kind: 'head', accountId: 'acme', version: 3, state: expectedState },
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': 2 },
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: 'ACCOUNT#acme',
              sk: 'IDEMPOTENCY#use-1',
              kind: 'idempotency',
              accountId: 'acme',
              key: 'use-1',
              requestHash,
              response: { statusCode: 201, bodyJson: '{"version":3}' },
              version: 3,
              createdAt: '2026-11-26T10:05:00.000Z',
              expiresAt: Date.parse('2026-12-03T10:05:00.000Z') / 1000,
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': 'pk' },
          },
        },
      ],
    });
    expect(expectedState.monthly.remaining).toBe(96_398);
  });

  it('given the head moved before the write, then it reads again and decides on the new version: one more read and one more write', async () => {
    const movedOn = execute({ type: 'RecordUsage', accountId: 'acme', now: T0, usage: { feature: 'image', quality: 'hd', units: 1 } }, opened).state;
    dynamo
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [headItem(opened)] } })
      .resolves({ Responses: { [TABLE]: [headItem(movedOn)] } });
    dynamo
      .on(TransactWriteCommand)
      .rejectsOnce(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
        }),
      )
      .resolves({});

    const result = await handleCommand({ accountId: 'acme', idempotency: { key: 'use-1', requestHash }, command: debit, respond });

    expect(result.response.body).toEqual({ version: 4 });
    expect(dynamo.commandCalls(BatchGetCommand)).toHaveLength(2);
    const writes = dynamo.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.TransactItems!);
    expect(writes).toHaveLength(2);
    expect(writes[1]![0]!.Put!.Item).toMatchObject({ sk: 'EVENT#0000000004', version: 4 });
    expect(writes[1]![1]!.Put!.ExpressionAttributeValues).toEqual({ ':expected': 3 });
  });

  it('given the key already answered for this request, then the stored response is replayed and nothing is written', async () => {
    const stored = {
      pk: 'ACCOUNT#acme',
      sk: 'IDEMPOTENCY#use-1',
      kind: 'idempotency',
      accountId: 'acme',
      key: 'use-1',
      requestHash,
      response: { statusCode: 201, body: { version: 3 } },
      version: 3,
      createdAt: DEBIT_AT.toISOString(),
      expiresAt: 1,
    };
    dynamo.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [headItem(opened), stored] } });

    const result = await handleCommand({ accountId: 'acme', idempotency: { key: 'use-1', requestHash }, command: debit, respond });

    expect(result).toEqual({ response: { statusCode: 201, body: { version: 3 } }, replayed: true });
    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('given a debit larger than the balance, then it is refused and its 402 is stored under the key in one transaction: a check of the head at the version decided on, and the record guarded by attribute_not_exists', async () => {
    dynamo.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [headItem(opened)] } });
    dynamo.on(TransactWriteCommand).resolves({});

    await expect(handleCommand({ accountId: 'acme', idempotency: { key: 'k', requestHash: 'h' }, command: tooMuch, respond })).rejects.toBeInstanceOf(
      InsufficientCreditsError,
    );

    expect(dynamo.calls()).toHaveLength(2);
    expect(dynamo.commandCalls(TransactWriteCommand)[0]!.args[0].input).toEqual({
      TransactItems: [
        {
          ConditionCheck: {
            TableName: TABLE,
            Key: { pk: 'ACCOUNT#acme', sk: 'HEAD' },
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': 2 },
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: 'ACCOUNT#acme',
              sk: 'IDEMPOTENCY#k',
              kind: 'idempotency',
              accountId: 'acme',
              key: 'k',
              requestHash: 'h',
              response: {
                statusCode: 402,
                bodyJson: JSON.stringify({
                  error: { code: 'insufficient_credits', message: 'This needs 104 credits and 100 are available.', details: { required: 104, available: 100 } },
                }),
              },
              version: 2,
              createdAt: '2026-11-26T10:05:00.000Z',
              expiresAt: Date.parse('2026-12-03T10:05:00.000Z') / 1000,
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': 'pk' },
          },
        },
      ],
    });
  });

  it('given a refusal whose head check fails (another command committed first), then it reads again and decides again on the new state', async () => {
    const credited = execute({ type: 'PurchasePack', accountId: 'acme', now: T0, pack: 'pack_1000', paymentRef: 'pay-1' }, opened).state;
    dynamo
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [headItem(opened)] } })
      .resolves({ Responses: { [TABLE]: [headItem(credited)] } });
    dynamo
      .on(TransactWriteCommand)
      .rejectsOnce(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
        }),
      )
      .resolves({});

    const result = await handleCommand({ accountId: 'acme', idempotency: { key: 'k', requestHash: 'h' }, command: tooMuch, respond });

    expect(result).toEqual({ response: { statusCode: 201, body: { version: credited.version + 1 } }, replayed: false });
    const writes = dynamo.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.TransactItems!);
    expect(writes.map((items) => items.map((item) => Object.keys(item)[0]))).toEqual([
      ['ConditionCheck', 'Put'],
      ['Put', 'Put', 'Put'],
    ]);
  });

  it('given the stored answer to this request is a refusal, then it is replayed as it was, and nothing is written', async () => {
    const refusal = { error: { code: 'insufficient_credits', message: 'This needs 104 credits and 100 are available.', details: { required: 104, available: 100 } } };
    const stored = {
      pk: 'ACCOUNT#acme',
      sk: 'IDEMPOTENCY#k',
      kind: 'idempotency',
      accountId: 'acme',
      key: 'k',
      requestHash: 'h',
      response: { statusCode: 402, bodyJson: JSON.stringify(refusal) },
      version: 2,
      createdAt: DEBIT_AT.toISOString(),
      expiresAt: 1,
    };
    const credited = execute({ type: 'PurchasePack', accountId: 'acme', now: T0, pack: 'pack_1000', paymentRef: 'pay-1' }, opened).state;
    dynamo.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [headItem(credited), stored] } });

    const result = await handleCommand({ accountId: 'acme', idempotency: { key: 'k', requestHash: 'h' }, command: tooMuch, respond });

    expect(result).toEqual({ response: { statusCode: 402, body: refusal }, replayed: true });
    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('given a refusal without a key, or for an account nobody opened, then nothing is written', async () => {
    dynamo.on(GetCommand).resolves({ Item: headItem(opened) });
    dynamo.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });

    await expect(handleCommand({ accountId: 'acme', command: tooMuch, respond })).rejects.toBeInstanceOf(InsufficientCreditsError);
    const ghost = (now: Date): Command => ({ type: 'RecordUsage', accountId: 'ghost', now, usage });
    await expect(handleCommand({ accountId: 'ghost', idempotency: { key: 'k', requestHash: 'h' }, command: ghost, respond })).rejects.toBeInstanceOf(
      AccountNotFoundError,
    );

    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});

describe('other shapes of the write', () => {
  it('without a key, the read is one consistent GetItem of the head and the transaction has the event and the head only', async () => {
    dynamo.on(GetCommand).resolves({ Item: headItem(opened) });
    dynamo.on(TransactWriteCommand).resolves({});

    await handleCommand({ accountId: 'acme', command: debit, respond });

    expect(dynamo.commandCalls(GetCommand)[0]!.args[0].input).toEqual({ TableName: TABLE, Key: { pk: 'ACCOUNT#acme', sk: 'HEAD' }, ConsistentRead: true });
    const items = dynamo.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((item) => Object.keys(item)[0])).toEqual(['Put', 'Put']);
    expect(items.map((item) => item.Put!.Item!.sk)).toEqual(['EVENT#0000000003', 'HEAD']);
  });

  it('opening an account guards the head with attribute_not_exists (there is no version to expect yet)', async () => {
    dynamo.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
    dynamo.on(TransactWriteCommand).resolves({});

    await handleCommand({
      accountId: 'new',
      idempotency: { key: 'open-1', requestHash: 'h' },
      command: (now) => ({ type: 'OpenAccount', accountId: 'new', now, plan: 'free' }),
      respond,
    });

    const items = dynamo.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((item) => item.Put!.Item!.sk)).toEqual(['EVENT#0000000001', 'EVENT#0000000002', 'HEAD', 'IDEMPOTENCY#open-1']);
    expect(items[2]!.Put).toMatchObject({ ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } });
    expect(items[2]!.Put!.ExpressionAttributeValues).toBeUndefined();
  });

  it('a command that decides no events writes its record with a condition check on the head version instead of a head put', async () => {
    dynamo.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [headItem(opened)] } });
    dynamo.on(TransactWriteCommand).resolves({});

    await handleCommand({
      accountId: 'acme',
      idempotency: { key: 'same-contact', requestHash: 'h' },
      command: (now) => ({ type: 'UpdateContact', accountId: 'acme', now, contact: {} }),
      respond,
    });

    expect(dynamo.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems).toEqual([
      {
        ConditionCheck: {
          TableName: TABLE,
          Key: { pk: 'ACCOUNT#acme', sk: 'HEAD' },
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':expected': 2 },
        },
      },
      expect.objectContaining({ Put: expect.objectContaining({ Item: expect.objectContaining({ sk: 'IDEMPOTENCY#same-contact' }) }) }),
    ]);
  });
});

describe("a usage batch's own key", () => {
  const batchAnswer = { statusCode: 200, body: { results: [{ index: 0, status: 201 }], summary: { records: 1 } } };
  const storedBatch = (requestHash: string) => ({
    pk: 'BATCH#batch-1',
    sk: 'BATCH',
    kind: 'idempotency',
    key: 'batch-1',
    requestHash,
    response: { statusCode: 200, bodyJson: JSON.stringify(batchAnswer.body) },
    createdAt: DEBIT_AT.toISOString(),
    expiresAt: 1,
  });

  it('reads its record consistently, processes the batch, then stores the answer under BATCH#<key> with attribute_not_exists and the 7-day TTL', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo.on(PutCommand).resolves({});
    let processed = 0;

    const result = await handleBatchKey({ key: 'batch-1', requestHash: 'h' }, async () => {
      processed += 1;
      return { response: batchAnswer, replayed: false, store: true };
    });

    expect([result, processed]).toEqual([{ response: batchAnswer, replayed: false }, 1]);
    expect(dynamo.commandCalls(GetCommand)[0]!.args[0].input).toEqual({ TableName: TABLE, Key: { pk: 'BATCH#batch-1', sk: 'BATCH' }, ConsistentRead: true });
    expect(dynamo.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Item: { ...storedBatch('h'), expiresAt: Date.parse('2026-12-03T10:05:00.000Z') / 1000 },
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
    });
  });

  it('given the key stored for this request, then the answer is replayed without processing; for another request, 422 before processing', async () => {
    dynamo.on(GetCommand).resolves({ Item: storedBatch('h') });
    const never = async () => {
      throw new Error('the batch must not be processed');
    };

    expect(await handleBatchKey({ key: 'batch-1', requestHash: 'h' }, never)).toEqual({ response: batchAnswer, replayed: true });
    await expect(handleBatchKey({ key: 'batch-1', requestHash: 'other' }, never)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('given an identical batch stored its answer first, then this one answers with the stored answer as a replay', async () => {
    dynamo.on(GetCommand).resolvesOnce({}).resolves({ Item: storedBatch('h') });
    dynamo.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    const mine = { statusCode: 200, body: { results: [{ index: 0, status: 201, replayed: true }] } };

    const result = await handleBatchKey({ key: 'batch-1', requestHash: 'h' }, async () => ({ response: mine, replayed: true, store: true }));

    expect(result).toEqual({ response: batchAnswer, replayed: true });
  });

  it('given an answer that must not be stored (a record may succeed when sent again), then nothing is written', async () => {
    dynamo.on(GetCommand).resolves({});

    const result = await handleBatchKey({ key: 'batch-1', requestHash: 'h' }, async () => ({ response: batchAnswer, replayed: false, store: false }));

    expect(result).toEqual({ response: batchAnswer, replayed: false });
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
  });
});

describe('the retry budget on version conflicts', () => {
  const policy = DEFAULT_CONFLICT_RETRY_POLICY;

  it('below the minimum number of retries, a request retries however long it has taken', () => {
    expect(mayRetry(0, 60_000, policy)).toBe(true);
    expect(mayRetry(policy.minRetries - 1, 60_000, policy)).toBe(true);
  });

  it('past the minimum, it retries while its next attempt starts before the deadline, and not after', () => {
    expect(mayRetry(policy.minRetries, policy.deadlineMs - 1, policy)).toBe(true);
    expect(mayRetry(policy.minRetries + 20, policy.deadlineMs - 1, policy)).toBe(true);
    expect(mayRetry(policy.minRetries, policy.deadlineMs, policy)).toBe(false);
  });

  it('never past the hard cap, even well before the deadline', () => {
    expect(mayRetry(policy.maxRetries - 1, 0, policy)).toBe(true);
    expect(mayRetry(policy.maxRetries, 0, policy)).toBe(false);
  });
});

describe('cutting a batch into transactions', () => {
  const record = (events: number) => ({ events: Array.from({ length: events }, () => ({})), item: {} });
  const withoutKey = (events: number) => ({ events: Array.from({ length: events }, () => ({})) });

  it('fills each transaction up to 99 items besides the head, cutting only between records', () => {
    const records = Array.from({ length: 100 }, () => record(1)); // 2 items each: the event and the record
    const chunks = chunkAtRecordBoundaries(records);
    expect(chunks.map((c) => c.length)).toEqual([49, 49, 2]);
    expect(chunks.flat()).toEqual(records);
  });

  it('keeps a record with several events whole, in the next transaction when it does not fit', () => {
    const chunks = chunkAtRecordBoundaries([record(97), record(2), record(1)]);
    expect(chunks.map((c) => c.map((r) => r.events.length))).toEqual([[97], [2, 1]]);
  });

  it('refuses a record that alone needs more than one transaction', () => {
    expect(() => chunkAtRecordBoundaries([record(99)])).toThrow(RangeError);
  });

  it('cuts a group of commands at the first one whose writes no longer fit one transaction; 0 when the first alone does not fit', () => {
    const pending = (entry: number, events: number) => ({ entry, events: Array.from({ length: events }, () => ({})), item: {} });
    expect(firstEntryBeyondOneTransaction(3, [pending(0, 1), pending(1, 1), pending(2, 1)])).toBe(3);
    expect(firstEntryBeyondOneTransaction(4, [pending(0, 60), pending(2, 37), pending(3, 1)])).toBe(3);
    expect(firstEntryBeyondOneTransaction(2, [pending(0, 99), pending(1, 1)])).toBe(0);
  });

  it('counts no idempotency record for what has no key (a group of rollover events): 99 events fit beside the head', () => {
    expect(chunkAtRecordBoundaries([withoutKey(60), withoutKey(39), withoutKey(1)]).map((c) => c.length)).toEqual([2, 1]);
    expect(() => chunkAtRecordBoundaries([withoutKey(100)])).toThrow(RangeError);
  });
});
