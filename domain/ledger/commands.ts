import type { Millicredits } from '../money.js';
import type { Contact } from './events.js';

/** What a product service reports for one usage record, before it is priced. */
export interface UsageInput {
  feature: string;
  model?: string;
  quality?: string;
  inputTokens?: number;
  outputTokens?: number;
  units?: number;
  chatbotId?: string;
  /** When the usage happened; defaults to the command's `now`. */
  occurredAt?: Date;
}

/** Every command names its account and carries `now`: the domain never reads a clock. */
interface Base {
  accountId: string;
  now: Date;
}

export type OpenAccount = Base & { type: 'OpenAccount'; plan: string; contact?: Contact; cycleAnchor?: Date };
export type RecordUsage = Base & { type: 'RecordUsage'; usage: UsageInput };
export type PurchasePack = Base & { type: 'PurchasePack'; pack: string; paymentRef: string };
export type ChangePlan = Base & { type: 'ChangePlan'; plan: string };
export type RollOverCycles = Base & { type: 'RollOverCycles' };
/** A signed amount: positive credits a lot that never expires, negative debits like usage. */
export type AdjustCredits = Base & { type: 'AdjustCredits'; amount: Millicredits; reason: string };
/** Replaces the contact channels (PUT): a channel left out is removed. */
export type UpdateContact = Base & { type: 'UpdateContact'; contact: Contact };

export type Command = OpenAccount | RecordUsage | PurchasePack | ChangePlan | RollOverCycles | AdjustCredits | UpdateContact;
export type CommandType = Command['type'];
