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
} as const;

export const accountPartition = (accountId: string): string => `ACCOUNT#${accountId}`;

/** Ten digits keep the sort order numeric for versions up to 9,999,999,999. */
export const eventSortKey = (version: number): string => `EVENT#${String(version).padStart(10, '0')}`;
export const EVENT_SORT_PREFIX = 'EVENT#';
export const HEAD_SORT_KEY = 'HEAD';
export const idempotencySortKey = (key: string): string => `IDEMPOTENCY#${key}`;
