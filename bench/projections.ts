import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { handler as projectLedger } from '../functions/streams/project-ledger.js';
import { handleCommand } from '../functions/lib/handle-command.js';
import { LocalStreamPoller, type StreamHandler } from '../infra/local/stream-poller.js';
import { debitInput } from './command-path.js';
import { runLoad, summarize, type LatencySummary } from './lib/stats.js';

/**
 * Projection lag: the time from a debit's append being acknowledged (handleCommand returned) to the projection
 * consumer having committed that event (its handler returned for the batch holding it, with the record not
 * reported failed). The consumer is the deployed handler, fed by the local stream poller exactly as `npm start`
 * feeds it (the event source mapping's filter, batches of up to 100, the default 25 ms idle poll).
 */
export interface ConsumerStats {
  invocations: number;
  records: number;
  /** Sum of handler durations, ms. */
  handlerMs: number;
}

export class TimedProjection {
  readonly appendedAt = new Map<string, number>();
  readonly lags: number[] = [];
  readonly stats: ConsumerStats = { invocations: 0, records: 0, handlerMs: 0 };
  private readonly projected = new Set<string>();

  /** The poller consumer: the deployed projection handler, timed. */
  readonly consumer = {
    name: 'projectLedger',
    handler: (async (event: DynamoDBStreamEvent, context) => {
      const t0 = performance.now();
      const response = (await projectLedger(event, context)) as DynamoDBBatchResponse;
      const t1 = performance.now();
      this.stats.invocations += 1;
      this.stats.records += event.Records.length;
      this.stats.handlerMs += t1 - t0;
      const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      for (const record of event.Records) {
        if (failed.has(record.dynamodb?.SequenceNumber ?? '')) continue;
        const image = record.dynamodb?.NewImage;
        const key = `${image?.['accountId']?.S}#${image?.['version']?.N}`;
        const appended = this.appendedAt.get(key);
        if (appended === undefined || this.projected.has(key)) continue;
        this.projected.add(key);
        this.lags.push(t1 - appended);
      }
      return response;
    }) satisfies StreamHandler,
  };

  summary(): LatencySummary {
    return summarize(this.lags);
  }
}

export function timedPoller(timed: TimedProjection): LocalStreamPoller {
  return new LocalStreamPoller({ mappings: [], consumers: [timed.consumer] });
}

/** Debits at a steady concurrency; each acknowledged append is timestamped for the lag. */
export async function debitsForLag(timed: TimedProjection, accountIds: readonly string[], operations: number, concurrency: number, runId: string): Promise<void> {
  const result = await runLoad(operations, concurrency, async (i) => {
    const accountId = accountIds[i % accountIds.length] as string;
    const { response } = await handleCommand(debitInput(accountId, `${runId}-${i}`));
    const version = (response.body as { version?: number }).version;
    timed.appendedAt.set(`${accountId}#${version}`, performance.now());
  });
  if (result.failures > 0) throw new Error(`debits for the lag run failed: ${result.failureSamples.join('; ')}`);
}
