import { describe, expect, it } from 'vitest';
import { cycleScheduleName } from '../../functions/lib/schedules.js';
import { LocalNotifier, type OutboxItem } from '../../infra/local/notifier.js';
import { LocalScheduler, type LocalSchedule } from '../../infra/local/scheduler.js';
import { LocalStreamPoller } from '../../infra/local/stream-poller.js';
import { ledgerOf, newAccountId, openAccount, spend, TOKENS, useLocalApi, type LocalApi } from '../support/local-api.js';

/**
 * Three months of time travel through the local runtime (the server, stream poller, scheduler and notifier of
 * `npm start`, on DynamoDB Local): accounts on every plan, with usage and purchases in between, moved month by
 * month with POST /_local/clock and settled with POST /_local/sync. Every cycle is granted once and, when
 * credits remain, expired once, whether the schedule or a command rolled it over; warnings arrive exactly as
 * SPEC §5.4 says, each once.
 */

const api = useLocalApi({
  services: [new LocalScheduler({ tickMs: 0 }), new LocalNotifier({ print: false }), new LocalStreamPoller()],
  start: new Date('2026-11-26T10:00:00.000Z'),
});

async function sync(local: LocalApi): Promise<void> {
  const res = await local.request('POST', '/_local/sync', { key: null, token: null });
  if (res.status !== 200) throw new Error(`sync failed: ${res.status} ${res.text}`);
}

async function purchase(local: LocalApi, accountId: string, pack: string, paymentRef: string): Promise<void> {
  const res = await local.request('POST', `/v1/accounts/${accountId}/purchases`, { body: { pack, paymentRef } });
  if (res.status !== 201) throw new Error(`purchase failed: ${res.status} ${res.text}`);
}

async function charge(local: LocalApi, accountId: string, credits: number): Promise<void> {
  const res = await spend(local, accountId, credits);
  if (res.status !== 201) throw new Error(`usage of ${credits} credits on ${accountId} failed: ${res.status} ${res.text}`);
}

async function outbox(local: LocalApi, accountId?: string): Promise<OutboxItem[]> {
  const query = accountId === undefined ? '' : `?accountId=${encodeURIComponent(accountId)}`;
  return (await local.request('GET', `/_local/notifications${query}`, { token: null })).body.items as OutboxItem[];
}

/** "Granted 0", "Expired 0 4" (credits, as the ledger API shows amounts): the cycle events of an account in ledger order. */
async function cycles(local: LocalApi, accountId: string): Promise<string[]> {
  return (await ledgerOf(local, accountId))
    .filter((e) => e.type === 'Granted' || e.type === 'Expired')
    .map((e) => (e.type === 'Granted' ? `Granted ${e.data.cycle}` : `Expired ${e.data.cycle} ${e.data.amount}`));
}

async function thresholdsCrossed(local: LocalApi, accountId: string): Promise<Array<{ threshold: number; crossed: number[]; cycle: number }>> {
  return (await ledgerOf(local, accountId))
    .filter((e) => e.type === 'ThresholdCrossed')
    .map((e) => ({ threshold: e.data.threshold, crossed: e.data.crossed, cycle: e.data.cycle }));
}

const warningsOf = (items: OutboxItem[]) => items.map((i) => `${i.threshold}% ${i.channels.join('+') || 'topic only'}`);

describe('three months of cycles and warnings through the local runtime', () => {
  it('given five accounts on every plan, with usage and purchases between monthly clock moves, then each cycle is granted once, expired once when credits remain, and each warning is sent once', async () => {
    const local = api();
    const idle = newAccountId('free-idle');
    const warned = newAccountId('free-warned');
    const pro = newAccountId('pro');
    const custom = newAccountId('custom');
    const monthEnd = newAccountId('free-31st');

    // ---- 26 Nov 10:00: cycle 0 everywhere -------------------------------------------------------------------
    await openAccount(local, idle, 'free', { contact: { email: 'idle@example.test' } });
    await openAccount(local, warned, 'free', { contact: { email: 'warned@example.test', phone: '+14155550123' } });
    await openAccount(local, pro, 'pro', { contact: { email: 'pro@example.test' } });
    await openAccount(local, custom, 'custom', { contact: { email: 'custom@example.test' } });
    // Anchored on the 31st: its resets are clamped to month ends (30 Nov, 31 Dec, 31 Jan, 28 Feb), 08:00.
    await openAccount(local, monthEnd, 'free', { contact: { phone: '+447700900123' }, cycleAnchor: '2026-10-31T08:00:00.000Z' });

    await charge(local, warned, 81); // 19 left: below 20%
    await charge(local, warned, 15); // 4 left: below 5%
    await charge(local, pro, 4800); // 200 of 5,000 left: one debit below 20% and 5%, one warning
    await charge(local, custom, 50_000); // unlimited: metered, never warned
    await sync(local);

    expect(warningsOf(await outbox(local, warned))).toEqual(['20% email+sms', '5% email+sms']);
    expect((await outbox(local, warned))[0]?.message).toBe(
      'You have 19 credits left, below 20% of your 100 monthly credits. Buy a pack or wait for your reset on 26 Dec.',
    );
    expect(warningsOf(await outbox(local, pro))).toEqual(['5% email']);
    expect(await thresholdsCrossed(local, pro)).toEqual([{ threshold: 5, crossed: [20, 5], cycle: 0 }]);

    // A pack lifts the pro account back above both thresholds: they are re-armed, and the next fall warns again.
    await purchase(local, pro, 'pack_1000', 'pay-pro-1'); // 1,200 left (24%)
    await charge(local, pro, 300); // 900 left: below 20% again, above 5%
    await sync(local);
    expect(warningsOf(await outbox(local, pro))).toEqual(['5% email', '20% email']);
    expect((await outbox(local, pro))[1]?.message).toBe(
      'You have 900 credits left, below 20% of your 5,000 monthly credits. Buy a pack or wait for your reset on 26 Dec.',
    );

    // ---- 26 Dec 10:00:01: a debit one second after the reset rolls the warned account over itself ----------
    await local.advance('P1M');
    await local.advance('PT1S');
    await charge(local, warned, 96); // cycle 1: 100 granted, one debit leaves 4: below 20% and 5%, one warning
    await sync(local); // fires the other resets; the warned account's own schedule fires late and adds nothing
    expect(warningsOf(await outbox(local, warned))).toEqual(['20% email+sms', '5% email+sms', '5% email+sms']);
    expect(await thresholdsCrossed(local, warned)).toEqual([
      { threshold: 20, crossed: [20], cycle: 0 },
      { threshold: 5, crossed: [5], cycle: 0 },
      { threshold: 5, crossed: [20, 5], cycle: 1 },
    ]);

    // ---- 26 Jan 10:00:01 ------------------------------------------------------------------------------------
    await local.advance('P1M');
    await sync(local);
    await charge(local, monthEnd, 85); // its cycle 2 (31 Dec – 31 Jan): 15 left, an SMS only
    await sync(local);
    expect(warningsOf(await outbox(local, monthEnd))).toEqual(['20% sms']);
    expect((await outbox(local, monthEnd))[0]?.message).toBe(
      'You have 15 credits left, below 20% of your 100 monthly credits. Buy a pack or wait for your reset on 31 Jan.',
    );

    // ---- 26 Feb 10:00:01 ------------------------------------------------------------------------------------
    await local.advance('P1M');
    await sync(local);

    expect(await cycles(local, idle)).toEqual(['Granted 0', 'Expired 0 100', 'Granted 1', 'Expired 1 100', 'Granted 2', 'Expired 2 100', 'Granted 3']);
    expect(await cycles(local, warned)).toEqual(['Granted 0', 'Expired 0 4', 'Granted 1', 'Expired 1 4', 'Granted 2', 'Expired 2 100', 'Granted 3']);
    // Nothing monthly was left at the end of cycle 0 (the pack paid the rest): nothing to expire then.
    expect(await cycles(local, pro)).toEqual(['Granted 0', 'Granted 1', 'Expired 1 5000', 'Granted 2', 'Expired 2 5000', 'Granted 3']);
    expect(await cycles(local, custom)).toEqual(['Granted 0', 'Granted 1', 'Granted 2', 'Granted 3']);
    expect(await cycles(local, monthEnd)).toEqual(['Granted 0', 'Expired 0 100', 'Granted 1', 'Expired 1 100', 'Granted 2', 'Expired 2 15', 'Granted 3']);

    const grantsAt = (await ledgerOf(local, monthEnd)).filter((e) => e.type === 'Granted').map((e) => e.data.cycleStart);
    expect(grantsAt).toEqual(['2026-10-31T08:00:00.000Z', '2026-11-30T08:00:00.000Z', '2026-12-31T08:00:00.000Z', '2027-01-31T08:00:00.000Z']);

    // Every account waits for exactly its next reset; the late and duplicate fires are gone.
    const schedules = (await local.request('GET', '/_local/schedules', { token: null })).body.items as LocalSchedule[];
    expect(schedules.map((s) => [s.name, s.at]).sort()).toEqual(
      [
        [cycleScheduleName(idle, 3), '2027-03-26T10:00:00.000Z'],
        [cycleScheduleName(warned, 3), '2027-03-26T10:00:00.000Z'],
        [cycleScheduleName(pro, 3), '2027-03-26T10:00:00.000Z'],
        [cycleScheduleName(custom, 3), '2027-03-26T10:00:00.000Z'],
        [cycleScheduleName(monthEnd, 3), '2027-02-28T08:00:00.000Z'],
      ].sort(),
    );

    // Every ThresholdCrossed in the ledgers is one outbox item, and nobody else was warned.
    const all = await outbox(local);
    expect(all).toHaveLength(6);
    expect(warningsOf(await outbox(local, idle))).toEqual([]);
    expect(warningsOf(await outbox(local, custom))).toEqual([]);

    // Syncing again changes nothing: no second grant, no second message.
    const before = await Promise.all([idle, warned, pro, custom, monthEnd].map((id) => ledgerOf(local, id)));
    await sync(local);
    await sync(local);
    expect(await Promise.all([idle, warned, pro, custom, monthEnd].map((id) => ledgerOf(local, id)))).toEqual(before);
    expect(await outbox(local)).toEqual(all);

    const balance = await local.request('GET', `/v1/accounts/${warned}/balance`, { token: TOKENS.customer(warned) });
    expect(balance.body.cycle).toMatchObject({ number: 3, start: '2027-02-26T10:00:00.000Z', end: '2027-03-26T10:00:00.000Z' });
  });
});
