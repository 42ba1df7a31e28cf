import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../../domain/index.js';
import { ManualClock, resetClock, setClock } from '../../../functions/lib/clock.js';
import { readEvents } from '../../../functions/lib/event-store.js';
import { handleCommand } from '../../../functions/lib/handle-command.js';
import { handler, rollOverCycle, RolloverNotDueError } from '../../../functions/scheduled/roll-over-cycle.js';
import { useTestTables } from '../../support/dynamodb.js';

/**
 * Rolling over is idempotent per cycle: whatever the schedule does (fires twice, fires after a command already
 * rolled the cycle lazily, never fires), every cycle is granted once and expired once, in order.
 */

useTestTables();
const clock = new ManualClock();
beforeEach(() => setClock(clock));
afterEach(() => resetClock());

const OPENED = '2026-11-26T10:00:00.000Z';
const RESET_1 = '2026-12-26T10:00:00.000Z';
const RESET_2 = '2027-01-26T10:00:00.000Z';

let counter = 0;
async function openFreeAccount(): Promise<string> {
  counter += 1;
  const accountId = `roll-${counter}-${Math.random().toString(36).slice(2, 8)}`;
  clock.set(new Date(OPENED));
  await handleCommand({
    accountId,
    command: (now) => ({ type: 'OpenAccount', accountId, now, plan: 'free' }),
    respond: () => ({ statusCode: 201, body: {} }),
  });
  return accountId;
}

async function useImages(accountId: string, units: number, at: string): Promise<void> {
  clock.set(new Date(at));
  await handleCommand({
    accountId,
    command: (now) => ({ type: 'RecordUsage', accountId, now, usage: { feature: 'image', quality: 'standard', units } }),
    respond: () => ({ statusCode: 201, body: {} }),
  });
}

async function fire(accountId: string, cycle: number, at: string) {
  clock.set(new Date(at));
  return handler({ accountId, cycle });
}

const ledger = (accountId: string): Promise<LedgerEvent[]> => readEvents(accountId, 1);
const summary = (events: LedgerEvent[]) =>
  events
    .filter((e) => e.type === 'Granted' || e.type === 'Expired')
    .map((e) => `${e.type} ${e.data.cycle}${e.type === 'Expired' ? ` ${e.data.amount}` : ''} @${e.at}`);

describe('rolling over when the schedule fires', () => {
  it('given a free account that used 8 credits, when its cycle-0 schedule fires at the reset, then 92 credits expire and cycle 1 is granted 100', async () => {
    const accountId = await openFreeAccount();
    await useImages(accountId, 2, '2026-12-01T09:00:00.000Z');

    const outcome = await fire(accountId, 0, RESET_1);

    expect(outcome).toEqual({ status: 'rolled-over', accountId, cycle: 0, events: 2 });
    expect(summary(await ledger(accountId))).toEqual(['Granted 0 @' + OPENED, `Expired 0 92000 @${RESET_1}`, `Granted 1 @${RESET_1}`]);
  });

  it('given the schedule fires twice for the same cycle, then the second fire appends nothing: one grant per cycle', async () => {
    const accountId = await openFreeAccount();

    await fire(accountId, 0, RESET_1);
    const again = await fire(accountId, 0, '2026-12-26T10:00:02.000Z');

    expect(again).toEqual({ status: 'already-rolled-over', accountId, cycle: 0 });
    expect(summary(await ledger(accountId))).toEqual([`Granted 0 @${OPENED}`, `Expired 0 100000 @${RESET_1}`, `Granted 1 @${RESET_1}`]);
  });

  it('given a debit one second after the reset already rolled the cycle over lazily, when the schedule fires late, then it appends nothing', async () => {
    const accountId = await openFreeAccount();
    await useImages(accountId, 1, '2026-12-26T10:00:01.000Z');
    const before = await ledger(accountId);

    const late = await fire(accountId, 0, '2026-12-26T10:05:00.000Z');

    expect(late).toEqual({ status: 'already-rolled-over', accountId, cycle: 0 });
    expect(await ledger(accountId)).toEqual(before);
    expect(summary(before)).toEqual([`Granted 0 @${OPENED}`, `Expired 0 100000 @${RESET_1}`, `Granted 1 @${RESET_1}`]);
    // the debit drew from the new cycle's allocation
    expect(before.at(-1)).toMatchObject({ type: 'Debited', data: { cycle: 1, amount: 4000 } });
  });

  it('given the cycle-0 fire never came, when the next command arrives after two resets, then both cycles are expired and granted once each, in order', async () => {
    const accountId = await openFreeAccount();

    await useImages(accountId, 1, '2027-01-27T12:00:00.000Z');
    // a fire that was lost and redriven from the dead-letter queue much later changes nothing either
    const redriven = await fire(accountId, 0, '2027-01-28T00:00:00.000Z');

    expect(redriven.status).toBe('already-rolled-over');
    expect(summary(await ledger(accountId))).toEqual([
      `Granted 0 @${OPENED}`,
      `Expired 0 100000 @${RESET_1}`,
      `Granted 1 @${RESET_1}`,
      `Expired 1 100000 @${RESET_2}`,
      `Granted 2 @${RESET_2}`,
    ]);
  });

  it('given an idle account whose fires for cycles 0 and 1 are both missing, when the cycle-1 fire finally comes, then it catches up both boundaries', async () => {
    const accountId = await openFreeAccount();

    const outcome = await fire(accountId, 1, '2027-01-26T10:00:00.000Z');

    expect(outcome).toEqual({ status: 'rolled-over', accountId, cycle: 1, events: 4 });
    expect(summary(await ledger(accountId)).filter((s) => s.startsWith('Granted'))).toEqual([
      `Granted 0 @${OPENED}`,
      `Granted 1 @${RESET_1}`,
      `Granted 2 @${RESET_2}`,
    ]);
  });

  it('given the schedule fires a moment before the boundary (clock skew), then it fails without appending, so the retry applies it', async () => {
    const accountId = await openFreeAccount();
    clock.set(new Date('2026-12-26T09:59:59.400Z'));

    await expect(rollOverCycle({ accountId, cycle: 0 })).rejects.toBeInstanceOf(RolloverNotDueError);
    expect(summary(await ledger(accountId))).toEqual([`Granted 0 @${OPENED}`]);

    expect((await fire(accountId, 0, '2026-12-26T10:00:01.000Z')).status).toBe('rolled-over');
  });

  it('given a schedule for an account that does not exist, then it reports so and writes nothing', async () => {
    clock.set(new Date(RESET_1));
    expect(await handler({ accountId: 'nobody-here', cycle: 0 })).toEqual({ status: 'account-not-found', accountId: 'nobody-here' });
    expect(await readEvents('nobody-here', 1)).toEqual([]);
  });

  it('given an input that is not {accountId, cycle}, then the invocation fails loudly', async () => {
    await expect(handler({ accountId: '', cycle: -1 })).rejects.toThrow();
    await expect(handler('acme')).rejects.toThrow();
  });
});
