import * as z from 'zod';

/**
 * Amounts are integer millicredits (1 credit = 1,000 mc). No floating point touches a stored amount:
 * the only float is the JSON number on the API edge, converted here exactly or refused.
 */
export type Millicredits = number;

export const MILLICREDITS_PER_CREDIT = 1000;

/** Largest amount accepted on the API edge: a billion credits keeps every sum far below 2^53 mc. */
export const MAX_CREDITS = 1_000_000_000;

/**
 * Converts a JSON credits number to millicredits, or returns undefined when it has more than three decimals.
 * `mc / 1000` is the double nearest to the decimal with three places, so it equals the parsed input exactly
 * when, and only when, the input had at most three decimals. Beyond 2^53 mc the test proves nothing (the
 * decimals were lost when the number was parsed), so such amounts are refused rather than stored inexactly.
 */
export function creditsToMillicredits(credits: number): Millicredits | undefined {
  if (!Number.isFinite(credits)) return undefined;
  const mc = Math.round(credits * MILLICREDITS_PER_CREDIT);
  if (!Number.isSafeInteger(mc)) return undefined;
  return mc / MILLICREDITS_PER_CREDIT === credits ? mc : undefined;
}

/** Millicredits back to a JSON credits number (at most three decimals, exactly representable as text). */
export function millicreditsToCredits(mc: Millicredits): number {
  return mc / MILLICREDITS_PER_CREDIT;
}

/** A zod schema for credits on the API edge that yields millicredits; more than three decimals is an error. */
export const creditsSchema = z
  .number()
  .refine((n) => creditsToMillicredits(n) !== undefined, { message: 'credits have at most 3 decimals' })
  .refine((n) => Math.abs(n) <= MAX_CREDITS, { message: `credits are at most ${MAX_CREDITS} in magnitude` })
  .transform((n) => creditsToMillicredits(n) as Millicredits);

/** Integer division rounding up, exact for any safe integers (uses bigint so the product cannot lose bits). */
export function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  if (numerator <= 0n) return -(-numerator / denominator);
  return (numerator + denominator - 1n) / denominator;
}

export function isMillicredits(n: number): n is Millicredits {
  return Number.isSafeInteger(n);
}
