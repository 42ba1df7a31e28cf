import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ManualClock, resetClock, setClock } from '../../functions/lib/clock.js';
import { resetClients } from '../../functions/lib/dynamo.js';
import { ENV } from '../keys.js';
import { LEDGER_TABLE } from '../tables.js';
import { JavaMissingError, createTables, localClient, localEnvironment, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { DEV_TOKENS, LOCAL_FINANCE_ROLE_ARN, startLocalServer, type LocalServer } from './server.js';
import type { LocalContext, LocalService } from './services.js';
import { LocalStreamPoller } from './stream-poller.js';
import { LocalScheduler } from './scheduler.js';
import { LocalNotifier } from './notifier.js';

/**
 * `npm start`: the whole ledger on one machine (SPEC §8). DynamoDB Local with the tables of infra/tables.ts, the
 * local API Gateway (server.ts) in front of the same handlers that are deployed, and the local services that play
 * the event source mappings, EventBridge Scheduler and SNS. `startLocal` is the same thing as a function, for
 * tests and benchmarks (port 0, their own DynamoDB endpoint).
 */

// ---------------------------------------------------------------------------------------------------------------
// LOCAL SERVICES: started in this order, synced in this order by POST /_local/sync, stopped in reverse.
// One line per service: a factory, so every startLocal gets fresh instances.
export const LOCAL_SERVICES: ReadonlyArray<() => LocalService> = [
  () => new LocalScheduler(), // before the poller: the consumers' Scheduler and SNS clients must be local first
  () => new LocalNotifier(),
  () => new LocalStreamPoller({ mappings: ['projectLedger', 'scheduleCycleReset', 'sendThresholdWarnings'] }),
];
// ---------------------------------------------------------------------------------------------------------------

/** Where a RunningClock keeps its offset beside DynamoDB Local's files (CREDITS_DATA_DIR). */
export const CLOCK_FILE = 'clock.json';

/** A clock that runs like the wall clock from wherever it is set: `POST /_local/clock` moves it, time still passes. */
export class RunningClock extends ManualClock {
  private offsetMs = 0;
  private file: string | undefined;
  override now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  override set(instant: Date): void {
    this.offsetMs = instant.getTime() - Date.now();
    this.save();
  }
  override advance(ms: number): void {
    this.offsetMs += ms;
    this.save();
  }

  /**
   * Resumes the offset kept in `file` and keeps it there after every move. Why: the ledger in a data directory
   * outlives the process; a clock that fell back to the wall clock on restart would sit behind the ledger, dating
   * new events before recorded ones and charging them to a cycle that has not started yet.
   */
  keepIn(file: string, log: (line: string) => void): void {
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { offsetMs?: unknown };
      if (typeof saved.offsetMs === 'number' && Number.isFinite(saved.offsetMs)) this.offsetMs = saved.offsetMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log(`clock: ignoring ${file} (${(error as Error).message})`);
    }
    this.file = file;
  }

  private save(): void {
    if (this.file === undefined) return;
    const text = JSON.stringify({ offsetMs: this.offsetMs, now: this.now().toISOString() });
    writeFileSync(`${this.file}.tmp`, text); // through a temporary file: never half written
    renameSync(`${this.file}.tmp`, this.file);
  }
}

export interface StartLocalOptions {
  /** HTTP port; 0 picks a free one. Default 3000. */
  port?: number;
  host?: string;
  /** An existing DynamoDB (Local) endpoint, or how to start one (default: port 8000, data in `.data`). */
  dynamodb?: { endpoint: string } | { port?: number; dataDir?: string; inMemory?: boolean };
  /** Put before every table name (tests give each file its own). */
  tablePrefix?: string;
  /** Default: a RunningClock at the current time. Tests pass a ManualClock, which stays where it is put. */
  clock?: ManualClock;
  /** Default: one fresh instance of each of LOCAL_SERVICES. */
  services?: readonly LocalService[];
  log?: (line: string) => void;
  /** Log one line per HTTP request. */
  logRequests?: boolean;
}

export interface LocalRuntime {
  url: string;
  port: number;
  /** The DynamoDB endpoint the handlers use. */
  endpoint: string;
  /** Where DynamoDB Local keeps its files; undefined in memory or when the endpoint was given. */
  dataDir: string | undefined;
  clock: ManualClock;
  tables: Readonly<Record<string, string>>;
  services: readonly LocalService[];
  stop(): Promise<void>;
}

const LOCAL_REGION = 'us-east-1';

/**
 * Points the handlers of this process at the local tables (the handlers read configuration on first use, and
 * dropping the cached clients makes them read it again), and lists the local finance role as finance.
 */
function configureHandlers(endpoint: string, tablePrefix: string): void {
  Object.assign(process.env, localEnvironment(endpoint, tablePrefix));
  const finance = (process.env[ENV.financePrincipals] ?? '').split(',').filter((s) => s.trim() !== '');
  if (!finance.includes(LOCAL_FINANCE_ROLE_ARN)) process.env[ENV.financePrincipals] = [...finance, LOCAL_FINANCE_ROLE_ARN].join(',');
  resetClients();
}

async function streamArnOf(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  return Table?.LatestStreamArn;
}

/** Starts everything; on a failure part-way, stops what had started and rethrows. */
export async function startLocal(options: StartLocalOptions = {}): Promise<LocalRuntime> {
  const log = options.log ?? ((line: string) => console.log(line));
  const clock = options.clock ?? new RunningClock();
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        log(`shutdown: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };

  try {
    setClock(clock);
    cleanups.push(async () => resetClock());

    let endpoint: string;
    let dataDir: string | undefined;
    const dynamodbOptions = options.dynamodb ?? {};
    if ('endpoint' in dynamodbOptions) {
      endpoint = dynamodbOptions.endpoint;
    } else {
      const inMemory = dynamodbOptions.inMemory ?? false;
      dataDir = inMemory ? undefined : resolve(dynamodbOptions.dataDir ?? '.data');
      const local: DynamoDbLocal = await startDynamoDbLocal({
        port: dynamodbOptions.port ?? 8000,
        inMemory,
        ...(dataDir === undefined ? {} : { dataDir }),
      });
      cleanups.push(() => local.stop());
      endpoint = local.endpoint;
    }
    // The ledger survives in the data directory, so the running clock does too (a given clock is the caller's).
    if (clock instanceof RunningClock && options.clock === undefined && dataDir !== undefined) clock.keepIn(join(dataDir, CLOCK_FILE), log);

    const client = localClient(endpoint);
    cleanups.push(async () => client.destroy());
    const tables = await createTables(client, options.tablePrefix ?? '');
    const ledgerTable = tables[LEDGER_TABLE.id];
    if (ledgerTable === undefined) throw new Error('infra/tables.ts defines no ledger table');
    configureHandlers(endpoint, options.tablePrefix ?? '');
    cleanups.push(async () => resetClients());

    const services = options.services ?? LOCAL_SERVICES.map((create) => create());
    const ledgerStreamArn = await streamArnOf(client, ledgerTable);
    for (const service of services) {
      const context: LocalContext = {
        endpoint,
        region: process.env.AWS_REGION ?? LOCAL_REGION,
        dynamodb: client,
        clock,
        tables,
        ledgerTable,
        ledgerStreamArn,
        dataDir,
        log: (message) => log(`[${service.name}] ${message}`),
      };
      await service.start(context);
      cleanups.push(() => service.stop());
    }

    const server: LocalServer = await startLocalServer({
      port: options.port ?? 3000,
      ...(options.host === undefined ? {} : { host: options.host }),
      clock,
      services,
      log,
      logRequests: options.logRequests ?? false,
      ...(process.env[ENV.customerAccountClaim] ? { customerAccountClaim: process.env[ENV.customerAccountClaim] } : {}),
    });
    cleanups.push(() => server.close());

    let stopping: Promise<void> | undefined;
    return {
      url: server.url,
      port: server.port,
      endpoint,
      dataDir,
      clock,
      tables,
      services,
      stop: () => (stopping ??= cleanup()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The command line

function portFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new SettingError(`${name} must be a port number from 0 to 65535, not "${text}".`);
  return port;
}

/** A problem the user can fix, said in one line without a stack trace. */
class SettingError extends Error {}

function oneLine(error: unknown): string | undefined {
  if (error instanceof JavaMissingError || error instanceof SettingError) return error.message;
  const e = error as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE') return `Port ${process.env.PORT ?? 3000} is already in use: stop what uses it or set PORT (0 picks a free port).`;
  if (error instanceof Error && /DynamoDB Local exited before it answered/.test(error.message)) {
    return `${error.message.split(':')[0]}; is the port in use? Set DYNAMODB_PORT (0 picks a free port).`;
  }
  return undefined;
}

async function main(): Promise<void> {
  let runtime: LocalRuntime;
  try {
    const inMemory = process.env.CREDITS_IN_MEMORY === '1';
    runtime = await startLocal({
      port: portFromEnv('PORT', 3000),
      dynamodb: { port: portFromEnv('DYNAMODB_PORT', 8000), inMemory, ...(inMemory ? {} : { dataDir: process.env.CREDITS_DATA_DIR || '.data' }) },
      logRequests: true,
    });
  } catch (error) {
    const message = oneLine(error);
    if (message === undefined) throw error;
    console.error(message);
    process.exit(1);
  }

  const { url } = runtime;
  console.log(
    [
      `Credits ledger listening on ${url}`,
      `  DynamoDB Local: ${runtime.endpoint}, ${runtime.dataDir === undefined ? 'in memory (nothing is kept)' : `data in ${runtime.dataDir}`}`,
      `  clock: ${runtime.clock.now().toISOString()} (POST ${url}/_local/clock moves it)`,
      `  tokens: ${DEV_TOKENS.service} · ${DEV_TOKENS.finance} · ${DEV_TOKENS.customerPrefix}<accountId>`,
      `Try:`,
      `  curl -s -X POST ${url}/v1/accounts -H 'Authorization: Bearer ${DEV_TOKENS.service}' -H 'Idempotency-Key: open-acme' -H 'Content-Type: application/json' -d '{"accountId":"acme","plan":"free"}'`,
      `Ctrl-C stops.`,
    ].join('\n'),
  );

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(130); // a second Ctrl-C does not wait (DynamoDB Local is killed on exit)
    console.log(`\n${signal}: stopping…`);
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) await main();
