/**
 * Key schema and attribute names of the ledger table, shared by the functions that read and write it and by the
 * infrastructure that creates it (CDK in AWS, DynamoDB Local for `npm start` and the tests).
 */
export const LEDGER_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB's TTL deletes idempotency records some time after it passes. */
  ttlAttribute: 'expiresAt',
  /** Every item says what it is, so the stream filter can select event inserts only. */
  kindAttribute: 'kind',
} as const;

export const ITEM_KINDS = {
  event: 'event',
  head: 'head',
  idempotency: 'idempotency',
  /** A record that a side effect (an SNS warning) was done for one event, so redelivery does not repeat it. */
  delivery: 'delivery',
} as const;

export const accountPartition = (accountId: string): string => `ACCOUNT#${accountId}`;

/** Ten digits keep the sort order numeric for versions up to 9,999,999,999. */
export const eventSortKey = (version: number): string => `EVENT#${String(version).padStart(10, '0')}`;
export const EVENT_SORT_PREFIX = 'EVENT#';
export const HEAD_SORT_KEY = 'HEAD';
export const idempotencySortKey = (key: string): string => `IDEMPOTENCY#${key}`;
/** A usage batch's own Idempotency-Key (not an account's: a batch spans accounts) has an item of its own. */
export const batchPartition = (key: string): string => `BATCH#${key}`;
export const BATCH_SORT_KEY = 'BATCH';
export const deliverySortKey = (channel: string, version: number): string => `DELIVERY#${channel}#${String(version).padStart(10, '0')}`;

/** Environment variable names the functions read and the infrastructure sets: one list, no drift. */
export const ENV = {
  ledgerTable: 'LEDGER_TABLE_NAME',
  projectionsTable: 'PROJECTIONS_TABLE_NAME',
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  alertsTopicArn: 'ALERTS_TOPIC_ARN',
  scheduleGroup: 'SCHEDULE_GROUP_NAME',
  rollOverFunctionArn: 'ROLL_OVER_FUNCTION_ARN',
  schedulerRoleArn: 'SCHEDULER_ROLE_ARN',
  schedulesDlqArn: 'SCHEDULES_DLQ_ARN',
  /** Comma-separated IAM role ARNs (or role names) whose callers act as finance; other IAM callers are services. */
  financePrincipals: 'FINANCE_PRINCIPAL_ARNS',
  /** The JWT claim that holds a customer's account id. */
  customerAccountClaim: 'CUSTOMER_ACCOUNT_CLAIM',
} as const;
