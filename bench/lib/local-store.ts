import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables, localClient, localEnvironment, startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';

/**
 * DynamoDB Local for the bench, through the shared harness: a free port, in memory, the tables of infra/tables.ts,
 * and the environment (table names, endpoint) set so the functions' own clients point at it.
 */
export interface LocalStore {
  endpoint: string;
  /** A client of the bench's own (the ceiling loop); the functions use theirs (functions/lib/dynamo.ts). */
  client: DynamoDBClient;
  tableNames: Record<string, string>;
  environment: Record<string, string>;
  stop(): Promise<void>;
}

export async function startLocalStore(prefix = 'bench-'): Promise<LocalStore> {
  const local = await startDynamoDbLocal({ port: 0, inMemory: true });
  const client = localClient(local.endpoint);
  try {
    const tableNames = await createTables(client, prefix);
    const environment = localEnvironment(local.endpoint, prefix);
    Object.assign(process.env, environment);
    return {
      endpoint: local.endpoint,
      client,
      tableNames,
      environment,
      stop: async () => {
        client.destroy();
        await local.stop();
      },
    };
  } catch (error) {
    client.destroy();
    await local.stop();
    throw error;
  }
}
