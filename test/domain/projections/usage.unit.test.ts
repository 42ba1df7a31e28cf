import { describe, expect, it } from 'vitest';
import {
  evolveUsageDay,
  groupUsage,
  lineOfRecord,
  usageDayOf,
  usageRecordOf,
  type UsageDayView,
  type UsageRecordView,
} from '../../../domain/projections/index.js';
import type { LedgerEvent } from '../../../domain/index.js';
import { adjust, LedgerBuilder, openAccount, useFeature } from './ledger-builder.js';

/** Folds events into their usage days, the way the projection store keeps them. */
function usageDays(events: LedgerEvent[]): Map<string, UsageDayView> {
  const days = new Map<string, UsageDayView>();
  for (const event of events) {
    const day = usageDayOf(event);
    if (day === null) continue;
    const next = evolveUsageDay(days.get(day) ?? null, event);
    if (next !== null) days.set(day, next);
  }
  return days;
}

describe('usage per account per day per feature per model', () => {
  it('given a pro account, when chat/standard usage of 1,234 + 567 tokens arrives, then its day has 3.602 credits, both token counts and one request', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'pro', '2026-11-26T10:00:00.000Z'));
    ledger.run(useFeature('acme', '2026-11-26T11:00:00.000Z', { feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 }));

    const days = usageDays(ledger.events);
    expect([...days.keys()]).toEqual(['2026-11-26']);
    expect(days.get('2026-11-26')).toEqual({
      accountId: 'acme',
      day: '2026-11-26',
      lines: { 'chat|standard': { feature: 'chat', model: 'standard', credits: 3602, inputTokens: 1234, outputTokens: 567, units: 0, requests: 1 } },
    });
  });

  it('given usage of images, then they group by model as image-standard and image-hd, counting images as units', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'pro', '2026-11-26T10:00:00.000Z'));
    ledger.run(useFeature('acme', '2026-11-26T11:00:00.000Z', { feature: 'image', quality: 'hd', units: 3 }));
    ledger.run(useFeature('acme', '2026-11-26T11:05:00.000Z', { feature: 'image', quality: 'standard' }));
    ledger.run(useFeature('acme', '2026-11-26T11:06:00.000Z', { feature: 'image', quality: 'hd', units: 1 }));

    const lines = usageDays(ledger.events).get('2026-11-26')?.lines;
    expect(lines).toEqual({
      'image|image-hd': { feature: 'image', model: 'image-hd', credits: 32_000, inputTokens: 0, outputTokens: 0, units: 4, requests: 2 },
      'image|image-standard': { feature: 'image', model: 'image-standard', credits: 4000, inputTokens: 0, outputTokens: 0, units: 1, requests: 1 },
    });
  });

  it('given chatbot usage, then it groups under the chatbot feature and its chatbot’s model', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'pro', '2026-11-26T10:00:00.000Z'));
    ledger.run(useFeature('acme', '2026-11-26T12:00:00.000Z', { feature: 'chatbot', model: 'mini', inputTokens: 333, chatbotId: 'helpdesk' }));

    expect(usageDays(ledger.events).get('2026-11-26')?.lines).toEqual({
      'chatbot|mini': { feature: 'chatbot', model: 'mini', credits: 167, inputTokens: 333, outputTokens: 0, units: 0, requests: 1 },
    });
  });

  it('given usage reported after midnight that occurred before it, then it counts on the day it occurred, not the day it was recorded', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'pro', '2026-11-26T10:00:00.000Z'));
    ledger.run(
      useFeature('acme', '2026-11-27T00:02:00.000Z', { feature: 'chat', model: 'mini', inputTokens: 1000, occurredAt: '2026-11-26T23:59:59.999Z' }),
    );
    ledger.run(useFeature('acme', '2026-11-27T00:03:00.000Z', { feature: 'chat', model: 'mini', inputTokens: 2000 }));

    const days = usageDays(ledger.events);
    expect(days.get('2026-11-26')?.lines['chat|mini']?.credits).toBe(500);
    expect(days.get('2026-11-27')?.lines['chat|mini']?.credits).toBe(1000);
  });

  it('given a negative adjustment, then it is not usage: no day, no usage record', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'free', '2026-11-26T10:00:00.000Z'));
    const [debit] = ledger.run(adjust('acme', -10, 'refund of a promo', '2026-11-26T12:00:00.000Z'));

    expect(debit?.type).toBe('Debited');
    expect(usageDayOf(debit as LedgerEvent)).toBeNull();
    expect(usageRecordOf(debit as LedgerEvent)).toBeNull();
  });

  it('given usage on an unlimited plan, then it is metered like any other usage', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('big', 'custom', '2026-11-26T10:00:00.000Z'));
    ledger.run(useFeature('big', '2026-11-26T11:00:00.000Z', { feature: 'chat', model: 'advanced', inputTokens: 10_000 }));

    expect(usageDays(ledger.events).get('2026-11-26')?.lines['chat|advanced']).toMatchObject({ credits: 100_000, requests: 1 });
  });

  it('given an event of another day, then evolving a day view with it leaves the view unchanged', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'pro', '2026-11-26T10:00:00.000Z'));
    const [first] = ledger.run(useFeature('acme', '2026-11-26T11:00:00.000Z', { feature: 'chat', model: 'mini', inputTokens: 10 }));
    const [second] = ledger.run(useFeature('acme', '2026-11-27T11:00:00.000Z', { feature: 'chat', model: 'mini', inputTokens: 10 }));
    const view = evolveUsageDay(null, first as LedgerEvent);

    expect(evolveUsageDay(view, second as LedgerEvent)).toBe(view);
  });
});

describe('usage records (one export row per usage charge)', () => {
  it('keeps what was reported, what was charged and how it was split', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'free', '2026-11-26T10:00:00.000Z'));
    const [debit] = ledger.run(
      useFeature('acme', '2026-11-26T11:00:00.000Z', { feature: 'chatbot', model: 'standard', inputTokens: 1234, outputTokens: 567, chatbotId: 'a, "b"' }),
    );

    expect(usageRecordOf(debit as LedgerEvent)).toEqual({
      accountId: 'acme',
      version: 3,
      at: '2026-11-26T11:00:00.000Z',
      occurredAt: '2026-11-26T11:00:00.000Z',
      feature: 'chatbot',
      model: 'standard',
      chatbotId: 'a, "b"',
      inputTokens: 1234,
      outputTokens: 567,
      units: 0,
      quantity: 1801,
      credits: 3602,
      split: { monthly: 3602, purchased: 0 },
      unlimited: false,
      rate: { variant: 'standard', millicredits: 2000, per: 1000, measure: 'tokens' },
      catalogVersion: '2026-11-01',
    });
  });

  it('given an image, then its record has the quality it was reported with and no model (images have none); the model key stays in the report', () => {
    const ledger = new LedgerBuilder();
    ledger.run(openAccount('acme', 'pro', '2026-11-26T10:00:00.000Z'));
    const [debit] = ledger.run(useFeature('acme', '2026-11-26T11:00:00.000Z', { feature: 'image', quality: 'hd', units: 3 }));

    const record = usageRecordOf(debit as LedgerEvent);
    expect(record).toMatchObject({ feature: 'image', quality: 'hd', units: 3, credits: 24_000 });
    expect(record).not.toHaveProperty('model');
    // A range edge counted from records groups it exactly as the day views do.
    expect(lineOfRecord(record as UsageRecordView).line).toMatchObject({ feature: 'image', model: 'image-hd', units: 3 });
  });
});

describe('grouping a range of usage', () => {
  const ledger = new LedgerBuilder();
  ledger.run(openAccount('acme', 'pro', '2026-11-26T10:00:00.000Z'));
  ledger.run(useFeature('acme', '2026-11-26T11:00:00.000Z', { feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 }));
  ledger.run(useFeature('acme', '2026-11-26T12:00:00.000Z', { feature: 'image', quality: 'hd', units: 3 }));
  ledger.run(useFeature('acme', '2026-11-27T09:00:00.000Z', { feature: 'chatbot', model: 'standard', inputTokens: 500, outputTokens: 500 }));
  const lines = [...usageDays(ledger.events).values()].flatMap((view) => Object.values(view.lines).map((line) => ({ day: view.day, line })));

  it('by day: one group per day, in order, and totals over all of them', () => {
    const report = groupUsage(lines, 'day');
    expect(report.groups.map((g) => [g.key, g.credits, g.requests])).toEqual([
      ['2026-11-26', 27_602, 2],
      ['2026-11-27', 2000, 1],
    ]);
    expect(report.totals).toEqual({ credits: 29_602, inputTokens: 1734, outputTokens: 1067, units: 3, requests: 3 });
  });

  it('by feature: chat, chatbot and image apart', () => {
    expect(groupUsage(lines, 'feature').groups.map((g) => [g.key, g.credits])).toEqual([
      ['chat', 3602],
      ['chatbot', 2000],
      ['image', 24_000],
    ]);
  });

  it('by model: chat and chatbot on the same model together, images by quality', () => {
    expect(groupUsage(lines, 'model').groups.map((g) => [g.key, g.credits, g.inputTokens])).toEqual([
      ['image-hd', 24_000, 0],
      ['standard', 5602, 1734],
    ]);
  });
});
