import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addMonths, cycleIndexAt, cycleStart, cycleWindow } from '../../domain/index.js';

const iso = (d: Date): string => d.toISOString();
const daysInMonth = (year: number, month: number): number => new Date(Date.UTC(year, month + 1, 0)).getUTCDate();

/** Anchors from 2000 to 2099, at any millisecond: every day-of-month, leap years and month ends included. */
const anchorArb = fc.date({ min: new Date('2000-01-01T00:00:00.000Z'), max: new Date('2099-12-31T23:59:59.999Z'), noInvalidDate: true });

describe('the cycle calendar (SPEC §3)', () => {
  describe('given an anchor on January 31 at 10:00', () => {
    const anchor = new Date('2026-01-31T10:00:00.000Z');

    it('the next cycles start Feb 28 10:00, then Mar 31 10:00: clamped to the month, never pulled earlier after', () => {
      expect(iso(cycleStart(anchor, 1))).toBe('2026-02-28T10:00:00.000Z');
      expect(iso(cycleStart(anchor, 2))).toBe('2026-03-31T10:00:00.000Z');
      expect(iso(cycleStart(anchor, 3))).toBe('2026-04-30T10:00:00.000Z');
    });

    it('in a leap year February’s cycle starts on the 29th', () => {
      expect(iso(cycleStart(new Date('2028-01-31T10:00:00.000Z'), 1))).toBe('2028-02-29T10:00:00.000Z');
    });

    it('cycle 0 starts at the anchor itself', () => {
      expect(iso(cycleStart(anchor, 0))).toBe(iso(anchor));
    });

    it('crosses the year end', () => {
      expect(iso(cycleStart(new Date('2026-12-31T23:30:00.000Z'), 2))).toBe('2027-02-28T23:30:00.000Z');
    });

    it('an instant at the boundary belongs to the new cycle; a millisecond before, to the old one', () => {
      expect(cycleIndexAt(anchor, new Date('2026-02-28T10:00:00.000Z'))).toBe(1);
      expect(cycleIndexAt(anchor, new Date('2026-02-28T09:59:59.999Z'))).toBe(0);
      expect(cycleIndexAt(anchor, new Date('2026-03-31T09:59:59.999Z'))).toBe(1);
      expect(cycleIndexAt(anchor, new Date('2026-03-31T10:00:00.000Z'))).toBe(2);
    });

    it('an instant before the anchor is in no cycle', () => {
      expect(cycleIndexAt(anchor, new Date('2026-01-31T09:59:59.999Z'))).toBe(-1);
    });

    it('a window runs from its cycle start to the next one', () => {
      const window = cycleWindow(anchor, 1);
      expect([iso(window.start), iso(window.end)]).toEqual(['2026-02-28T10:00:00.000Z', '2026-03-31T10:00:00.000Z']);
    });
  });

  it('all times are UTC: a moment written with an offset lands on the UTC calendar', () => {
    expect(iso(addMonths(new Date('2026-01-31T23:00:00-05:00'), 1))).toBe('2026-03-01T04:00:00.000Z');
  });

  it('every cycle start keeps the anchor’s time of day and its day, clamped to the month’s length', () => {
    fc.assert(
      fc.property(anchorArb, fc.integer({ min: 0, max: 240 }), (anchor, n) => {
        const start = cycleStart(anchor, n);
        const monthIndex = anchor.getUTCFullYear() * 12 + anchor.getUTCMonth() + n;
        expect(start.getUTCFullYear() * 12 + start.getUTCMonth()).toBe(monthIndex);
        expect(start.getUTCDate()).toBe(Math.min(anchor.getUTCDate(), daysInMonth(start.getUTCFullYear(), start.getUTCMonth())));
        expect(start.getTime() % 86_400_000).toBe(anchor.getTime() % 86_400_000);
      }),
      { numRuns: 1000 },
    );
  });

  it('cycle starts strictly increase, and each cycle lasts between 28 and 31 days', () => {
    fc.assert(
      fc.property(anchorArb, fc.integer({ min: 0, max: 240 }), (anchor, n) => {
        const length = cycleStart(anchor, n + 1).getTime() - cycleStart(anchor, n).getTime();
        expect(length).toBeGreaterThanOrEqual(28 * 86_400_000);
        expect(length).toBeLessThanOrEqual(31 * 86_400_000);
      }),
      { numRuns: 1000 },
    );
  });

  it('the cycle containing an instant starts at or before it and ends after it', () => {
    fc.assert(
      fc.property(anchorArb, fc.integer({ min: 0, max: 20 * 366 * 86_400_000 }), (anchor, offset) => {
        const instant = new Date(anchor.getTime() + offset);
        const n = cycleIndexAt(anchor, instant);
        const { start, end } = cycleWindow(anchor, n);
        expect(n).toBeGreaterThanOrEqual(0);
        expect(start.getTime()).toBeLessThanOrEqual(instant.getTime());
        expect(end.getTime()).toBeGreaterThan(instant.getTime());
      }),
      { numRuns: 1000 },
    );
  });
});
