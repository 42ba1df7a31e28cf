import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoSettings, resetConfig } from './config.js';

/**
 * One DynamoDB client per process, created on first use (a Lambda reuses it across invocations). Locally
 * `DYNAMODB_ENDPOINT` points it at DynamoDB Local; in AWS it is unset and the SDK finds the regional endpoint.
 */
let rawClient: DynamoDBClient | undefined;
let docClient: DynamoDBDocumentClient | undefined;

/** DynamoDB Local accepts any credentials; these are used only when it is the endpoint and none are set. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function dynamoClient(): DynamoDBClient {
  if (rawClient === undefined) {
    const { endpoint, region } = dynamoSettings();
    const local = endpoint !== undefined;
    const hasEnvCredentials = process.env.AWS_ACCESS_KEY_ID !== undefined && process.env.AWS_SECRET_ACCESS_KEY !== undefined;
    rawClient = new DynamoDBClient({
      region,
      ...(local ? { endpoint } : {}),
      ...(local && !hasEnvCredentials ? { credentials: LOCAL_CREDENTIALS } : {}),
    });
  }
  return rawClient;
}

export function documentClient(): DynamoDBDocumentClient {
  docClient ??= DynamoDBDocumentClient.from(dynamoClient(), {
    // Optional fields of events and responses are left out of items rather than failing the write.
    marshallOptions: { removeUndefinedValues: true },
  });
  return docClient;
}

/** Drops the clients and the parsed configuration, so the next use reads the environment again (tests, local runtime). */
export function resetClients(): void {
  rawClient?.destroy();
  rawClient = undefined;
  docClient = undefined;
  resetConfig();
}
