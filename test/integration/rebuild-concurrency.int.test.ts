import { beforeAll, describe, expect, it } from 'vitest';
import { DomainError, execute, initialState, type AccountState, type Command, type LedgerEvent } from '../../domain/index.js';
import { projectAccount } from '../../domain/projections/index.js';
import { dynamoClient } from '../../functions/lib/dynamo.js';
import { appendEvents, readEvents } from '../../functions/lib/event-store.js';
import { accountItems, canonicalItem, DynamoProjectionStore, FinanceAccumulator, itemId } from '../../functions/lib/projection-store.js';
import { ACCOUNTS_IN_FLIGHT, LISTING_SEGMENTS, rebuildProjections, SHARED_BATCHES_IN_FLIGHT } from '../../scripts/rebuild-projections.js';
import { randomWorkload } from '../domain/projections/workload.js';
import { useTestTables } from '../support/dynamodb.js';

/**
 * The rebuild works on many accounts at once (ACCOUNTS_IN_FLIGHT), lists them with a parallel scan and writes the
 * items of all accounts in flight in shared batch writes, several at once. Whatever the interleaving, the table it fills must hold exactly
 * what each account's events project to, one account after the other, and the finance months their exact sums:
 * nothing lost, nothing doubled, the counts it reports exact. On DynamoDB Local.
 */
const tables = useTestTables();

const START = new Date('2026-10-03T08:00:00.000Z');
const SMALL_ACCOUNTS = 300;
/** One account with enough usage for its items to span many batch writes (25 items each). */
const BUSY = 'busy-account';
const BUSY_USAGE = 180;

let accountIds: string[] = [];
let expected: string[] = [];
let expectedEvents = 0;
let expectedBusyItems = 0;

/**
 * Decides each command on the state so far (skipping refused ones, as a client would) and appends the events through
 * the event store, up to 90 events per transaction, each append following the head the previous one left.
 */
async function record(accountId: string, commands: readonly Command[]): Promise<void> {
  let state: AccountState = initialState(accountId);
  let appended = 0;
  let pending: LedgerEvent[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    await appendEvents({ accountId, expectedVersion: appended, events: pending, state });
    appended = state.version;
    pending = [];
  };
  for (const command of commands) {
    let result: { events: LedgerEvent[]; state: AccountState };
    try {
      result = execute(command, state);
    } catch (error) {
      if (error instanceof DomainError) continue;
      throw error;
    }
    if (pending.length + result.events.length > 90) await flush();
    pending.push(...result.events);
    state = result.state;
  }
  await flush();
}

/**
 * Counts the requests the functions' DynamoDB client has out at once (the rebuild's reads and writes go through it):
 * the most at any moment, and those still out.
 */
interface StackOwner {
  middlewareStack: { add: (middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>, options: object) => void; remove: (name: string) => boolean };
}

function watchRequestsInFlight(): { most: number; now: number; stop(): void } {
  const name = 'rebuildTestInFlight';
  const stack = dynamoClient().middlewareStack as unknown as StackOwner['middlewareStack'];
  const watch = { most: 0, now: 0, stop: () => void stack.remove(name) };
  stack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      watch.now += 1;
      watch.most = Math.max(watch.most, watch.now);
      try {
        return await next(args);
      } finally {
        watch.now -= 1;
      }
    },
    { step: 'initialize', name, override: true },
  );
  return watch;
}

async function scan(table: string): Promise<string[]> {
  const items: Array<Record<string, unknown>> = [];
  for await (const item of new DynamoProjectionStore(table).scanItems()) items.push(item);
  return items.sort((a, b) => (itemId(a) < itemId(b) ? -1 : 1)).map(canonicalItem);
}

async function inParallel<T>(values: readonly T[], limit: number, work: (value: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < values.length) await work(values[next++] as T);
  }));
}

beforeAll(async () => {
  const commands = randomWorkload({ seed: 4242, accounts: SMALL_ACCOUNTS, commands: SMALL_ACCOUNTS * 4, start: START, spanDays: 90 });
  const busy: Command[] = [{ type: 'OpenAccount', accountId: BUSY, now: START, plan: 'pro' }];
  for (let i = 0; i < BUSY_USAGE; i += 1) {
    busy.push({ type: 'RecordUsage', accountId: BUSY, now: new Date(START.getTime() + (i + 1) * 7 * 3_600_000), usage: { feature: 'chat', model: 'mini', inputTokens: 600 + i, outputTokens: 400 } });
  }
  const byAccount = new Map<string, Command[]>([[BUSY, busy]]);
  for (const command of commands) byAccount.set(command.accountId, [...(byAccount.get(command.accountId) ?? []), command]);
  accountIds = [...byAccount.keys()];
  await inParallel(accountIds, 16, (accountId) => record(accountId, byAccount.get(accountId) ?? []));

  // What the rebuild must write: each account's projection on its own, in order, and the finance months summed.
  const items: Array<Record<string, unknown>> = [];
  const finance = new FinanceAccumulator();
  for (const accountId of accountIds) {
    const ledger = await readEvents(accountId, 1);
    const projections = projectAccount(ledger);
    const own = accountItems(projections);
    if (accountId === BUSY) expectedBusyItems = own.length;
    items.push(...own);
    finance.add(accountId, projections.finance);
    expectedEvents += ledger.length;
  }
  items.push(...finance.items());
  expected = items.sort((a, b) => (itemId(a) < itemId(b) ? -1 : 1)).map(canonicalItem);
}, 180_000);

describe('a rebuild with many accounts in flight', () => {
  it('the ledger is what the test needs: hundreds of small accounts and one whose items fill several batch writes', () => {
    expect(accountIds).toHaveLength(SMALL_ACCOUNTS + 1);
    expect(expectedEvents).toBeGreaterThan(SMALL_ACCOUNTS * 3);
    expect(expectedBusyItems).toBeGreaterThan(6 * 25);
    expect(accountIds.length).toBeGreaterThan(ACCOUNTS_IN_FLIGHT * LISTING_SEGMENTS * 4);
  });

  for (const inFlight of [ACCOUNTS_IN_FLIGHT, 64]) {
    it(`given ${inFlight} accounts in flight, when the ledger is rebuilt into an empty table, then it holds exactly each account's projection and the summed finance months, the counts are exact, and nothing is left in flight`, async () => {
      const table = `${tables().prefix}Rebuilt${inFlight}`;
      const watch = watchRequestsInFlight();
      let result: Awaited<ReturnType<typeof rebuildProjections>>;
      let stillOut: number;
      try {
        result = await rebuildProjections({ into: table, create: true, accountsInFlight: inFlight });
        stillOut = watch.now;
      } finally {
        watch.stop();
      }
      // Several requests were out at once, never more than a read per account in flight, the shared batch writes and
      // the listing's pages allow, and none is left out when the rebuild says it is done.
      expect(watch.most).toBeGreaterThan(1);
      expect(watch.most).toBeLessThanOrEqual(inFlight + SHARED_BATCHES_IN_FLIGHT + LISTING_SEGMENTS);
      expect(stillOut).toBe(0);
      expect(result).toEqual({ table, accounts: accountIds.length, events: expectedEvents, items: expected.length });
      const stored = await scan(table);
      expect(stored.length).toBe(expected.length);
      expect(stored).toEqual(expected);
    });
  }
});
