import { round } from './lib/stats.js';

/**
 * AWS list prices used to turn measured requests and capacity units into dollars. us-east-1, on-demand, as
 * published on the AWS pricing pages (the figures the targets were set with).
 */
export const PRICES = {
  region: 'us-east-1',
  /** DynamoDB on-demand, per million write request units (1 WRU = a standard write of up to 1 KB; transactional ×2). */
  dynamoWriteRequestUnitsPerMillion: 0.625,
  /** DynamoDB on-demand, per million read request units (1 RRU = a strongly consistent read of up to 4 KB). */
  dynamoReadRequestUnitsPerMillion: 0.125,
  /** Lambda requests, per million. */
  lambdaRequestsPerMillion: 0.2,
  /** Lambda duration on arm64, per GB-second. */
  lambdaArmGbSecond: 0.0000133334,
  /** API Gateway HTTP API, per million requests (first 300 million a month). */
  httpApiRequestsPerMillion: 1.0,
  /**
   * DynamoDB Streams read requests, per million ($0.02 per 100,000). GetRecords calls made by Lambda event source
   * mappings are free, and every stream consumer here is one, so the model counts none.
   */
  streamReadRequestsPerMillion: 0.2,
} as const;

/** Memory of the deployed functions (infra/credits-ledger.ts: HTTP_MEMORY_MB, BACKGROUND_MEMORY_MB). */
export const FUNCTION_MEMORY_MB = { http: 1024, background: 512 } as const;
/** Stream consumers of the ledger table (infra/routes.ts STREAM_CONSUMERS), each its own event source mapping. */
export const STREAM_CONSUMER_COUNT = 3;

export interface PerUnitUsage {
  /** DynamoDB request units per unit of work (a debit, or a batched record), by AWS's sizing rules. */
  readUnits: number;
  writeUnits: number;
  /** Lambda invocations per unit, and their billed duration (ms) and memory (MB) each. */
  lambda: Array<{ what: string; invocations: number; billedMs: number; memoryMb: number }>;
  httpApiRequests: number;
  streamReadRequests: number;
}

/** What one stream consumer did during a measured run (bench/projections.ts ConsumerStats). */
export interface ConsumerRun {
  invocations: number;
  records: number;
  /** Sum of handler durations, ms. */
  handlerMs: number;
}

/**
 * The stream consumers' Lambda usage per unit of work (a debit), from a run of `units` of them: each consumer's
 * invocations divided by the units, billed at its mean duration per invocation. Every mapping reads every event
 * of the stream, but a consumer is invoked only for the records its filter passes (and Lambda bills nothing for
 * the rest), so the divisor is the run's work, not the records a consumer happened to receive: a consumer that
 * saw 3 warnings in a run of 600 debits costs 3/600 of an invocation per debit, not 1.
 */
export function streamConsumerLambdas(consumers: Record<string, ConsumerRun>, units: number, memoryMb: number): PerUnitUsage['lambda'] {
  if (!(units > 0)) throw new Error(`a run of ${units} units of work prices nothing`);
  return Object.entries(consumers).map(([what, run]) => ({
    what,
    invocations: round(run.invocations / units, 4),
    billedMs: run.invocations === 0 ? 0 : Math.ceil(run.handlerMs / run.invocations),
    memoryMb,
  }));
}

export interface CostLine {
  what: string;
  usdPerMillion: number;
}

/** Dollars per million units of work, line by line, and the total. */
export function costPerMillion(usage: PerUnitUsage): { lines: CostLine[]; totalUsdPerMillion: number } {
  const lines: CostLine[] = [
    { what: 'DynamoDB write request units', usdPerMillion: usage.writeUnits * PRICES.dynamoWriteRequestUnitsPerMillion },
    { what: 'DynamoDB read request units', usdPerMillion: usage.readUnits * PRICES.dynamoReadRequestUnitsPerMillion },
    { what: 'API Gateway HTTP API requests', usdPerMillion: usage.httpApiRequests * PRICES.httpApiRequestsPerMillion },
    ...usage.lambda.flatMap((l) => [
      { what: `Lambda requests (${l.what})`, usdPerMillion: l.invocations * PRICES.lambdaRequestsPerMillion },
      {
        what: `Lambda duration (${l.what}, ${l.memoryMb} MB × ${l.billedMs} ms)`,
        // per million units: invocations × 1e6 × seconds × GB × price
        usdPerMillion: l.invocations * 1e6 * (l.billedMs / 1000) * (l.memoryMb / 1024) * PRICES.lambdaArmGbSecond,
      },
    ]),
    { what: 'DynamoDB Streams read requests (free for Lambda triggers)', usdPerMillion: usage.streamReadRequests * 0 },
  ];
  const rounded = lines.map((l) => ({ what: l.what, usdPerMillion: round(l.usdPerMillion, 4) }));
  return { lines: rounded, totalUsdPerMillion: round(lines.reduce((a, l) => a + l.usdPerMillion, 0), 3) };
}
