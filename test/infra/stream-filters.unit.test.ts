import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ledgerEventSchema, type Command, type LedgerEvent } from '../../domain/index.js';
import { scheduleCycleReset } from '../../functions/streams/schedule-cycle-reset.js';
import { sendThresholdWarning } from '../../functions/streams/send-threshold-warnings.js';
import { CONSUMER_EVENT_TYPES, EVERY_EVENT, selectsRecord, type ConsumerSelection } from '../../infra/constructs/stream-filters.js';
import { ITEM_KINDS, LEDGER_KEYS } from '../../infra/keys.js';
import { buyPack, changePlan, instant, LedgerBuilder, openAccount, rollOver, spend } from '../domain/projections/ledger-builder.js';

/**
 * Each stream consumer's mapping hands it only the event types it acts on (infra/constructs/stream-filters.ts).
 * A filter narrower than its handler would silently drop work, so every event type a filter drops is shown to be
 * one its handler ignores; and the predicate the local poller uses agrees with the pattern on every record kind.
 */

const EVENT_TYPES = ledgerEventSchema.options.map((option) => option.shape.type.value);

/** A real ledger (the decider's own events) holding every event type at least once. */
function ledgerOfEveryType(): LedgerEvent[] {
  const ledger = new LedgerBuilder();
  const updateContact: Command = { type: 'UpdateContact', accountId: 'acme', contact: { email: 'ops@acme.test' }, now: instant('2026-11-26T12:00:00.000Z') };
  for (const command of [
    openAccount('acme', 'free', '2026-11-26T10:00:00.000Z'),
    buyPack('acme', 'pack_1000', 'pay-1', '2026-11-26T11:00:00.000Z'),
    updateContact,
    spend('acme', 1085, '2026-11-27T10:00:00.000Z'),
    rollOver('acme', '2026-12-26T10:00:01.000Z'),
    changePlan('acme', 'pro', '2026-12-27T10:00:00.000Z'),
  ]) {
    ledger.run(command);
  }
  return ledger.events;
}

function insertOf(type: string | undefined, kind: string = ITEM_KINDS.event, eventName = 'INSERT'): DynamoDBRecord {
  return {
    eventName: eventName as DynamoDBRecord['eventName'],
    dynamodb: { NewImage: { [LEDGER_KEYS.kindAttribute]: { S: kind }, ...(type === undefined ? {} : { type: { S: type } }) } },
  };
}

const dropped = (selection: ConsumerSelection): string[] =>
  selection === EVERY_EVENT ? [] : EVENT_TYPES.filter((type) => !(selection as readonly string[]).includes(type));

describe('stream consumer filters', () => {
  it('given a ledger with every event type, the cycle-reset consumer ignores each event its filter drops', async () => {
    const events = ledgerOfEveryType();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(EVENT_TYPES));
    const droppedTypes = dropped(CONSUMER_EVENT_TYPES.scheduleCycleReset);
    expect(droppedTypes).toContain('Debited');
    for (const event of events.filter((e) => droppedTypes.includes(e.type))) {
      expect(await scheduleCycleReset(event), event.type).toEqual({ status: 'ignored' });
    }
  });

  it('given a ledger with every event type, the warnings consumer ignores each event its filter drops', async () => {
    const events = ledgerOfEveryType();
    const droppedTypes = dropped(CONSUMER_EVENT_TYPES.sendThresholdWarnings);
    expect(droppedTypes).toContain('Debited');
    for (const event of events.filter((e) => droppedTypes.includes(e.type))) {
      expect(await sendThresholdWarning(event), event.type).toEqual({ status: 'ignored' });
    }
  });

  it('the projection consumer gets every event insert, and nothing else', () => {
    for (const type of EVENT_TYPES) expect(selectsRecord(CONSUMER_EVENT_TYPES.projectLedger, insertOf(type)), type).toBe(true);
    expect(selectsRecord(EVERY_EVENT, insertOf('Debited', ITEM_KINDS.head))).toBe(false);
    expect(selectsRecord(EVERY_EVENT, insertOf('Debited', ITEM_KINDS.event, 'MODIFY'))).toBe(false);
  });

  it('a narrowed consumer gets an insert of its types only: not a debit, a head, a delivery record, nor a modify', () => {
    const selection = CONSUMER_EVENT_TYPES.sendThresholdWarnings;
    expect(selectsRecord(selection, insertOf('ThresholdCrossed'))).toBe(true);
    expect(selectsRecord(selection, insertOf('Debited'))).toBe(false);
    expect(selectsRecord(selection, insertOf(undefined))).toBe(false);
    expect(selectsRecord(selection, insertOf('ThresholdCrossed', ITEM_KINDS.head))).toBe(false);
    expect(selectsRecord(selection, insertOf('ThresholdCrossed', ITEM_KINDS.delivery))).toBe(false);
    expect(selectsRecord(selection, insertOf('ThresholdCrossed', ITEM_KINDS.event, 'MODIFY'))).toBe(false);
    expect(selectsRecord(CONSUMER_EVENT_TYPES.scheduleCycleReset, insertOf('Granted'))).toBe(true);
    expect(selectsRecord(CONSUMER_EVENT_TYPES.scheduleCycleReset, insertOf('Expired'))).toBe(false);
  });
});
