import type { Command } from '../../../domain/index.js';

/**
 * A reproducible random workload over many accounts and several billing cycles: usage of every feature
 * (including chatbot ids with commas, quotes and newlines), pack purchases, adjustments both ways, upgrades and
 * downgrades, contact changes and rollovers. Some commands are refused (insufficient credits, packs on an
 * unlimited plan); callers skip those, as a real client would.
 */
export interface WorkloadOptions {
  seed: number;
  accounts: number;
  commands: number;
  /** Simulated span; the default covers about four monthly cycles. */
  start?: Date;
  spanDays?: number;
}

/** Mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function randomSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const CHATBOT_IDS = ['bot-1', 'support, EU', 'say "hi"', 'multi\nline', 'plain'];

export function randomWorkload(options: WorkloadOptions): Command[] {
  const random = randomSource(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
  const start = (options.start ?? new Date('2026-10-03T08:00:00.000Z')).getTime();
  const spanMs = (options.spanDays ?? 120) * 86_400_000;
  const accounts = Array.from({ length: options.accounts }, (_, i) => `acct-${String(i).padStart(3, '0')}`);
  const commands: Command[] = [];
  // Accounts open in the first tenth of the span, then commands follow in time order.
  accounts.forEach((accountId, i) => {
    const now = new Date(start + Math.floor((i / accounts.length) * spanMs * 0.1));
    commands.push({ type: 'OpenAccount', accountId, now, plan: pick(['free', 'free', 'pro', 'custom']) });
  });
  const times = Array.from({ length: options.commands }, () => start + spanMs * 0.1 + Math.floor(random() * spanMs * 0.9)).sort((a, b) => a - b);
  let paymentRef = 0;
  for (const t of times) {
    const accountId = pick(accounts);
    const now = new Date(t);
    const roll = random();
    if (roll < 0.6) {
      // Usage, sometimes reported a few hours late (it lands on the day it occurred).
      const occurredAt = random() < 0.2 ? new Date(t - int(1, 20) * 3_600_000) : undefined;
      const kind = random();
      const usage =
        kind < 0.45
          ? { feature: 'chat', model: pick(['mini', 'standard', 'advanced']), inputTokens: int(0, 4000), outputTokens: int(1, 2000) }
          : kind < 0.75
            ? { feature: 'chatbot', model: pick(['mini', 'standard']), inputTokens: int(1, 3000), outputTokens: int(0, 900), chatbotId: pick(CHATBOT_IDS) }
            : { feature: 'image', quality: pick(['standard', 'hd']), units: int(1, 4) };
      commands.push({ type: 'RecordUsage', accountId, now, usage: { ...usage, ...(occurredAt === undefined ? {} : { occurredAt }) } });
    } else if (roll < 0.72) {
      paymentRef += 1;
      commands.push({ type: 'PurchasePack', accountId, now, pack: pick(['pack_1000', 'pack_5000']), paymentRef: `pay-${paymentRef}` });
    } else if (roll < 0.8) {
      const credits = int(1, 400) * (random() < 0.6 ? 1 : -1);
      commands.push({ type: 'AdjustCredits', accountId, now, amount: credits * 1000 + int(0, 999) * Math.sign(credits), reason: 'support' });
    } else if (roll < 0.86) {
      commands.push({ type: 'ChangePlan', accountId, now, plan: pick(['free', 'pro', 'custom']) });
    } else if (roll < 0.9) {
      commands.push({ type: 'UpdateContact', accountId, now, contact: random() < 0.5 ? { email: `${accountId}@example.test` } : {} });
    } else {
      commands.push({ type: 'RollOverCycles', accountId, now });
    }
  }
  return commands;
}
