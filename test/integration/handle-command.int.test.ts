import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AccountNotFoundError,
  DomainError,
  InsufficientCreditsError,
  availableBalance,
  execute,
  fold,
  type Command,
  type LedgerEvent,
} from '../../domain/index.js';
import { ManualClock, resetClock, setClock } from '../../functions/lib/clock.js';
import { documentClient } from '../../functions/lib/dynamo.js';
import { ConcurrencyConflictError, IdempotencyKeyReusedError } from '../../functions/lib/errors.js';
import { appendEvents, loadAccount, readEvents } from '../../functions/lib/event-store.js';
import {
  MIN_CONFLICT_RETRIES,
  handleCommand,
  handleCommandBatch,
  resetConflictRetryPolicy,
  setConflictRetryPolicy,
  setGroupCommit,
  MAX_GROUP_COMMANDS,
  type BatchRecord,
  type BatchResult,
  type CommandOutcome,
  type CommandResult,
  type StoredResponse,
} from '../../functions/lib/handle-command.js';
import { IDEMPOTENCY_RETENTION_SECONDS, hashRequest } from '../../functions/lib/idempotency.js';
import { accountPartition, idempotencySortKey } from '../../infra/keys.js';
import { useTestTables } from '../support/dynamodb.js';

/**
 * The command path on DynamoDB Local: one read, decide, one guarded transaction; idempotency keys; conflicts under
 * real concurrency; batches written at record boundaries.
 */
const tables = useTestTables();

const T0 = new Date('2026-11-26T10:00:00.000Z');
const clock = new ManualClock(T0);
beforeAll(() => setClock(clock));
afterAll(() => resetClock());
afterEach(() => {
  vi.restoreAllMocks();
  resetConflictRetryPolicy();
  setGroupCommit(true);
  clock.set(T0);
});

// ---------------------------------------------------------------------------------------------------------------
// Requests as a handler would build them: a body, its hash, the command and the response it stores.

type Body = Record<string, unknown>;

/** What the HTTP layer answers after a write: the account's version and balance (in millicredits here). */
function respondWith(statusCode: number) {
  return ({ events, state }: CommandOutcome): StoredResponse => ({
    statusCode,
    body: { version: state.version, appended: events.map((e) => e.type), balance: availableBalance(state) },
  });
}

const idem = (key: string, route: string, body: Body) => ({ key, requestHash: hashRequest({ route, body }) });

/** Usage that costs exactly `credits`: chat/mini charges 0.5 mc per token, so two tokens per millicredit. */
const usageBody = (credits: number): Body => ({ feature: 'chat', model: 'mini', inputTokens: credits * 2000 });

function usageCommand(accountId: string, body: Body) {
  return (now: Date): Command => ({
    type: 'RecordUsage',
    accountId,
    now,
    usage: { feature: String(body.feature), model: String(body.model), inputTokens: Number(body.inputTokens) },
  });
}

function reportUsage(accountId: string, body: Body, key?: string): Promise<CommandResult> {
  return handleCommand({
    accountId,
    ...(key === undefined ? {} : { idempotency: idem(key, 'POST /v1/usage', body) }),
    command: usageCommand(accountId, body),
    respond: respondWith(201),
  });
}

function usageRecord(accountId: string, key: string, body: Body): BatchRecord {
  return { idempotency: idem(key, 'POST /v1/usage', body), command: usageCommand(accountId, body), respond: respondWith(201) };
}

async function openAccount(accountId: string, plan = 'free'): Promise<void> {
  await handleCommand({
    accountId,
    idempotency: idem(`open-${accountId}`, 'POST /v1/accounts', { accountId, plan }),
    command: (now) => ({ type: 'OpenAccount', accountId, now, plan }),
    respond: respondWith(201),
  });
}

function purchase(accountId: string, key: string, paymentRef: string): Promise<CommandResult> {
  const body = { pack: 'pack_1000', paymentRef };
  return handleCommand({
    accountId,
    idempotency: idem(key, 'POST /v1/purchases', body),
    command: (now) => ({ type: 'PurchasePack', accountId, now, pack: 'pack_1000', paymentRef }),
    respond: respondWith(201),
  });
}

/** Every event of the account, after checking the versions run 1..n without a gap and the head is their fold. */
async function ledgerOf(accountId: string): Promise<LedgerEvent[]> {
  const events = await readEvents(accountId, 1);
  expect(events.map((e) => e.version), 'versions 1..n without a gap').toEqual(events.map((_, i) => i + 1));
  expect(await loadAccount(accountId), 'the head is the fold of the events').toEqual(fold(accountId, events));
  return events;
}

const usageDebits = (events: LedgerEvent[]): LedgerEvent[] => events.filter((e) => e.type === 'Debited' && e.data.reason === 'usage');

async function storedRecord(accountId: string, key: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await documentClient().send(
    new GetCommand({
      TableName: tables().names.Ledger,
      Key: { pk: accountPartition(accountId), sk: idempotencySortKey(key) },
      ConsistentRead: true,
    }),
  );
  return Item;
}

async function settled<T>(promises: Array<Promise<T>>): Promise<Array<{ value: T } | { error: unknown }>> {
  return (await Promise.allSettled(promises)).map((r) => (r.status === 'fulfilled' ? { value: r.value } : { error: r.reason }));
}

// ---------------------------------------------------------------------------------------------------------------

describe('one command with an idempotency key', () => {
  it('given an open account, when usage is reported, then it is charged once; the same request again replays the stored response and appends nothing', async () => {
    await openAccount('replay');
    const first = await reportUsage('replay', usageBody(3), 'use-1');
    const again = await reportUsage('replay', usageBody(3), 'use-1');

    expect(first.replayed).toBe(false);
    expect(first.response).toEqual({ statusCode: 201, body: { version: 3, appended: ['Debited'], balance: 97_000 } });
    expect(again).toEqual({ response: first.response, replayed: true });
    expect(usageDebits(await ledgerOf('replay'))).toHaveLength(1);
  });

  it('given a key already used, when it comes with a different body, then it is refused with idempotency_key_reused and nothing is appended', async () => {
    await openAccount('reused');
    await reportUsage('reused', usageBody(3), 'use-1');
    const before = await ledgerOf('reused');

    const attempt = reportUsage('reused', usageBody(4), 'use-1');

    await expect(attempt).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 422, code: 'idempotency_key_reused' });
    expect(await ledgerOf('reused')).toEqual(before);
  });

  it('keys are scoped per account: the same key on another account is another request', async () => {
    await openAccount('scope-a');
    await openAccount('scope-b');
    await reportUsage('scope-a', usageBody(3), 'shared-key');
    const onB = await reportUsage('scope-b', usageBody(5), 'shared-key');

    expect(onB.replayed).toBe(false);
    expect(availableBalance(await loadAccount('scope-b'))).toBe(95_000);
  });

  it('the record is kept at least 7 days: its TTL is the time of the request plus seven days, in epoch seconds', async () => {
    await openAccount('retention');
    clock.set(new Date('2026-11-27T08:30:00.000Z'));
    await reportUsage('retention', usageBody(1), 'kept');

    const item = await storedRecord('retention', 'kept');
    expect(item).toMatchObject({
      kind: 'idempotency',
      requestHash: hashRequest({ route: 'POST /v1/usage', body: usageBody(1) }),
      response: { statusCode: 201 },
      expiresAt: Date.parse('2026-11-27T08:30:00.000Z') / 1000 + IDEMPOTENCY_RETENTION_SECONDS,
    });
    expect(IDEMPOTENCY_RETENTION_SECONDS).toBe(7 * 24 * 3600);
  });

  it('given a free account with 30 credits left, when 40 credits of usage arrive, then it is refused and nothing is appended, but the refusal is stored under its key: after a pack is bought the same request with the same key replays the 402; a new key is charged', async () => {
    await openAccount('refused');
    await reportUsage('refused', usageBody(70), 'spend-70');
    const before = await ledgerOf('refused');

    const refused = reportUsage('refused', usageBody(40), 'use-40');
    await expect(refused).rejects.toBeInstanceOf(InsufficientCreditsError);
    await expect(refused).rejects.toMatchObject({ details: { required: 40, available: 30 } });
    expect(await ledgerOf('refused')).toEqual(before);
    expect(await storedRecord('refused', 'use-40')).toMatchObject({ version: before.length, response: { statusCode: 402 } });

    await purchase('refused', 'buy-1', 'pay-1');
    const replayed = await reportUsage('refused', usageBody(40), 'use-40');
    expect(replayed).toEqual({
      response: {
        statusCode: 402,
        body: { error: { code: 'insufficient_credits', message: expect.any(String), details: { required: 40, available: 30 } } },
      },
      replayed: true,
    });
    expect(availableBalance(await loadAccount('refused'))).toBe(1_030_000);

    const retried = await reportUsage('refused', usageBody(40), 'use-40-again');
    expect(retried.replayed).toBe(false);
    expect(availableBalance(await loadAccount('refused'))).toBe(990_000);
  });

  it('given a refusal decided on a version that another command moved before the refusal was stored, then the request is decided again on the new state and charged', async () => {
    await openAccount('refused-race');
    await reportUsage('refused-race', usageBody(70), 'spend-70');
    // The purchase stands for another process: in this one it would wait in the account's lane behind the request.
    setGroupCommit(false);
    const client = documentClient();
    const send = client.send.bind(client);
    let purchased = false;
    // A purchase commits between this request's read and its write.
    vi.spyOn(client, 'send').mockImplementation((async (command: unknown) => {
      if (command instanceof TransactWriteCommand && !purchased) {
        purchased = true;
        await purchase('refused-race', 'buy-1', 'pay-1');
      }
      return send(command as never);
    }) as never);

    const result = await reportUsage('refused-race', usageBody(40), 'use-40');
    vi.restoreAllMocks();

    expect(result).toMatchObject({ replayed: false, response: { statusCode: 201 } });
    expect(await storedRecord('refused-race', 'use-40')).toMatchObject({ response: { statusCode: 201 } });
    expect(usageDebits(await ledgerOf('refused-race'))).toHaveLength(2);
  });

  it('given a usage the catalog cannot price on an open account, when it is sent again with its key, then its 400 is replayed', async () => {
    await openAccount('unpriced');
    const body = { feature: 'chat', model: 'galactic', inputTokens: 10 };
    await expect(reportUsage('unpriced', body, 'odd-model')).rejects.toMatchObject({ code: 'unknown_rate' });

    const again = await reportUsage('unpriced', body, 'odd-model');
    expect(again).toMatchObject({ replayed: true, response: { statusCode: 400, body: { error: { code: 'unknown_rate' } } } });
    expect(usageDebits(await ledgerOf('unpriced'))).toHaveLength(0);
  });

  it('given an account nobody opened, when usage arrives, then it is refused as account_not_found and nothing is written', async () => {
    await expect(reportUsage('ghost', usageBody(1), 'use-1')).rejects.toBeInstanceOf(AccountNotFoundError);
    expect(await readEvents('ghost', 1)).toEqual([]);
    expect(await storedRecord('ghost', 'use-1')).toBeUndefined();
  });

  it('given a purchase already credited, when the same paymentRef comes under a new key, then nothing is appended but the response is stored under that key and replayed', async () => {
    await openAccount('pay-again');
    await purchase('pay-again', 'buy-1', 'pay-77');
    const before = await ledgerOf('pay-again');

    const second = await purchase('pay-again', 'buy-2', 'pay-77');
    expect(second.replayed).toBe(false);
    expect(second.response.body).toMatchObject({ appended: [], version: before.length });
    expect(await ledgerOf('pay-again')).toEqual(before);
    expect(await storedRecord('pay-again', 'buy-2')).toMatchObject({ version: before.length });
    expect(await purchase('pay-again', 'buy-2', 'pay-77')).toEqual({ response: second.response, replayed: true });
  });

  it.each(['constructor', '__proto__', 'toString'])(
    'given a payment reference "%s" (an Object member name), when it is credited and sent again under a new key, then the head stores it and the repeat is recognised',
    async (paymentRef) => {
      const accountId = `odd-ref-${paymentRef.replace(/_/g, '')}`;
      await openAccount(accountId);
      const first = await purchase(accountId, 'buy-1', paymentRef);
      expect(first.response.body).toMatchObject({ appended: ['Credited'] });
      const before = await ledgerOf(accountId);

      const again = await purchase(accountId, 'buy-2', paymentRef);
      expect(again.response.body).toMatchObject({ appended: [] });
      expect(await ledgerOf(accountId)).toEqual(before);
    },
  );

  it('without a key, the same command is applied each time it is sent', async () => {
    await openAccount('no-key');
    await reportUsage('no-key', usageBody(2));
    await reportUsage('no-key', usageBody(2));
    expect(usageDebits(await ledgerOf('no-key'))).toHaveLength(2);
  });

  it('given an account idle for 50 cycles, when usage arrives, then every missed cycle is expired and granted once, in order, before the charge', async () => {
    await openAccount('idle');
    clock.set(new Date('2031-01-26T10:00:00.000Z')); // 50 cycles after the opening
    const result = await reportUsage('idle', usageBody(1), 'after-idle');

    const events = await ledgerOf('idle');
    const grants = events.filter((e) => e.type === 'Granted');
    const expiries = events.filter((e) => e.type === 'Expired');
    expect(grants.map((e) => e.data.cycle)).toEqual(Array.from({ length: 51 }, (_, i) => i));
    expect(expiries.map((e) => e.data.cycle)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(events.at(-1)).toMatchObject({ type: 'Debited', data: { cycle: 50 } });
    expect(result.response.body).toMatchObject({ version: events.length, balance: 99_000 });
  });
});

// Concurrency on one DynamoDB Local shared with other test files can be slow on a busy machine: a generous budget.
describe('concurrency', { timeout: 120_000 }, () => {
  // The same rules hold whether concurrent commands meet in one process (its lanes group them into shared
  // transactions) or come from separate processes (each races on the head's version guard and retries).
  describe.each([
    { mode: 'in one process, grouped by the account lane', grouped: true, tag: 'grouped' },
    { mode: 'from separate processes, racing on the version guard', grouped: false, tag: 'racing' },
  ])('$mode', ({ grouped, tag }) => {
    beforeEach(() => {
      setGroupCommit(grouped);
      // Racing, every losing attempt is a full round trip: on a loaded 2-core machine 50 of them at once can take
      // longer than the 6 s deadline. These tests are about what is charged; the budget has its own tests below.
      if (!grouped) setConflictRetryPolicy({ deadlineMs: 60_000 });
    });
    afterEach(() => setGroupCommit(true));

    it('given an account that can afford 30 debits, when 50 arrive at once, then exactly 30 are charged, the others get insufficient_credits, and the balance ends at exactly 0', async () => {
      await openAccount(`${tag}-burst`);
      await reportUsage(`${tag}-burst`, usageBody(40), 'bring-to-60');
      expect(availableBalance(await loadAccount(`${tag}-burst`))).toBe(60_000);

      const outcomes = await settled(Array.from({ length: 50 }, (_, i) => reportUsage(`${tag}-burst`, usageBody(2), `debit-${i}`)));

      const charged = outcomes.filter((o) => 'value' in o);
      const refused = outcomes.filter((o): o is { error: unknown } => 'error' in o);
      expect(charged).toHaveLength(30);
      expect(refused).toHaveLength(20);
      for (const { error } of refused) expect(error).toBeInstanceOf(InsufficientCreditsError);
      const events = await ledgerOf(`${tag}-burst`);
      expect(usageDebits(events)).toHaveLength(31);
      expect(availableBalance(await loadAccount(`${tag}-burst`))).toBe(0);
      expect(new Set(charged.map((o) => ('value' in o ? (o.value.response.body as { version: number }).version : 0))).size).toBe(30);
    });

    it('given 20 requests with one key sent at once, then one event is appended and every request gets the same response, 19 of them as replays', async () => {
      await openAccount(`${tag}-same-key`);
      const results = await Promise.all(Array.from({ length: 20 }, () => reportUsage(`${tag}-same-key`, usageBody(3), 'only-once')));

      expect(usageDebits(await ledgerOf(`${tag}-same-key`))).toHaveLength(1);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      for (const result of results) expect(result.response).toEqual(results[0]!.response);
    });

    it('given 20 requests with one key and different bodies sent at once, then exactly one applies; the others are refused as key reuse or replay it when their body is the same', async () => {
      await openAccount(`${tag}-same-key-bodies`);
      const bodies = Array.from({ length: 20 }, (_, i) => usageBody(1 + (i % 4)));
      const outcomes = await settled(bodies.map((body) => reportUsage(`${tag}-same-key-bodies`, body, 'contested')));

      const applied = outcomes.filter((o) => 'value' in o && !o.value.replayed);
      expect(applied).toHaveLength(1);
      const events = await ledgerOf(`${tag}-same-key-bodies`);
      expect(usageDebits(events)).toHaveLength(1);
      const winner = (usageDebits(events)[0]!.data as { amount: number }).amount;
      outcomes.forEach((outcome, i) => {
        const sameBody = (bodies[i]!.inputTokens as number) / 2 === winner;
        if (sameBody) expect(outcome).toMatchObject({ value: { response: (applied[0] as { value: CommandResult }).value.response } });
        else expect((outcome as { error: unknown }).error).toBeInstanceOf(IdempotencyKeyReusedError);
      });
    });

    it('given a pro account, when 50 debits it can afford arrive at once, then every one is charged (201), none is given up as concurrent_update', async () => {
      await openAccount(`${tag}-hot`, 'pro');

      const outcomes = await settled(Array.from({ length: 50 }, (_, i) => reportUsage(`${tag}-hot`, usageBody(1), `hot-${i}`)));

      expect(outcomes.filter((o) => 'error' in o)).toEqual([]);
      expect(usageDebits(await ledgerOf(`${tag}-hot`))).toHaveLength(50);
      expect(availableBalance(await loadAccount(`${tag}-hot`))).toBe(4_950_000);
    });
  });

  /** Another writer commits a command between every read and write of the request, `times` times (or always). */
  function interfereWithWrites(accountId: string, times = Infinity): void {
    const client = documentClient();
    const send = client.send.bind(client);
    let interfering = false;
    let done = 0;
    vi.spyOn(client, 'send').mockImplementation((async (command: unknown) => {
      if (command instanceof TransactWriteCommand && !interfering && done < times) {
        interfering = true;
        try {
          const head = await loadAccount(accountId);
          const other = execute({ type: 'AdjustCredits', accountId, now: T0, amount: 1, reason: 'concurrent' }, head);
          await appendEvents({ accountId, expectedVersion: head.version, events: other.events, state: other.state });
          done += 1;
        } finally {
          interfering = false;
        }
      }
      return send(command as never);
    }) as never);
  }

  it('when conflicts outlast the minimum retries and the deadline has passed, the caller gets concurrent_update (409) and nothing of its request is written', async () => {
    await openAccount('always-conflict');
    setConflictRetryPolicy({ deadlineMs: 0 });
    interfereWithWrites('always-conflict');

    const attempt = reportUsage('always-conflict', usageBody(1), 'doomed');
    await expect(attempt).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 409, code: 'concurrent_update', details: { attempts: MIN_CONFLICT_RETRIES + 1 } });
    vi.restoreAllMocks();
    expect(await storedRecord('always-conflict', 'doomed')).toBeUndefined();
    const events = await ledgerOf('always-conflict');
    expect(usageDebits(events)).toHaveLength(0);
    expect(events.filter((e) => e.type === 'Credited')).toHaveLength(MIN_CONFLICT_RETRIES + 1);
  });

  it('when conflicts outlast the minimum retries but the deadline has not passed, the request keeps retrying and is charged', async () => {
    await openAccount('long-conflict');
    setConflictRetryPolicy({ deadlineMs: 120_000 });
    const conflicts = MIN_CONFLICT_RETRIES + 4;
    interfereWithWrites('long-conflict', conflicts);

    const result = await reportUsage('long-conflict', usageBody(1), 'persistent');
    vi.restoreAllMocks();

    expect(result).toMatchObject({ replayed: false, response: { statusCode: 201 } });
    const events = await ledgerOf('long-conflict');
    expect(events.filter((e) => e.type === 'Credited')).toHaveLength(conflicts);
    expect(usageDebits(events)).toHaveLength(1);
  });

  it('when conflicts go on well before the deadline, the request gives up at the hard cap on retries', async () => {
    await openAccount('capped-conflict');
    setConflictRetryPolicy({ deadlineMs: 120_000, maxRetries: MIN_CONFLICT_RETRIES + 2 });
    interfereWithWrites('capped-conflict');

    const attempt = reportUsage('capped-conflict', usageBody(1), 'capped');
    await expect(attempt).rejects.toMatchObject({ code: 'concurrent_update', details: { attempts: MIN_CONFLICT_RETRIES + 3 } });
  });
});

describe('group commit: commands that wait in one account lane', { timeout: 120_000 }, () => {
  /** Counts the transactions sent while `run` runs. */
  async function countingTransactions<T>(run: () => Promise<T>): Promise<{ result: T; transactions: number }> {
    const client = documentClient();
    const send = client.send.bind(client);
    let transactions = 0;
    vi.spyOn(client, 'send').mockImplementation(((command: unknown) => {
      if (command instanceof TransactWriteCommand) transactions += 1;
      return send(command as never);
    }) as never);
    const result = await run();
    vi.restoreAllMocks();
    return { result, transactions };
  }

  it('given 40 debits arriving at once, then they are written in far fewer transactions than requests, each charged once with its own version', async () => {
    await openAccount('grouped-40', 'pro');
    const { result, transactions } = await countingTransactions(() =>
      Promise.all(Array.from({ length: 40 }, (_, i) => reportUsage('grouped-40', usageBody(1), `g40-${i}`))),
    );

    expect(transactions).toBeLessThan(10);
    expect(result.every((r) => !r.replayed && r.response.statusCode === 201)).toBe(true);
    expect(new Set(result.map((r) => (r.response.body as { version: number }).version)).size).toBe(40);
    expect(usageDebits(await ledgerOf('grouped-40'))).toHaveLength(40);
    for (let i = 0; i < 40; i += 1) expect(await storedRecord('grouped-40', `g40-${i}`)).toMatchObject({ response: { statusCode: 201 } });
  });

  it('given more commands waiting than one transaction holds, then the group is cut at a command and the rest follow: every one charged exactly once', async () => {
    await openAccount('grouped-many', 'pro');
    const results = await Promise.all(Array.from({ length: 3 * MAX_GROUP_COMMANDS }, (_, i) => reportUsage('grouped-many', usageBody(1), `many-${i}`)));

    expect(results.filter((r) => r.response.statusCode === 201 && !r.replayed)).toHaveLength(3 * MAX_GROUP_COMMANDS);
    expect(usageDebits(await ledgerOf('grouped-many'))).toHaveLength(3 * MAX_GROUP_COMMANDS);
  });

  it('in one group, each request gets what it would get alone: a refusal stored under its key, a key reused with another body refused, the same body replayed, a request without a key charged', async () => {
    await openAccount('grouped-mixed');
    await reportUsage('grouped-mixed', usageBody(90), 'to-ten');
    const outcomes = await settled([
      reportUsage('grouped-mixed', usageBody(1), 'first'), // runs alone; the rest wait and form one group
      reportUsage('grouped-mixed', usageBody(4), 'four'),
      reportUsage('grouped-mixed', usageBody(20), 'too-much'),
      reportUsage('grouped-mixed', usageBody(4), 'four'),
      reportUsage('grouped-mixed', usageBody(5), 'four'),
      reportUsage('grouped-mixed', usageBody(2)),
    ]);

    expect(outcomes[0]).toMatchObject({ value: { replayed: false, response: { statusCode: 201, body: { balance: 9_000 } } } });
    expect(outcomes[1]).toMatchObject({ value: { replayed: false, response: { statusCode: 201, body: { balance: 5_000 } } } });
    expect((outcomes[2] as { error: unknown }).error).toBeInstanceOf(InsufficientCreditsError);
    expect(await storedRecord('grouped-mixed', 'too-much')).toMatchObject({ response: { statusCode: 402 } });
    expect(outcomes[3]).toEqual({ value: { replayed: true, response: (outcomes[1] as { value: CommandResult }).value.response } });
    expect((outcomes[4] as { error: unknown }).error).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(outcomes[5]).toMatchObject({ value: { replayed: false, response: { statusCode: 201, body: { balance: 3_000 } } } });
    expect(usageDebits(await ledgerOf('grouped-mixed'))).toHaveLength(4);
    expect(availableBalance(await loadAccount('grouped-mixed'))).toBe(3_000);
  });

  it('a defect in one request of a group fails that request only', async () => {
    await openAccount('grouped-defect', 'pro');
    const broken = handleCommand({
      accountId: 'grouped-defect',
      idempotency: idem('broken', 'POST /v1/usage', {}),
      command: () => {
        throw new Error('a defect in building the command');
      },
      respond: respondWith(201),
    });
    const outcomes = await settled([reportUsage('grouped-defect', usageBody(1), 'd-0'), broken, reportUsage('grouped-defect', usageBody(1), 'd-2')]);

    expect((outcomes[1] as { error: Error }).error.message).toBe('a defect in building the command');
    expect(outcomes.filter((o) => 'value' in o)).toHaveLength(2);
    expect(await storedRecord('grouped-defect', 'broken')).toBeUndefined();
    expect(usageDebits(await ledgerOf('grouped-defect'))).toHaveLength(2);
  });

  it('given another process writing between the group\'s read and write, then the group is decided again on the new state: nothing lost, nothing doubled', async () => {
    await openAccount('grouped-raced', 'pro');
    const client = documentClient();
    const send = client.send.bind(client);
    let others = 0;
    let interfering = false;
    vi.spyOn(client, 'send').mockImplementation((async (command: unknown) => {
      if (command instanceof TransactWriteCommand && others < 3 && !interfering) {
        interfering = true;
        try {
          const head = await loadAccount('grouped-raced');
          const other = execute({ type: 'AdjustCredits', accountId: 'grouped-raced', now: T0, amount: 1, reason: 'another process' }, head);
          await appendEvents({ accountId: 'grouped-raced', expectedVersion: head.version, events: other.events, state: other.state });
          others += 1;
        } finally {
          interfering = false;
        }
      }
      return send(command as never);
    }) as never);

    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => reportUsage('grouped-raced', usageBody(1), `r-${i}`)));
    vi.restoreAllMocks();

    expect(results.every((r) => r.response.statusCode === 201)).toBe(true);
    const events = await ledgerOf('grouped-raced');
    expect(usageDebits(events)).toHaveLength(12);
    expect(events.filter((e) => e.type === 'Credited')).toHaveLength(3);
  });
});

describe('usage batches', { timeout: 60_000 }, () => {
  const okResponses = (results: BatchResult[]) => results.map((r) => ('response' in r ? r.response : null));

  it('given a batch with an unaffordable record in the middle, then that record gets its error and the records around it are charged, in order', async () => {
    await openAccount('batch-mixed');
    const results = await handleCommandBatch('batch-mixed', [
      usageRecord('batch-mixed', 'b-1', usageBody(30)),
      usageRecord('batch-mixed', 'b-2', usageBody(80)),
      usageRecord('batch-mixed', 'b-3', usageBody(10)),
    ]);

    expect(results[0]).toMatchObject({ replayed: false, response: { body: { balance: 70_000 } } });
    expect((results[1] as { error: DomainError }).error).toBeInstanceOf(InsufficientCreditsError);
    expect(results[2]).toMatchObject({ replayed: false, response: { body: { balance: 60_000 } } });
    expect(usageDebits(await ledgerOf('batch-mixed'))).toHaveLength(2);
    expect(await storedRecord('batch-mixed', 'b-2')).toMatchObject({ version: 3, response: { statusCode: 402 } });
  });

  it('given a batch record refused for lack of credits, when the batch comes again after a purchase, then that record replays its 402 and the others replay their 201', async () => {
    await openAccount('batch-refusal');
    const records = [usageRecord('batch-refusal', 'r-1', usageBody(60)), usageRecord('batch-refusal', 'r-2', usageBody(60))];
    const first = await handleCommandBatch('batch-refusal', records);
    expect((first[1] as { error: DomainError }).error).toBeInstanceOf(InsufficientCreditsError);
    await purchase('batch-refusal', 'buy-1', 'pay-1');

    const again = await handleCommandBatch('batch-refusal', records);

    expect(again[0]).toEqual({ response: (first[0] as CommandResult).response, replayed: true });
    expect(again[1]).toMatchObject({ replayed: true, response: { statusCode: 402, body: { error: { code: 'insufficient_credits', details: { required: 60, available: 40 } } } } });
    expect(usageDebits(await ledgerOf('batch-refusal'))).toHaveLength(1);
  });

  it('given one key twice in a batch, then the same body is answered once and replayed, and another body is refused as key reuse', async () => {
    await openAccount('batch-dupes');
    const results = await handleCommandBatch('batch-dupes', [
      usageRecord('batch-dupes', 'd-1', usageBody(5)),
      usageRecord('batch-dupes', 'd-1', usageBody(5)),
      usageRecord('batch-dupes', 'd-1', usageBody(6)),
    ]);

    expect(results[0]).toMatchObject({ replayed: false });
    expect(results[1]).toEqual({ response: (results[0] as CommandResult).response, replayed: false });
    expect((results[2] as { error: unknown }).error).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(usageDebits(await ledgerOf('batch-dupes'))).toHaveLength(1);
  });

  it('given 100 records that need more than 100 items, then they are written in several transactions and every record is charged exactly once; the batch again replays all of them', async () => {
    await openAccount('batch-big', 'pro');
    const records = Array.from({ length: 100 }, (_, i) => usageRecord('batch-big', `big-${i}`, usageBody(1 + (i % 3))));
    const transactions = vi.spyOn(documentClient(), 'send');

    const results = await handleCommandBatch('batch-big', records);

    const writes = transactions.mock.calls.filter(([command]) => command instanceof TransactWriteCommand);
    expect(writes.length).toBeGreaterThan(1);
    for (const [command] of writes) expect((command as TransactWriteCommand).input.TransactItems!.length).toBeLessThanOrEqual(100);
    expect(results.every((r) => 'response' in r && !r.replayed)).toBe(true);
    const events = await ledgerOf('batch-big');
    expect(usageDebits(events)).toHaveLength(100);
    for (let i = 0; i < 100; i += 1) expect(await storedRecord('batch-big', `big-${i}`)).toBeDefined();

    const again = await handleCommandBatch('batch-big', records);
    expect(again.every((r) => 'replayed' in r && r.replayed)).toBe(true);
    expect(okResponses(again)).toEqual(okResponses(results));
    expect(await ledgerOf('batch-big')).toEqual(events);
  });

  it('given a crash between two transactions of a batch, when the batch is sent again with the same keys, then the written records replay and the rest are charged: each record exactly once', async () => {
    await openAccount('batch-crash', 'pro');
    const records = Array.from({ length: 100 }, (_, i) => usageRecord('batch-crash', `c-${i}`, usageBody(1)));
    const client = documentClient();
    const send = client.send.bind(client);
    let transactionsSeen = 0;
    vi.spyOn(client, 'send').mockImplementation((async (command: unknown) => {
      if (command instanceof TransactWriteCommand) {
        transactionsSeen += 1;
        if (transactionsSeen === 2) throw new Error('the process stopped here');
      }
      return send(command as never);
    }) as never);

    await expect(handleCommandBatch('batch-crash', records)).rejects.toThrow('the process stopped here');
    vi.restoreAllMocks();
    const written = usageDebits(await ledgerOf('batch-crash')).length;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(100);

    const results = await handleCommandBatch('batch-crash', records);
    expect(results.filter((r) => 'replayed' in r && r.replayed)).toHaveLength(written);
    expect(results.filter((r) => 'replayed' in r && !r.replayed)).toHaveLength(100 - written);
    expect(usageDebits(await ledgerOf('batch-crash'))).toHaveLength(100);
    expect(availableBalance(await loadAccount('batch-crash'))).toBe(4_900_000);
  });

  it('given two batches for one account at once, then both are applied in full with no version reused', async () => {
    await openAccount('batch-race', 'pro');
    const batch = (tag: string) => Array.from({ length: 10 }, (_, i) => usageRecord('batch-race', `${tag}-${i}`, usageBody(1)));
    const [a, b] = await Promise.all([handleCommandBatch('batch-race', batch('a')), handleCommandBatch('batch-race', batch('b'))]);

    expect([...a!, ...b!].every((r) => 'response' in r && !r.replayed)).toBe(true);
    expect(usageDebits(await ledgerOf('batch-race'))).toHaveLength(20);
  });
});
