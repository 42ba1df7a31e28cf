import * as z from 'zod';

/**
 * Every event of an account's ledger. Amounts are integer millicredits; times are ISO-8601 UTC strings.
 * The same schemas parse events read back from the store and from stream images.
 */
const mc = z.number().int().refine(Number.isSafeInteger, 'millicredits must be a safe integer');
const nonNegativeMc = mc.refine((n) => n >= 0, 'millicredits must not be negative');
const instant = z.iso.datetime({ offset: false });

export const E164 = /^\+[1-9]\d{6,14}$/;

export const contactSchema = z.object({
  email: z.email().max(254).optional(),
  phone: z.string().regex(E164, 'phone must be E.164, like +14155550123').optional(),
});
export type Contact = z.infer<typeof contactSchema>;

export const THRESHOLDS = [20, 5] as const;
export type Threshold = (typeof THRESHOLDS)[number];
const thresholdSchema = z.union([z.literal(20), z.literal(5)]);

export const accountOpenedData = z.object({
  plan: z.string(),
  cycleAnchor: instant,
  /** Whether the anchor was asked for, or defaulted to the opening moment (so a repeated open compares right). */
  anchorRequested: z.boolean(),
  contact: contactSchema,
  catalogVersion: z.string(),
});

export const grantedData = z.object({
  cycle: z.number().int().nonnegative(),
  plan: z.string(),
  credits: nonNegativeMc,
  unlimited: z.boolean(),
  cycleStart: instant,
  cycleEnd: instant,
});

export const lotDrawSchema = z.object({ lotId: z.string(), amount: nonNegativeMc });

export const splitSchema = z.object({
  monthly: nonNegativeMc,
  purchased: nonNegativeMc,
  /** Which purchased lots paid, oldest first (for revenue recognition per lot). */
  lots: z.array(lotDrawSchema),
});
export type Split = z.infer<typeof splitSchema>;

export const rateUsedSchema = z.object({
  feature: z.string(),
  variant: z.string(),
  measure: z.enum(['tokens', 'units']),
  millicredits: z.number().int().positive(),
  per: z.number().int().positive(),
});

export const usageRecordSchema = z.object({
  feature: z.string(),
  model: z.string().optional(),
  quality: z.string().optional(),
  inputTokens: z.number().int().nonnegative().optional(),
  outputTokens: z.number().int().nonnegative().optional(),
  units: z.number().int().nonnegative().optional(),
  chatbotId: z.string().optional(),
  occurredAt: instant,
  /** Tokens (input + output) or units the charge was computed on. */
  quantity: z.number().int().nonnegative(),
  rate: rateUsedSchema,
  catalogVersion: z.string(),
});
export type UsageRecord = z.infer<typeof usageRecordSchema>;

export const debitedData = z.object({
  reason: z.enum(['usage', 'adjustment']),
  amount: nonNegativeMc,
  split: splitSchema,
  /** Charged on an unlimited plan: metered, drawn from no bucket. */
  unlimited: z.boolean(),
  cycle: z.number().int().nonnegative(),
  usage: usageRecordSchema.optional(),
  note: z.string().optional(),
});

export const creditedData = z.object({
  source: z.enum(['purchase', 'adjustment']),
  lotId: z.string(),
  amount: nonNegativeMc,
  /** What the customer paid for this lot; 0 for adjustments. Deferred revenue is valued per lot from it. */
  priceUsdCents: z.number().int().nonnegative(),
  pack: z.string().optional(),
  paymentRef: z.string().optional(),
  note: z.string().optional(),
});

export const expiredData = z.object({
  cycle: z.number().int().nonnegative(),
  amount: nonNegativeMc,
});

export const planChangedData = z.object({
  from: z.string(),
  to: z.string(),
  /** applied: in force now · scheduled: takes effect at `effectiveAt` (next cycle start) · cancelled: a scheduled change withdrawn. */
  status: z.enum(['applied', 'scheduled', 'cancelled']),
  effectiveAt: instant,
  /** An upgrade starts a new cycle at `effectiveAt`: later cycles are counted from there. */
  startsNewCycle: z.boolean(),
});

export const thresholdCrossedData = z.object({
  /** The lowest threshold crossed: the one the warning speaks of. */
  threshold: thresholdSchema,
  /** Every threshold this debit crossed (both when one debit crosses 20% and 5%). */
  crossed: z.array(thresholdSchema).min(1),
  cycle: z.number().int().nonnegative(),
  balance: nonNegativeMc,
  allocation: nonNegativeMc,
  cycleEnd: instant,
});

export const contactUpdatedData = z.object({ contact: contactSchema });

const envelope = {
  accountId: z.string().min(1),
  version: z.number().int().positive(),
  at: instant,
};

export const ledgerEventSchema = z.discriminatedUnion('type', [
  z.object({ ...envelope, type: z.literal('AccountOpened'), data: accountOpenedData }),
  z.object({ ...envelope, type: z.literal('Granted'), data: grantedData }),
  z.object({ ...envelope, type: z.literal('Debited'), data: debitedData }),
  z.object({ ...envelope, type: z.literal('Credited'), data: creditedData }),
  z.object({ ...envelope, type: z.literal('Expired'), data: expiredData }),
  z.object({ ...envelope, type: z.literal('PlanChanged'), data: planChangedData }),
  z.object({ ...envelope, type: z.literal('ThresholdCrossed'), data: thresholdCrossedData }),
  z.object({ ...envelope, type: z.literal('ContactUpdated'), data: contactUpdatedData }),
]);

export type LedgerEvent = z.infer<typeof ledgerEventSchema>;
export type LedgerEventType = LedgerEvent['type'];
export type EventOf<T extends LedgerEventType> = Extract<LedgerEvent, { type: T }>;
export type EventData<T extends LedgerEventType> = EventOf<T>['data'];

export function parseLedgerEvent(input: unknown): LedgerEvent {
  return ledgerEventSchema.parse(input);
}
