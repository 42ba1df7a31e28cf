import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';

/**
 * Global setup of the integration project (`*.int.test.ts`): one DynamoDB Local, in memory, on a free port, for
 * the whole run. Test files share it and keep apart by table prefix (see dynamodb.ts). Unit-only runs never start
 * it. `CREDITS_TEST_DYNAMODB_ENDPOINT` points the tests at one already running instead.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env.CREDITS_TEST_DYNAMODB_ENDPOINT;
  if (existing !== undefined && existing !== '') {
    project.provide('dynamodbEndpoint', existing);
    return async () => {};
  }
  const local = await startDynamoDbLocal({ port: 0, inMemory: true });
  project.provide('dynamodbEndpoint', local.endpoint);
  return () => local.stop();
}
