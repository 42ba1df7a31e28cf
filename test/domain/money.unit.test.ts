import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ceilDiv, creditsSchema, creditsToMillicredits, MAX_CREDITS, millicreditsToCredits } from '../../domain/index.js';

describe('credits on the API edge (SPEC §1)', () => {
  it('converts an amount with at most three decimals to exact integer millicredits', () => {
    expect(creditsToMillicredits(3.602)).toBe(3602);
    expect(creditsToMillicredits(0.167)).toBe(167);
    expect(creditsToMillicredits(24)).toBe(24_000);
    expect(creditsToMillicredits(0.001)).toBe(1);
    expect(creditsToMillicredits(-12.5)).toBe(-12_500);
    expect(creditsToMillicredits(0)).toBe(0);
  });

  it('refuses an amount with more than three decimals instead of rounding it', () => {
    expect(creditsToMillicredits(0.1235)).toBeUndefined();
    expect(creditsToMillicredits(3.6025)).toBeUndefined();
    expect(creditsToMillicredits(0.0001)).toBeUndefined();
    expect(creditsToMillicredits(-1.0001)).toBeUndefined();
  });

  it('refuses what is not a finite number', () => {
    expect(creditsToMillicredits(Number.NaN)).toBeUndefined();
    expect(creditsToMillicredits(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it('refuses an amount too large to be held as exact integer millicredits', () => {
    expect(creditsToMillicredits(2 ** 53)).toBeUndefined();
    expect(creditsToMillicredits(1e16)).toBeUndefined();
    expect(creditsToMillicredits(-(2 ** 60))).toBeUndefined();
  });

  it('every amount of whole millicredits round-trips exactly, whatever its size', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (millicredits) => {
        const credits = millicreditsToCredits(millicredits);
        expect(creditsToMillicredits(credits)).toBe(millicredits);
        expect(creditsToMillicredits(Number(credits.toString()))).toBe(millicredits);
      }),
      { numRuns: 1000 },
    );
  });

  it('any fourth decimal that is not zero is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }).filter((n) => n % 10 !== 0), (tenthsOfMc) => {
        expect(creditsToMillicredits(Number(`${tenthsOfMc < 0 ? '-' : ''}${(Math.abs(tenthsOfMc) / 10_000).toFixed(4)}`))).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  describe('the zod schema for credits', () => {
    it('yields millicredits for a valid amount', () => {
      expect(creditsSchema.parse(3.602)).toBe(3602);
      expect(creditsSchema.parse(-5)).toBe(-5000);
    });

    it('fails with a message, not a rounded value, for more than three decimals', () => {
      const result = creditsSchema.safeParse(1.2345);
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((i) => i.message)).toContain('credits have at most 3 decimals');
    });

    it('fails beyond the largest amount accepted', () => {
      expect(creditsSchema.safeParse(MAX_CREDITS).success).toBe(true);
      expect(creditsSchema.safeParse(MAX_CREDITS + 1).success).toBe(false);
      expect(creditsSchema.safeParse(-(MAX_CREDITS + 1)).success).toBe(false);
    });
  });
});

describe('integer division rounding up', () => {
  it('rounds a remainder up and leaves an exact quotient alone', () => {
    expect(ceilDiv(3602n, 1000n)).toBe(4n);
    expect(ceilDiv(3000n, 1000n)).toBe(3n);
    expect(ceilDiv(0n, 1000n)).toBe(0n);
    expect(ceilDiv(-1500n, 1000n)).toBe(-1n);
  });

  it('is the least integer q with q × d ≥ n', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), (n, d) => {
        const q = ceilDiv(n, d);
        expect(q * d >= n).toBe(true);
        expect((q - 1n) * d < n).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a denominator that is not positive', () => {
    expect(() => ceilDiv(1n, 0n)).toThrow(RangeError);
  });
});
