import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { LedgerEvent } from '../../domain/index.js';
import { projectEvent, usageDayOf, type AccountProjection, type UsageDayView } from '../../domain/projections/index.js';
import { readEvents } from '../lib/event-store.js';
import { DynamoProjectionStore, type ProjectionStore } from '../lib/projection-store.js';
import { parseLedgerEventRecord } from '../lib/stream-records.js';

/**
 * The projection consumer of the ledger stream: balances, usage and finance (domain/projections), with exactly
 * once effect although DynamoDB Streams deliver at least once and order records per item only (every event is
 * its own item, so an account's events may arrive out of order across shards and batches).
 *
 * Per record, in order (`processInParallel: false`):
 * 1. parse the NewImage with the domain's zod schema; a record that does not parse fails alone (a poison record
 *    is reported in `batchItemFailures`; the mapping retries it, then sends it to the dead-letter queue);
 * 2. read the account's projection cursor (`appliedVersion`, a consistent read):
 *    - v ≤ applied: a duplicate, skipped;
 *    - v > applied + 1: a gap; the missing events applied + 1 … v − 1 are read from the ledger (consistent query)
 *      and applied first, in order;
 * 3. apply each event in its own TransactWriteItems guarded by `appliedVersion = v − 1`: the views and the cursor
 *    move together or not at all. When the guard fails, someone else (a concurrent duplicate, a retry) applied it:
 *    reload the cursor and look again.
 */

const logger = new Logger({ serviceName: 'credits-ledger' });

/** Reloads of the cursor after a guarded write lost to another writer, before the record is reported failed. */
const MAX_CURSOR_RELOADS = 5;

/** The gap could not be filled from the ledger (an event is missing): the record fails and is retried. */
export class ProjectionGapError extends Error {
  override readonly name = 'ProjectionGapError';
}

export interface ProjectLedgerDependencies {
  store: ProjectionStore;
  /** Consistent read of an account's events `from..to` (inclusive), in version order. */
  readEvents: (accountId: string, fromVersion: number, toVersion: number) => Promise<LedgerEvent[]>;
}

export type ProjectionOutcome =
  | { status: 'duplicate'; accountId: string; version: number }
  | { status: 'applied'; accountId: string; version: number; /** Events applied from the ledger to fill a gap first. */ filled: number };

/**
 * Applies ledger events to the projections. It remembers, for one invocation, the cursors and usage days it has
 * read or written, so a batch costs one read per account instead of one per record; a stale memory is harmless,
 * since every write is guarded by the cursor and a failed guard drops the memory of that account.
 */
export class LedgerProjector {
  private readonly accounts = new Map<string, AccountProjection | null>();
  private readonly days = new Map<string, UsageDayView | null>();

  constructor(private readonly deps: ProjectLedgerDependencies) {}

  async project(event: LedgerEvent): Promise<ProjectionOutcome> {
    const { accountId, version } = event;
    for (let reload = 0; reload <= MAX_CURSOR_RELOADS; reload += 1) {
      const account = await this.account(accountId);
      const applied = account?.appliedVersion ?? 0;
      if (version <= applied) return { status: 'duplicate', accountId, version };

      const missing = version > applied + 1 ? await this.deps.readEvents(accountId, applied + 1, version - 1) : [];
      missing.forEach((e, i) => {
        if (e.accountId !== accountId || e.version !== applied + 1 + i) {
          throw new ProjectionGapError(`the ledger returned ${e.accountId} v${e.version} where ${accountId} v${applied + 1 + i} was expected`);
        }
      });
      if (missing.length !== version - applied - 1) {
        throw new ProjectionGapError(`${accountId} is projected to v${applied}; v${version} arrived and the ledger has only ${missing.length} of the ${version - applied - 1} events between`);
      }

      let current = account;
      let lost = false;
      for (const next of [...missing, event]) {
        const applyResult = await this.apply(current, next);
        if (applyResult === null) {
          lost = true;
          break;
        }
        current = applyResult;
      }
      if (!lost) return { status: 'applied', accountId, version, filled: missing.length };
    }
    throw new Error(`projection of ${accountId} v${version} kept losing its cursor to other writers`);
  }

  /** One guarded commit; the account after it, or null when the cursor had moved (memory of it dropped). */
  private async apply(account: AccountProjection | null, event: LedgerEvent): Promise<AccountProjection | null> {
    const day = usageDayOf(event);
    const usageDay = day === null ? null : await this.usageDay(event.accountId, day);
    const change = projectEvent(account, usageDay, event);
    const result = await this.deps.store.commit(change);
    if (result === 'conflict') {
      this.forget(event.accountId);
      return null;
    }
    this.accounts.set(event.accountId, change.account);
    if (change.usageDay !== null) this.days.set(dayKey(event.accountId, change.usageDay.day), change.usageDay);
    return change.account;
  }

  private async account(accountId: string): Promise<AccountProjection | null> {
    if (!this.accounts.has(accountId)) this.accounts.set(accountId, await this.deps.store.loadAccount(accountId));
    return this.accounts.get(accountId) ?? null;
  }

  private async usageDay(accountId: string, day: string): Promise<UsageDayView | null> {
    const key = dayKey(accountId, day);
    if (!this.days.has(key)) this.days.set(key, await this.deps.store.loadUsageDay(accountId, day));
    return this.days.get(key) ?? null;
  }

  private forget(accountId: string): void {
    this.accounts.delete(accountId);
    for (const key of this.days.keys()) if (key.startsWith(`${accountId}\n`)) this.days.delete(key);
  }
}

const dayKey = (accountId: string, day: string): string => `${accountId}\n${day}`;

/** The Lambda handler over given dependencies (tests pass an in-memory store or a fresh table). */
export function createProjectLedgerHandler(
  dependencies: () => ProjectLedgerDependencies,
): (event: DynamoDBStreamEvent, context?: Context) => Promise<DynamoDBBatchResponse> {
  return async (event, context) => {
    const projector = new LedgerProjector(dependencies());
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    const recordHandler = async (record: DynamoDBRecord): Promise<ProjectionOutcome> => {
      try {
        return await projector.project(parseLedgerEventRecord(record));
      } catch (error) {
        logger.error('Projection of a ledger record failed', {
          sequenceNumber: record.dynamodb?.SequenceNumber,
          eventId: record.eventID,
          error: error as Error,
        });
        throw error;
      }
    };
    // Failures are always reported per record (never thrown for a whole batch): the mapping retries from the
    // first failed record either way, and a caller sees which ones failed.
    return processPartialResponse(event, recordHandler, processor, {
      ...(context === undefined ? {} : { context }),
      processInParallel: false,
      throwOnFullBatchFailure: false,
    }) as Promise<DynamoDBBatchResponse>;
  };
}

/**
 * The deployed consumer: the projections table and the ledger from the environment. The store is made per
 * invocation (cheap: the configuration and the client are cached by config.ts and dynamo.ts, which the local
 * runtime and tests reset).
 */
export const handler = createProjectLedgerHandler(() => ({
  store: new DynamoProjectionStore(),
  readEvents: (accountId, from, to) => readEvents(accountId, from, to),
}));
