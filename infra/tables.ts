import { ENV, LEDGER_KEYS } from './keys.js';

/**
 * Table definitions in one neutral shape: the CDK construct turns them into `dynamodb.Table`s and the local
 * runtime into `CreateTable` calls on DynamoDB Local, so both create the same keys, streams and indexes.
 */
export interface TableDefinition {
  /** Logical id in CDK; table name prefix locally. */
  id: string;
  partitionKey: string;
  sortKey: string;
  /** Whether the table has a stream of new images (the ledger does; consumers build on it). */
  stream: boolean;
  ttlAttribute?: string;
  globalSecondaryIndexes?: ReadonlyArray<{ indexName: string; partitionKey: string; sortKey: string }>;
  /** The environment variable (from ENV in keys.ts) through which functions learn this table's name. */
  envName?: string;
}

export const LEDGER_TABLE: TableDefinition = {
  id: 'Ledger',
  partitionKey: LEDGER_KEYS.partitionKey,
  sortKey: LEDGER_KEYS.sortKey,
  stream: true,
  ttlAttribute: LEDGER_KEYS.ttlAttribute,
  envName: ENV.ledgerTable,
};

/**
 * The read models built from the ledger stream (functions/lib/projection-store.ts): balances, usage, finance.
 * Written only by the projection consumer (and rebuilt from the ledger by `npm run projections:rebuild`).
 */
export const PROJECTIONS_TABLE: TableDefinition = {
  id: 'Projections',
  partitionKey: 'pk',
  sortKey: 'sk',
  stream: false,
  envName: ENV.projectionsTable,
};

/** Every table of the system. Projection tables are added here as they are defined. */
export const TABLES: readonly TableDefinition[] = [LEDGER_TABLE, PROJECTIONS_TABLE];
