import { ceilDiv, type Millicredits } from '../money.js';
import { InvalidUsageError, UnknownRateError } from '../ledger/errors.js';
import type { UsageInput } from '../ledger/commands.js';
import type { Catalog, Rate } from './catalog.js';

export interface Charge {
  amount: Millicredits;
  quantity: number;
  rate: Rate;
}

/** Largest quantity one usage record may carry; keeps every product exact and far from overflow. */
export const MAX_QUANTITY = 1_000_000_000;

function requireQuantity(quantity: number, field: string): void {
  if (!Number.isSafeInteger(quantity) || quantity < 0 || quantity > MAX_QUANTITY) {
    throw new InvalidUsageError(`The quantity must be a whole number from 0 to ${MAX_QUANTITY}.`, field);
  }
}

/**
 * Prices one usage record: `ceil(quantity × rate / per)` millicredits, rounded up once per record.
 * Token features charge on input + output tokens and pick their rate by `model`; unit features (images) by
 * `quality`, on `units` (default 1).
 */
export function priceUsage(catalog: Catalog, usage: UsageInput): Charge {
  const ratesOfFeature = catalog.rates.filter((r) => r.feature === usage.feature);
  const first = ratesOfFeature[0];
  if (first === undefined) throw new UnknownRateError(usage.feature, undefined, 'feature');

  const byTokens = first.measure === 'tokens';
  const variantField = byTokens ? 'model' : 'quality';
  const variant = byTokens ? usage.model : usage.quality;
  if (variant === undefined) throw new InvalidUsageError(`"${usage.feature}" usage needs a ${variantField}.`, variantField);
  const rate = ratesOfFeature.find((r) => r.variant === variant);
  if (rate === undefined) throw new UnknownRateError(usage.feature, variant, variantField);

  let quantity: number;
  if (byTokens) {
    if (usage.units !== undefined) throw new InvalidUsageError(`"${usage.feature}" is charged on tokens, not units.`, 'units');
    if (usage.inputTokens === undefined && usage.outputTokens === undefined) {
      throw new InvalidUsageError(`"${usage.feature}" usage needs inputTokens or outputTokens.`, 'inputTokens');
    }
    // Each part is checked on its own: a negative or fractional part could otherwise hide in a whole total.
    requireQuantity(usage.inputTokens ?? 0, 'inputTokens');
    requireQuantity(usage.outputTokens ?? 0, 'outputTokens');
    quantity = (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
  } else {
    if (usage.inputTokens !== undefined || usage.outputTokens !== undefined) {
      throw new InvalidUsageError(`"${usage.feature}" is charged on units, not tokens.`, 'inputTokens');
    }
    quantity = usage.units ?? 1;
  }
  requireQuantity(quantity, byTokens ? 'inputTokens' : 'units');
  const amount = Number(ceilDiv(BigInt(quantity) * BigInt(rate.millicredits), BigInt(rate.per)));
  return { amount, quantity, rate };
}
