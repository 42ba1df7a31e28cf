import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { handleCommand } from '../functions/lib/handle-command.js';
import { deployedStreamConsumers, LocalStreamPoller, type DeployedConsumerName, type StreamConsumer, type StreamHandler } from '../infra/local/stream-poller.js';
import { debitInput } from './command-path.js';
import { summarize, type LatencySummary } from './lib/stats.js';

/**
 * The stream consumers as `npm start` runs them (the deployed handlers fed by the local stream poller: the event
 * source mapping's filter, batches of up to 100, the default 25 ms idle poll), each timed. For the projection
 * consumer, the lag of each event: from its debit's append being acknowledged (handleCommand returned) to the
 * consumer having committed it (the handler returned for the batch holding it, the record not reported failed).
 */
export interface ConsumerStats {
  /** Handler calls by the poller: one per batch of records that passed the consumer's filter. */
  invocations: number;
  records: number;
  /** Sum of handler durations, ms. */
  handlerMs: number;
}

export class TimedConsumers {
  readonly appendedAt = new Map<string, number>();
  readonly lags: number[] = [];
  readonly stats: Record<string, ConsumerStats> = {};
  private readonly projected = new Set<string>();

  /** Wraps each deployed consumer (infra/routes.ts STREAM_CONSUMERS) in a timer. */
  async consumers(names: readonly DeployedConsumerName[]): Promise<StreamConsumer[]> {
    // Counted from zero, so a consumer its filter never invokes still shows, with no invocations.
    for (const name of names) this.stats[name] ??= { invocations: 0, records: 0, handlerMs: 0 };
    // The deployed consumer's own filter comes along: the poller invokes the timer only for records it passes.
    return (await deployedStreamConsumers(names)).map((consumer) => ({ ...consumer, handler: this.timed(consumer.name, consumer.handler) }));
  }

  private timed(name: string, handler: StreamHandler): StreamHandler {
    return async (event: DynamoDBStreamEvent, context) => {
      const t0 = performance.now();
      const response = (await handler(event, context)) as DynamoDBBatchResponse | undefined;
      const t1 = performance.now();
      const stats = (this.stats[name] ??= { invocations: 0, records: 0, handlerMs: 0 });
      stats.invocations += 1;
      stats.records += event.Records.length;
      stats.handlerMs += t1 - t0;
      if (name === 'projectLedger') this.recordLags(event, response, t1);
      return response;
    };
  }

  private recordLags(event: DynamoDBStreamEvent, response: DynamoDBBatchResponse | undefined, at: number): void {
    const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    for (const record of event.Records) {
      if (failed.has(record.dynamodb?.SequenceNumber ?? '')) continue;
      const image = record.dynamodb?.NewImage;
      const key = `${image?.['accountId']?.S}#${image?.['version']?.N}`;
      const appended = this.appendedAt.get(key);
      if (appended === undefined || this.projected.has(key)) continue;
      this.projected.add(key);
      this.lags.push(at - appended);
    }
  }

  snapshot(): Record<string, ConsumerStats> {
    return structuredClone(this.stats);
  }

  lag(): LatencySummary {
    return summarize(this.lags);
  }
}

export async function timedPoller(timed: TimedConsumers): Promise<LocalStreamPoller> {
  return new LocalStreamPoller({ mappings: [], consumers: await timed.consumers(['projectLedger', 'scheduleCycleReset', 'sendThresholdWarnings']) });
}

/**
 * Debits at a steady rate (open loop: the i-th is sent at i / rate seconds whatever the earlier ones are doing);
 * each acknowledged append is timestamped for the lag.
 */
export async function debitsForLag(timed: TimedConsumers, accountIds: readonly string[], operations: number, ratePerSecond: number, runId: string): Promise<void> {
  const started = performance.now();
  const inFlight: Array<Promise<void>> = [];
  const failures: string[] = [];
  for (let i = 0; i < operations; i += 1) {
    const due = started + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const accountId = accountIds[i % accountIds.length] as string;
    inFlight.push(
      handleCommand(debitInput(accountId, `${runId}-${i}`)).then(
        ({ response }) => {
          const version = (response.body as { version?: number }).version;
          timed.appendedAt.set(`${accountId}#${version}`, performance.now());
        },
        (error: unknown) => {
          failures.push(error instanceof Error ? error.message : String(error));
        },
      ),
    );
  }
  await Promise.all(inFlight);
  if (failures.length > 0) throw new Error(`debits for the lag run failed: ${failures.slice(0, 3).join('; ')}`);
}
