import { expect } from 'vitest';
import {
  DEFAULT_CATALOG,
  DomainError,
  decide,
  fold,
  ledgerEventSchema,
  type AccountState,
  type Catalog,
  type Command,
  type EventData,
  type LedgerEvent,
  type LedgerEventType,
} from '../../domain/index.js';

/**
 * Decider specifications in the emmett style:
 *
 *   given(history).when(command).then([{ type: 'Debited', data: { amount: 3602 } }])
 *   given(history).when(command).thenThrows(InsufficientCreditsError, { required: 104, available: 100 })
 *   given(history).when(command).thenNothing()
 *
 * `then` expects the same number of events, in the same order, of the same types; every field an expected
 * event lists must equal the actual one (fields left out are not compared). On top of what the test lists, the
 * helper always checks that the new events carry the account id, continue the versions without a gap and parse
 * with the ledger's zod schema. The state handed to `decide` is deep-frozen, so a decider that mutates its
 * input fails here instead of corrupting a cached head later.
 */

type DeepPartial<T> = T extends ReadonlyArray<infer U>
  ? ReadonlyArray<DeepPartial<U>>
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export type ExpectedEvent = {
  [T in LedgerEventType]: { type: T; at?: string; data?: DeepPartial<EventData<T>> };
}[LedgerEventType];

export interface Outcome {
  /** The events appended and the state they lead to, for further assertions. */
  events: LedgerEvent[];
  state: AccountState;
}

type DomainErrorClass = abstract new (...args: never[]) => DomainError;

export interface WhenStep {
  then(expected: ReadonlyArray<ExpectedEvent>): Outcome;
  /** The command is accepted and appends nothing (an idempotent repeat, a no-op). */
  thenNothing(): Outcome;
  /** The command is refused with this DomainError (class or stable code); `details`, when given, must equal exactly. */
  thenThrows(expected: DomainErrorClass | string, details?: Record<string, unknown>): DomainError;
}

export interface GivenStep {
  when(command: Command): WhenStep;
  /** The state folded from the history, for tests that assert on it directly. */
  readonly state: AccountState;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

export function given(history: ReadonlyArray<LedgerEvent>, options: { catalog?: Catalog } = {}): GivenStep {
  const catalog = options.catalog ?? DEFAULT_CATALOG;
  const accountId = history[0]?.accountId;
  const foldHistory = (id: string): AccountState => deepFreeze(fold(id, structuredClone(history)));

  return {
    get state() {
      return foldHistory(accountId ?? 'unknown');
    },
    when(command: Command): WhenStep {
      const before = foldHistory(accountId ?? command.accountId);
      const run = (): { events: LedgerEvent[] } | { error: unknown } => {
        try {
          return { events: decide(command, before, catalog) };
        } catch (error) {
          return { error };
        }
      };
      const result = run();

      const accepted = (): LedgerEvent[] => {
        if ('error' in result) throw new Error(`expected the command to be accepted, but it was refused: ${String(result.error)}`);
        result.events.forEach((event, i) => {
          expect(event.accountId, 'every new event names the account').toBe(command.accountId);
          expect(event.version, 'versions continue without a gap').toBe(before.version + i + 1);
          expect(ledgerEventSchema.safeParse(event).error, `event ${event.type} parses with the ledger schema`).toBeUndefined();
        });
        return result.events;
      };
      const outcome = (events: LedgerEvent[]): Outcome => ({ events, state: fold(command.accountId, events, before) });

      return {
        then(expected) {
          const events = accepted();
          expect(events.map((e) => e.type), 'event types, in order').toEqual(expected.map((e) => e.type));
          expect(events).toMatchObject(expected);
          return outcome(events);
        },
        thenNothing() {
          const events = accepted();
          expect(events, 'nothing is appended').toEqual([]);
          return outcome(events);
        },
        thenThrows(expectedError, details) {
          if (!('error' in result)) {
            throw new Error(`expected the command to be refused, but it appended ${JSON.stringify(result.events.map((e) => e.type))}`);
          }
          const error = result.error;
          expect(error).toBeInstanceOf(DomainError);
          const domainError = error as DomainError;
          if (typeof expectedError === 'string') expect(domainError.code).toBe(expectedError);
          else expect(domainError).toBeInstanceOf(expectedError);
          if (details !== undefined) expect(domainError.details).toEqual(details);
          return domainError;
        },
      };
    },
  };
}
