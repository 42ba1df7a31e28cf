import * as z from 'zod';

/**
 * The catalog is versioned data, validated when it is loaded: adding a model or a pack is a data change.
 * Amounts are millicredits; prices are US cents.
 */
const planSchema = z.object({
  name: z.string(),
  priceUsdCents: z.number().int().nonnegative().nullable(), // null: negotiated
  monthlyCredits: z.number().int().nonnegative(), // millicredits per cycle; ignored when unlimited
  unlimited: z.boolean(),
  chatbots: z.number().int().positive().nullable(), // null: unlimited
  extras: z.array(z.string()),
  /** Order of plans for upgrades and downgrades: a higher rank is an upgrade. */
  rank: z.number().int(),
});

const packSchema = z.object({
  credits: z.number().int().positive(), // millicredits
  priceUsdCents: z.number().int().positive(),
});

const rateSchema = z.object({
  feature: z.string().min(1),
  /** The model (token features) or quality (unit features) this rate applies to. */
  variant: z.string().min(1),
  measure: z.enum(['tokens', 'units']),
  /** Millicredits charged per `per` tokens or units. */
  millicredits: z.number().int().positive(),
  per: z.number().int().positive(),
});

export const catalogSchema = z
  .object({
    version: z.string().min(1),
    plans: z.record(z.string(), planSchema),
    packs: z.record(z.string(), packSchema),
    rates: z.array(rateSchema).min(1),
  })
  .superRefine((catalog, ctx) => {
    const seen = new Set<string>();
    catalog.rates.forEach((rate, i) => {
      const key = `${rate.feature}/${rate.variant}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['rates', i], message: `duplicate rate ${key}` });
      seen.add(key);
    });
    const ranks = Object.values(catalog.plans).map((p) => p.rank);
    if (new Set(ranks).size !== ranks.length) ctx.addIssue({ code: 'custom', path: ['plans'], message: 'plan ranks must differ' });
  });

export type Catalog = z.infer<typeof catalogSchema>;
export type Plan = Catalog['plans'][string];
export type Pack = Catalog['packs'][string];
export type Rate = Catalog['rates'][number];

const tokenRates = (feature: string): Rate[] => [
  { feature, variant: 'mini', measure: 'tokens', millicredits: 500, per: 1000 },
  { feature, variant: 'standard', measure: 'tokens', millicredits: 2000, per: 1000 },
  { feature, variant: 'advanced', measure: 'tokens', millicredits: 10_000, per: 1000 },
];

/** SPEC §2 defaults. */
export const DEFAULT_CATALOG: Catalog = catalogSchema.parse({
  version: '2026-11-01',
  plans: {
    free: { name: 'Free', priceUsdCents: 0, monthlyCredits: 100_000, unlimited: false, chatbots: 1, extras: ['basic support'], rank: 0 },
    pro: {
      name: 'Pro',
      priceUsdCents: 2900,
      monthlyCredits: 5_000_000,
      unlimited: false,
      chatbots: 5,
      extras: ['priority support', 'advanced analytics', 'API access'],
      rank: 1,
    },
    custom: {
      name: 'Custom',
      priceUsdCents: null,
      monthlyCredits: 0,
      unlimited: true,
      chatbots: null,
      extras: ['dedicated support', 'SLA', 'custom integrations'],
      rank: 2,
    },
  },
  packs: {
    pack_1000: { credits: 1_000_000, priceUsdCents: 1000 },
    pack_5000: { credits: 5_000_000, priceUsdCents: 4500 },
  },
  rates: [
    ...tokenRates('chat'),
    ...tokenRates('chatbot'),
    { feature: 'image', variant: 'standard', measure: 'units', millicredits: 4000, per: 1 },
    { feature: 'image', variant: 'hd', measure: 'units', millicredits: 8000, per: 1 },
  ],
});

/** Validates catalog data (for example loaded from a file at start-up); throws a zod error naming the bad paths. */
export function loadCatalog(data: unknown): Catalog {
  return catalogSchema.parse(data);
}
