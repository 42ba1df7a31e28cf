import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CATALOG,
  DomainError,
  InvalidUsageError,
  loadCatalog,
  MAX_QUANTITY,
  priceUsage,
  UnknownRateError,
  type UsageInput,
} from '../../domain/index.js';

const price = (usage: UsageInput): number => priceUsage(DEFAULT_CATALOG, usage).amount;

function refusal(usage: UsageInput): DomainError {
  try {
    priceUsage(DEFAULT_CATALOG, usage);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected the usage to be refused');
}

describe('the default catalog (SPEC §2)', () => {
  it('offers free with 100 credits, pro at $29 with 5,000, and custom unlimited at a negotiated price', () => {
    const { free, pro, custom } = DEFAULT_CATALOG.plans;
    expect(free).toMatchObject({ priceUsdCents: 0, monthlyCredits: 100_000, unlimited: false, chatbots: 1 });
    expect(pro).toMatchObject({ priceUsdCents: 2900, monthlyCredits: 5_000_000, unlimited: false, chatbots: 5 });
    expect(custom).toMatchObject({ priceUsdCents: null, unlimited: true, chatbots: null });
  });

  it('ranks free below pro below custom, so a move up is an upgrade', () => {
    const { free, pro, custom } = DEFAULT_CATALOG.plans;
    expect(free!.rank).toBeLessThan(pro!.rank);
    expect(pro!.rank).toBeLessThan(custom!.rank);
  });

  it('sells 1,000 credits for $10.00 and 5,000 credits for $45.00', () => {
    expect(DEFAULT_CATALOG.packs).toEqual({
      pack_1000: { credits: 1_000_000, priceUsdCents: 1000 },
      pack_5000: { credits: 5_000_000, priceUsdCents: 4500 },
    });
  });

  it('carries a version that every debit records', () => {
    expect(DEFAULT_CATALOG.version).toMatch(/\S/);
  });

  it('is data validated when loaded: a duplicate rate is refused with its path', () => {
    const data = structuredClone(DEFAULT_CATALOG);
    data.rates.push({ ...data.rates[0]! });
    expect(() => loadCatalog(data)).toThrow(/duplicate rate chat\/mini/);
  });

  it('is data validated when loaded: two plans may not share a rank', () => {
    const data = structuredClone(DEFAULT_CATALOG);
    data.plans['pro']!.rank = data.plans['free']!.rank;
    expect(() => loadCatalog(data)).toThrow(/plan ranks must differ/);
  });

  it('adding a model is a data change: a loaded catalog prices the new model', () => {
    const data = structuredClone(DEFAULT_CATALOG);
    data.version = 'with-turbo';
    data.rates.push({ feature: 'chat', variant: 'turbo', measure: 'tokens', millicredits: 1000, per: 1000 });
    const catalog = loadCatalog(data);
    expect(priceUsage(catalog, { feature: 'chat', model: 'turbo', inputTokens: 1500 }).amount).toBe(1500);
  });
});

describe('the charge for a usage record (SPEC §1, §2)', () => {
  it('chat/standard, 1,234 tokens in and 567 out, costs 3.602 credits', () => {
    expect(price({ feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 })).toBe(3602);
  });

  it('chat/mini, 333 tokens, costs 0.167 credits (166.5 mc rounded up)', () => {
    expect(price({ feature: 'chat', model: 'mini', inputTokens: 333 })).toBe(167);
  });

  it('image/hd × 3 costs 24 credits', () => {
    expect(price({ feature: 'image', quality: 'hd', units: 3 })).toBe(24_000);
  });

  it('an image without a unit count is one image', () => {
    expect(price({ feature: 'image', quality: 'standard' })).toBe(4000);
  });

  it('chat/advanced costs 10 credits per 1,000 tokens', () => {
    expect(price({ feature: 'chat', model: 'advanced', outputTokens: 1000 })).toBe(10_000);
  });

  it('a chatbot is charged at its model’s chat rate', () => {
    for (const model of ['mini', 'standard', 'advanced']) {
      expect(price({ feature: 'chatbot', model, inputTokens: 777, chatbotId: 'bot-1' })).toBe(price({ feature: 'chat', model, inputTokens: 777 }));
    }
  });

  it('records the rate it used, so the debit can show it', () => {
    expect(priceUsage(DEFAULT_CATALOG, { feature: 'chat', model: 'standard', inputTokens: 10 })).toMatchObject({
      quantity: 10,
      rate: { feature: 'chat', variant: 'standard', measure: 'tokens', millicredits: 2000, per: 1000 },
    });
  });

  it('rounds up once per record, on the total of input and output tokens (not per part)', () => {
    // 1 + 1 tokens of mini: 1 mc as one record; rounding each part up would have made it 2.
    expect(price({ feature: 'chat', model: 'mini', inputTokens: 1, outputTokens: 1 })).toBe(1);
  });

  it('is the least number of millicredits that covers tokens × rate, for any token count', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('mini', 'standard', 'advanced'),
        fc.nat({ max: MAX_QUANTITY / 2 }),
        fc.nat({ max: MAX_QUANTITY / 2 }),
        (model, inputTokens, outputTokens) => {
          const { amount, rate } = priceUsage(DEFAULT_CATALOG, { feature: 'chat', model, inputTokens, outputTokens });
          const exact = BigInt(inputTokens + outputTokens) * BigInt(rate.millicredits);
          expect(BigInt(amount) * BigInt(rate.per) >= exact).toBe(true);
          expect(BigInt(amount - 1) * BigInt(rate.per) < exact).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  describe('is refused with a typed error', () => {
    it('for an unknown feature', () => {
      const error = refusal({ feature: 'video', model: 'standard', inputTokens: 1 });
      expect(error).toBeInstanceOf(UnknownRateError);
      expect(error).toMatchObject({ code: 'unknown_rate', kind: 'validation', details: { feature: 'video', field: 'feature' } });
    });

    it('for an unknown model', () => {
      const error = refusal({ feature: 'chat', model: 'gigantic', inputTokens: 1 });
      expect(error).toMatchObject({ code: 'unknown_rate', details: { feature: 'chat', variant: 'gigantic', field: 'model' } });
    });

    it('for an unknown image quality', () => {
      const error = refusal({ feature: 'image', quality: 'ultra', units: 1 });
      expect(error).toMatchObject({ code: 'unknown_rate', details: { feature: 'image', variant: 'ultra', field: 'quality' } });
    });

    it('for token usage without a model', () => {
      expect(refusal({ feature: 'chat', inputTokens: 1 })).toMatchObject({ code: 'invalid_usage', details: { field: 'model' } });
    });

    it('for an image without a quality', () => {
      expect(refusal({ feature: 'image', units: 1 })).toMatchObject({ code: 'invalid_usage', details: { field: 'quality' } });
    });

    it('for token usage with no token counts', () => {
      expect(refusal({ feature: 'chat', model: 'mini' })).toMatchObject({ code: 'invalid_usage', details: { field: 'inputTokens' } });
    });

    it('for token usage that gives units, or an image that gives tokens', () => {
      expect(refusal({ feature: 'chat', model: 'mini', inputTokens: 1, units: 2 })).toBeInstanceOf(InvalidUsageError);
      expect(refusal({ feature: 'image', quality: 'hd', outputTokens: 5 })).toBeInstanceOf(InvalidUsageError);
    });

    it('for a negative token count, even when the total would be positive', () => {
      expect(refusal({ feature: 'chat', model: 'mini', inputTokens: -500, outputTokens: 1000 })).toMatchObject({
        code: 'invalid_usage',
        details: { field: 'inputTokens' },
      });
    });

    it('for a fractional token count, even when the total is whole', () => {
      expect(refusal({ feature: 'chat', model: 'mini', inputTokens: 0.5, outputTokens: 0.5 })).toMatchObject({
        code: 'invalid_usage',
        details: { field: 'inputTokens' },
      });
    });

    it('for a negative or fractional number of images', () => {
      expect(refusal({ feature: 'image', quality: 'hd', units: -1 })).toMatchObject({ code: 'invalid_usage', details: { field: 'units' } });
      expect(refusal({ feature: 'image', quality: 'hd', units: 1.5 })).toMatchObject({ code: 'invalid_usage', details: { field: 'units' } });
    });

    it('for a quantity beyond the largest one record may carry', () => {
      expect(refusal({ feature: 'chat', model: 'mini', inputTokens: MAX_QUANTITY, outputTokens: 1 })).toBeInstanceOf(InvalidUsageError);
    });
  });
});
