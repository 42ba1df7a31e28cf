import { describe, expect, it } from 'vitest';
import { costPerMillion, PRICES, streamConsumerLambdas } from '../../bench/cost.js';

/**
 * The cost model prices each stream consumer per debit from what it did in a measured run. A mapping's filter
 * decides which records invoke it; records it drops cost nothing, so the divisor is the run's debits.
 */
describe('stream consumers in the cost per million debits', () => {
  it('given 600 debits during which the warnings consumer ran 3 times, it costs 3/600 of an invocation per debit, not 1', () => {
    const [warnings] = streamConsumerLambdas({ sendThresholdWarnings: { invocations: 3, records: 3, handlerMs: 4.5 } }, 600, 512);
    expect(warnings).toEqual({ what: 'sendThresholdWarnings', invocations: 0.005, billedMs: 2, memoryMb: 512 });
  });

  it('given a consumer its filter never invoked, it costs nothing per debit', () => {
    const lambdas = streamConsumerLambdas({ scheduleCycleReset: { invocations: 0, records: 0, handlerMs: 0 } }, 600, 512);
    expect(lambdas).toEqual([{ what: 'scheduleCycleReset', invocations: 0, billedMs: 0, memoryMb: 512 }]);
    const { lines, totalUsdPerMillion } = costPerMillion({ readUnits: 0, writeUnits: 0, lambda: lambdas, httpApiRequests: 0, streamReadRequests: 0 });
    expect(lines.filter((line) => line.what.includes('scheduleCycleReset')).map((line) => line.usdPerMillion)).toEqual([0, 0]);
    expect(totalUsdPerMillion).toBe(0);
  });

  it('given the projection consumer invoked once per debit (batches of one), it costs one request per debit', () => {
    const [projection] = streamConsumerLambdas({ projectLedger: { invocations: 600, records: 612, handlerMs: 6000 } }, 600, 512);
    expect(projection).toMatchObject({ invocations: 1, billedMs: 10 });
    const requests = costPerMillion({ readUnits: 0, writeUnits: 0, lambda: [projection!], httpApiRequests: 0, streamReadRequests: 0 }).lines.find(
      (line) => line.what === 'Lambda requests (projectLedger)',
    );
    expect(requests?.usdPerMillion).toBe(PRICES.lambdaRequestsPerMillion);
  });

  it('refuses to price a run of no debits', () => {
    expect(() => streamConsumerLambdas({}, 0, 512)).toThrow(/0 units/);
  });
});
