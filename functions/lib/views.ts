import {
  availableBalance,
  millicreditsToCredits,
  purchasedRemaining,
  type AccountState,
  type Catalog,
  type LedgerEvent,
  type Split,
} from '../../domain/index.js';

/**
 * Response shapes (SPEC §9). Every amount leaves the API in credits (millicredits / 1000, at most three decimals);
 * times are ISO-8601 UTC. Views are pure functions of the domain state, so a stored (replayed) response is the
 * same JSON as the first one.
 */
const credits = millicreditsToCredits;
const usd = (cents: number): number => cents / 100;

export interface BalanceView {
  accountId: string;
  plan: string;
  unlimited: boolean;
  monthly: { allocation: number; remaining: number };
  purchased: { remaining: number };
  total: number;
  cycle: { number: number; start: string; end: string };
  /** The last ledger version the balance includes. */
  version: number;
}

/**
 * The balance of a state. `version` defaults to the state's; a read that folds due rollovers in memory passes the
 * recorded version, since those events do not exist in the ledger yet.
 */
export function balanceView(state: AccountState, version: number = state.version): BalanceView {
  return {
    accountId: state.accountId,
    plan: state.plan,
    unlimited: state.unlimited,
    monthly: { allocation: credits(state.monthly.allocation), remaining: credits(state.monthly.remaining) },
    purchased: { remaining: credits(purchasedRemaining(state)) },
    total: credits(availableBalance(state)),
    cycle: { number: state.cycle, start: state.cycleStart, end: state.cycleEnd },
    version,
  };
}

export interface AccountView {
  accountId: string;
  plan: string;
  /** A downgrade waiting for the next cycle start, or null. */
  pendingPlan: { plan: string; effectiveAt: string } | null;
  entitlements: {
    monthlyCredits: number | null;
    unlimited: boolean;
    /** null: unlimited. */
    chatbots: number | null;
    extras: string[];
    /** null: negotiated. */
    priceUsd: number | null;
  };
  contact: { email?: string; phone?: string };
  cycle: { number: number; start: string; end: string; anchor: string };
  balance: BalanceView;
  version: number;
}

export function accountView(state: AccountState, catalog: Catalog, version: number = state.version): AccountView {
  const plan = catalog.plans[state.plan];
  return {
    accountId: state.accountId,
    plan: state.plan,
    pendingPlan: state.pendingPlan === null ? null : { plan: state.pendingPlan, effectiveAt: state.cycleEnd },
    entitlements: {
      monthlyCredits: plan === undefined || plan.unlimited ? null : credits(plan.monthlyCredits),
      unlimited: plan?.unlimited ?? state.unlimited,
      chatbots: plan?.chatbots ?? null,
      extras: plan?.extras ?? [],
      priceUsd: plan?.priceUsdCents === null || plan === undefined ? null : usd(plan.priceUsdCents),
    },
    contact: { ...state.contact },
    // The anchor later cycles count from: the opening's, or the last upgrade's (an upgrade starts a new cycle calendar).
    cycle: { number: state.cycle, start: state.cycleStart, end: state.cycleEnd, anchor: state.anchor },
    balance: balanceView(state, version),
    version,
  };
}

export const splitView = (split: Split): { monthly: number; purchased: number } => ({
  monthly: credits(split.monthly),
  purchased: credits(split.purchased),
});

/** The 201 body of a usage record (POST /v1/usage, and each result of a batch). */
export interface UsageChargeView {
  accountId: string;
  /** The version of the Debited event that recorded this usage. */
  version: number;
  charged: number;
  split: { monthly: number; purchased: number };
  unlimited: boolean;
  /** Thresholds (percent of the monthly allocation) this usage crossed: a warning goes out for the lowest. */
  thresholdsCrossed: number[];
  balance: BalanceView;
}

export function usageChargeView(events: readonly LedgerEvent[], state: AccountState): UsageChargeView {
  const debit = events.find((e): e is Extract<LedgerEvent, { type: 'Debited' }> => e.type === 'Debited' && e.data.reason === 'usage');
  if (debit === undefined) throw new Error('a recorded usage has a Debited event');
  const crossed = events.find((e): e is Extract<LedgerEvent, { type: 'ThresholdCrossed' }> => e.type === 'ThresholdCrossed');
  return {
    accountId: state.accountId,
    version: debit.version,
    charged: credits(debit.data.amount),
    split: splitView(debit.data.split),
    unlimited: debit.data.unlimited,
    thresholdsCrossed: crossed === undefined ? [] : [...crossed.data.crossed],
    balance: balanceView(state),
  };
}

/**
 * One ledger event as the API shows it: the stored data, with every millicredit amount turned into credits
 * (same field names, except a rate's `millicredits` which becomes `credits`), so the ledger reads in the same
 * unit as balances and charges.
 */
export interface LedgerItemView {
  version: number;
  type: LedgerEvent['type'];
  at: string;
  data: Record<string, unknown>;
}

export function ledgerItemView(event: LedgerEvent): LedgerItemView {
  return { version: event.version, type: event.type, at: event.at, data: ledgerDataView(event) };
}

function ledgerDataView(event: LedgerEvent): Record<string, unknown> {
  switch (event.type) {
    case 'AccountOpened':
    case 'PlanChanged':
    case 'ContactUpdated':
      return { ...event.data };
    case 'Granted':
      return { ...event.data, credits: credits(event.data.credits) };
    case 'Expired':
    case 'Credited':
      return { ...event.data, amount: credits(event.data.amount) };
    case 'ThresholdCrossed':
      return { ...event.data, balance: credits(event.data.balance), allocation: credits(event.data.allocation) };
    case 'Debited': {
      const { usage, split } = event.data;
      const data: Record<string, unknown> = {
        ...event.data,
        amount: credits(event.data.amount),
        split: { ...splitView(split), lots: split.lots.map((lot) => ({ lotId: lot.lotId, amount: credits(lot.amount) })) },
      };
      if (usage !== undefined) {
        const { millicredits, ...rate } = usage.rate;
        data['usage'] = { ...usage, rate: { ...rate, credits: credits(millicredits) } };
      }
      return data;
    }
  }
}

/** GET /v1/catalog: plans, packs and rates in credits and US dollars. */
export function catalogView(catalog: Catalog) {
  return {
    version: catalog.version,
    plans: Object.entries(catalog.plans).map(([id, plan]) => ({
      id,
      name: plan.name,
      priceUsd: plan.priceUsdCents === null ? null : usd(plan.priceUsdCents),
      monthlyCredits: plan.unlimited ? null : credits(plan.monthlyCredits),
      unlimited: plan.unlimited,
      chatbots: plan.chatbots,
      extras: [...plan.extras],
    })),
    packs: Object.entries(catalog.packs).map(([id, pack]) => ({ id, credits: credits(pack.credits), priceUsd: usd(pack.priceUsdCents) })),
    rates: catalog.rates.map((rate) => ({
      feature: rate.feature,
      variant: rate.variant,
      measure: rate.measure,
      credits: credits(rate.millicredits),
      per: rate.per,
    })),
  };
}

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

export const errorBody = (code: string, message: string, details: Record<string, unknown> = {}): ErrorBody => ({
  error: { code, message, details },
});

/**
 * The JSON text of response bodies whose text was already made, by body object. A command's response is turned
 * into text once: its idempotency record keeps that text (idempotency.ts), and the HTTP edge sends the same text
 * (http.ts `jsonResult`) rather than serializing the body a second time; a replay sends the stored text itself.
 * Bodies are never changed once built, so a body's text stays its text.
 */
const jsonTexts = new WeakMap<object, string>();

/** `JSON.stringify(body)`, made once per body object. */
export function jsonTextOf(body: unknown): string {
  if (typeof body !== 'object' || body === null) return JSON.stringify(body);
  let text = jsonTexts.get(body);
  if (text === undefined) {
    text = JSON.stringify(body);
    jsonTexts.set(body, text);
  }
  return text;
}

/** The text already made for this body by `jsonTextOf` or `parsedJsonText`, if any. */
export function knownJsonText(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null ? jsonTexts.get(body) : undefined;
}

/**
 * `JSON.parse(text)`, remembering `text` as the parsed value's text. Only for text that JSON.stringify made (a
 * stored response): serializing what it parses to gives that same text back, so the text can stand for it.
 */
export function parsedJsonText(text: string): unknown {
  const value = JSON.parse(text) as unknown;
  if (typeof value === 'object' && value !== null) jsonTexts.set(value, text);
  return value;
}
