import type { LedgerEvent } from '../../../domain/index.js';
import { dynamoClient } from '../../../functions/lib/dynamo.js';
import { setGroupCommit } from '../../../functions/lib/handle-command.js';
import { syncAll } from '../../../infra/local/services.js';
import { startLocalApi } from '../../support/local-api.js';
import { injectFaults, type FaultCounts, type FaultKind } from './faults.js';
import { checkAll, readLedger } from './ledger-checks.js';
import { Random } from './random.js';
import { reliabilityServices, type AsyncFaultCounts, type SchedulerFaults } from './services.js';
import { checkNotifications, checkProjectionsEqualRebuild, checkRedeliveryAndReordering, type RedeliveryReport } from './system-checks.js';
import { checkClientView, runWorkload, type WorkloadResult } from './workload.js';

/**
 * One reliability scenario end to end: the local runtime with its services (and the asynchronous faults), the
 * command-path faults at the DynamoDB client, the randomized workload, then every check once all is quiet.
 */
export interface ScenarioOptions {
  seed: number;
  accounts: number;
  operations: number;
  concurrency: number;
  roundSize: number;
  duplicateRate: number;
  retryRate: number;
  /** Chance per command-path transaction of each fault (drop before sending, drop after applying, cancel). */
  transactionFaults?: Partial<Record<FaultKind, number>>;
  /** Chance per command-path read (BatchGetItem) of failing before it is sent. */
  readFaultRate?: number;
  scheduler?: SchedulerFaults;
  snsFailureRate?: number;
  /** Also replay every event into an empty table in a hostile order (redelivery, reordering). */
  redelivery?: boolean;
  /** Share of operations aimed at the hot accounts (a tenth of them). */
  hotShare?: number;
  /**
   * Whether the command path groups the commands waiting on one account (default true, as one process does).
   * False stands for many processes: every command races on the head's version guard.
   */
  groupCommit?: boolean;
}

export interface ScenarioResult {
  seed: number;
  workload: WorkloadResult;
  events: number;
  warnings: number;
  transactionFaults: FaultCounts;
  readFaults: number;
  asyncFaults: AsyncFaultCounts;
  redelivery?: RedeliveryReport;
  rebuild: { accounts: number; events: number; items: number };
  anomalies: { ledger: string[]; client: string[]; projections: string[]; notifications: string[]; redelivery: string[] };
}

/**
 * A transaction of the command path answering a request: it stores an idempotency record. (Projection commits touch
 * another table; a scheduled rollover has no key, and its failures are Scheduler's retries, not a client's.)
 */
const isRequestAppend = (input: Record<string, unknown>): boolean =>
  ((input['TransactItems'] as Array<Record<string, any>> | undefined) ?? []).some((a) => {
    const sk = a['Put']?.Item?.sk;
    const text = typeof sk === 'string' ? sk : sk?.S;
    return typeof text === 'string' && text.startsWith('IDEMPOTENCY#');
  });

export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const random = new Random(options.seed);
  // The faults draw from their own stream, so the workload is the same for a seed with or without them.
  const faultRandom = new Random(options.seed ^ 0x5bd1e995);
  const async = reliabilityServices(faultRandom, {
    ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
    ...(options.snsFailureRate === undefined ? {} : { snsFailureRate: options.snsFailureRate }),
  });
  const api = await startLocalApi({ services: async.services });
  setGroupCommit(options.groupCommit ?? true);
  try {
    async.tapSns();
    const tx = options.transactionFaults ?? {};
    let readFaults = 0;
    const faults = injectFaults(dynamoClient(), [
      {
        command: 'TransactWriteItemsCommand',
        choose: (input) => {
          if (!isRequestAppend(input)) return undefined;
          const r = faultRandom.next();
          const before = tx['drop-before'] ?? 0;
          const after = tx['drop-after'] ?? 0;
          const cancel = tx.cancel ?? 0;
          if (r < before) return 'drop-before';
          if (r < before + after) return 'drop-after';
          if (r < before + after + cancel) return 'cancel';
          return undefined;
        },
      },
      {
        command: 'BatchGetItemCommand',
        choose: () => {
          if (!faultRandom.chance(options.readFaultRate ?? 0)) return undefined;
          readFaults += 1;
          return 'drop-before';
        },
      },
    ]);
    const faultsExpected = Object.values(tx).some((p) => (p ?? 0) > 0) || (options.readFaultRate ?? 0) > 0;

    let workload: WorkloadResult;
    try {
      workload = await runWorkload({
        api,
        random,
        prefix: `r${options.seed}`,
        accounts: options.accounts,
        operations: options.operations,
        concurrency: options.concurrency,
        roundSize: options.roundSize,
        duplicateRate: options.duplicateRate,
        retryRate: options.retryRate,
        faultsExpected,
        ...(options.hotShare === undefined ? {} : { hotShare: options.hotShare }),
        betweenRounds: async () => {
          await syncAll(async.services);
          await async.fireLate();
        },
      });
    } finally {
      faults.remove();
    }
    // Quiet: late fires fired, every stream record and due schedule processed.
    await syncAll(async.services);
    await async.fireLate();
    await syncAll(async.services);

    const ledgers = new Map<string, LedgerEvent[]>();
    const ledgerAnomalies: string[] = [];
    for (const accountId of workload.accountIds) {
      const facts = await readLedger(accountId);
      ledgers.set(accountId, facts.events);
      ledgerAnomalies.push(...checkAll(facts));
    }
    const clientAnomalies = [...workload.anomalies, ...checkClientView(workload, ledgers)];
    const projections = await checkProjectionsEqualRebuild(`${api.tables.prefix}Rebuilt`);
    const notifications = checkNotifications(async, ledgers);
    const redelivery = options.redelivery
      ? await checkRedeliveryAndReordering({ client: api.tables.client, prefix: `${api.tables.prefix}redelivered_`, accountIds: workload.accountIds, random: faultRandom })
      : undefined;
    return {
      seed: options.seed,
      workload,
      events: [...ledgers.values()].reduce((a, e) => a + e.length, 0),
      warnings: notifications.warnings,
      transactionFaults: faults.counts,
      readFaults,
      asyncFaults: async.counts,
      ...(redelivery === undefined ? {} : { redelivery }),
      rebuild: { accounts: projections.accounts, events: projections.events, items: projections.items },
      anomalies: {
        ledger: ledgerAnomalies,
        client: clientAnomalies,
        projections: projections.anomalies,
        notifications: notifications.anomalies,
        redelivery: redelivery?.anomalies ?? [],
      },
    };
  } finally {
    setGroupCommit(true);
    await api.stop();
  }
}

export const allAnomalies = (result: ScenarioResult): string[] => Object.values(result.anomalies).flat();

/** The figures a scenario tried, for the summary table. */
export function triedOf(result: ScenarioResult): Record<string, number> {
  const w = result.workload;
  return {
    operations: w.operations,
    requests: w.requests,
    accounts: w.accountIds.length,
    events: result.events,
    concurrentDuplicates: w.duplicatesSent,
    clientRetries: w.clientRetries,
    retriesAfterFailure: w.retriesAfterFailure,
    concurrentUpdateAnswers: w.concurrentUpdateAnswers,
    serverErrorAnswers: w.serverErrorAnswers,
    clockJumps: w.clockJumps,
    clockJumpsAcrossACycle: w.clockJumpsCrossingACycle,
    transactionsDroppedBeforeSending: result.transactionFaults['drop-before'],
    transactionsAppliedAnswerLost: result.transactionFaults['drop-after'],
    transactionsCancelled: result.transactionFaults.cancel,
    readsDropped: result.readFaults,
    scheduleFires: result.asyncFaults.fires,
    scheduleFiresDoubled: result.asyncFaults.doubleFires,
    scheduleFiresLate: result.asyncFaults.lateFires,
    scheduleFiresLost: result.asyncFaults.missingFires,
    snsPublishesFailed: result.asyncFaults.publishesFailed,
    warnings: result.warnings,
    ...(result.redelivery === undefined
      ? {}
      : {
          streamRecordsRedelivered: result.redelivery.recordsDelivered,
          streamDuplicates: result.redelivery.duplicates,
          streamBatchesRedelivered: result.redelivery.batchesRedelivered,
        }),
    projectionItemsCompared: result.rebuild.items,
  };
}
