import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';

/**
 * Fault injection at the DynamoDB client every handler shares (functions/lib/dynamo.ts): a middleware that, for
 * chosen requests, fails them the way the network and DynamoDB can.
 * - `drop-before`: the request never reaches DynamoDB (a timeout before sending): nothing is written.
 * - `drop-after`: the request is sent and applied, then the answer is lost: the write happened, the handler dies
 *   before it can answer (the caller sees a 5xx, or nothing).
 * - `cancel`: DynamoDB cancels the transaction as if another writer touched the same item (TransactionConflict),
 *   without sending it: the command path must decide again.
 */
export type FaultKind = 'drop-before' | 'drop-after' | 'cancel';

export interface FaultPlan {
  /** Which command this plan intercepts (`TransactWriteItemsCommand`, …). */
  command: string;
  /** Decides per request whether to inject, and which fault. */
  choose: (input: Record<string, unknown>) => FaultKind | undefined;
}

export interface FaultCounts {
  'drop-before': number;
  'drop-after': number;
  cancel: number;
}

export class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
}

interface StackOwner {
  middlewareStack: { add: (mw: any, options: any) => void; remove: (name: string) => boolean };
}

const NAME = 'reliabilityFaults';

/** Attaches a fault plan; returns the counts of faults injected and a function that removes it. */
export function injectFaults(client: StackOwner, plans: readonly FaultPlan[]): { counts: FaultCounts; remove: () => void } {
  const counts: FaultCounts = { 'drop-before': 0, 'drop-after': 0, cancel: 0 };
  client.middlewareStack.add(
    (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        const plan = plans.find((p) => p.command === context.commandName);
        const fault = plan?.choose(args.input);
        if (fault === undefined) return next(args);
        counts[fault] += 1;
        if (fault === 'drop-before') throw new InjectedFault(`${context.commandName} dropped before sending`);
        if (fault === 'cancel') {
          const items = (args.input['TransactItems'] as unknown[] | undefined) ?? [];
          throw new TransactionCanceledException({
            $metadata: {},
            message: 'Transaction cancelled (injected)',
            CancellationReasons: items.map(() => ({ Code: 'TransactionConflict', Message: 'injected conflict' })),
          });
        }
        await next(args);
        throw new InjectedFault(`${context.commandName} applied, answer lost`);
      },
    { step: 'initialize', name: NAME, override: true },
  );
  return { counts, remove: () => void client.middlewareStack.remove(NAME) };
}
