import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, inject } from 'vitest';
import { resetClients } from '../../functions/lib/dynamo.js';
import { createTables, localClient, localEnvironment } from '../../infra/local/dynamodb-local.js';
import type {} from './dynamodb-global-setup.js';

/**
 * Fresh tables for one test file on the DynamoDB Local the global setup started: every table of infra/tables.ts
 * under a prefix of its own (files run in parallel against one instance), with process.env pointing the functions
 * at them and the SDK clients reset so they read it.
 */
export interface TestTables {
  endpoint: string;
  prefix: string;
  /** Local table names by table id (`Ledger` …). */
  names: Record<string, string>;
  /** A raw client on DynamoDB Local, for assertions that read the tables directly. */
  client: DynamoDBClient;
  drop(): Promise<void>;
}

export async function createTestTables(): Promise<TestTables> {
  const endpoint = inject('dynamodbEndpoint');
  if (endpoint === undefined) {
    throw new Error('No DynamoDB Local: integration tests are files named *.int.test.ts, run by the "integration" vitest project.');
  }
  const prefix = `t${randomBytes(4).toString('hex')}_`;
  const client = localClient(endpoint);
  const names = await createTables(client, prefix);
  Object.assign(process.env, localEnvironment(endpoint, prefix));
  resetClients();
  return {
    endpoint,
    prefix,
    names,
    client,
    async drop() {
      resetClients();
      for (const TableName of Object.values(names)) await client.send(new DeleteTableCommand({ TableName }));
      client.destroy();
    },
  };
}

/** Registers beforeAll/afterAll for fresh tables in this file; the returned function gives them once created. */
export function useTestTables(): () => TestTables {
  let tables: TestTables | undefined;
  beforeAll(async () => {
    tables = await createTestTables();
  });
  afterAll(async () => {
    await tables?.drop();
  });
  return () => {
    if (tables === undefined) throw new Error('the test tables are created in beforeAll');
    return tables;
  };
}
