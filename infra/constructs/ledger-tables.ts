import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../keys.js';
import { LEDGER_TABLE, type TableDefinition } from '../tables.js';

/**
 * The variable a table's name reaches the functions by: its definition's `envName`, else derived from its id
 * ("Ledger" → LEDGER_TABLE_NAME, "Projections" → PROJECTIONS_TABLE_NAME). Either way one that ENV lists.
 */
export function tableEnvName(definition: Pick<TableDefinition, 'id' | 'envName'>): string {
  if (definition.envName !== undefined) return definition.envName;
  const snake = definition.id.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return `${snake}_TABLE_NAME`;
}

const KNOWN_ENV_NAMES: ReadonlySet<string> = new Set(Object.values(ENV));

// Reads of one account's items: the head (consistent GetItem) and its events or read-model rows (Query).
const READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];
// TransactWriteItems has no IAM action of its own: each item in it is authorized as the operation it performs.
const CONDITIONAL_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'];
// Read models are rewritten in place and may be scanned for reports across accounts (the balances report).
const READ_MODEL_READ_ACTIONS = [...READ_ACTIONS, 'dynamodb:Scan'];
const READ_MODEL_WRITE_ACTIONS = [...CONDITIONAL_WRITE_ACTIONS, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
const STREAM_READ_ACTIONS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'];

export interface LedgerTablesProps {
  /** Every table of the system (infra/tables.ts TABLES). */
  definitions: readonly TableDefinition[];
}

/**
 * Every table of infra/tables.ts, created the same way, and the only place that grants access to them: each
 * grant is named for what the function does with the data, never for DynamoDB verbs.
 */
export class LedgerTables extends Construct {
  /** By definition id (`Ledger`, and the projection tables as they are defined). */
  readonly byId: ReadonlyMap<string, dynamodb.Table>;
  readonly ledger: dynamodb.Table;
  /** Every table but the ledger: read models, rebuilt from the ledger at will. */
  readonly readModels: readonly dynamodb.Table[];
  private readonly envNames = new Map<string, string>();
  private readonly indexNames = new Map<dynamodb.Table, readonly string[]>();

  constructor(scope: Construct, id: string, props: LedgerTablesProps) {
    super(scope, id);
    const tables = new Map<string, dynamodb.Table>();
    for (const definition of props.definitions) {
      if (tables.has(definition.id)) throw new Error(`Two tables are defined with the id "${definition.id}".`);
      const envName = tableEnvName(definition);
      if (!KNOWN_ENV_NAMES.has(envName)) {
        throw new Error(`Table "${definition.id}" would be passed to the functions as ${envName}, which infra/keys.ts ENV does not list.`);
      }
      if ([...this.envNames.values()].includes(envName)) throw new Error(`Two tables would be passed to the functions as ${envName}.`);
      this.envNames.set(definition.id, envName);
      const table = createTable(this, definition);
      tables.set(definition.id, table);
      this.indexNames.set(table, (definition.globalSecondaryIndexes ?? []).map((index) => index.indexName));
    }
    const ledger = tables.get(LEDGER_TABLE.id);
    if (ledger === undefined) throw new Error(`The table definitions lack the ledger table "${LEDGER_TABLE.id}".`);
    this.byId = tables;
    this.ledger = ledger;
    this.readModels = [...tables.entries()].filter(([tableId]) => tableId !== LEDGER_TABLE.id).map(([, table]) => table);
  }

  /** Each table's name under the environment variable the functions read it from. */
  environment(): Record<string, string> {
    const environment: Record<string, string> = {};
    for (const [tableId, table] of this.byId) environment[this.envNames.get(tableId)!] = table.tableName;
    return environment;
  }

  /**
   * A command: read the account's head (and its events when the head must be rebuilt), then one transaction
   * that puts new events, moves the head and stores the idempotency record, each under a condition.
   */
  grantAppendEvents(grantee: iam.IGrantable): void {
    this.grant(grantee, [this.ledger], [...READ_ACTIONS, ...CONDITIONAL_WRITE_ACTIONS]);
  }

  /** A query route or a read-side consumer: the head and the events, nothing written. */
  grantReadLedger(grantee: iam.IGrantable): void {
    this.grant(grantee, [this.ledger], READ_ACTIONS);
  }

  /** The warnings consumer: reads the account (its contact channels) and records each delivery it made. */
  grantRecordDeliveries(grantee: iam.IGrantable): void {
    this.grant(grantee, [this.ledger], [...READ_ACTIONS, ...CONDITIONAL_WRITE_ACTIONS]);
  }

  /** A stream consumer: the ledger's stream only (the event source mapping reads it with the function's role). */
  grantReadLedgerStream(grantee: iam.IGrantable): void {
    const streamArn = this.ledger.tableStreamArn;
    if (streamArn === undefined) throw new Error('The ledger table has no stream.');
    iam.Grant.addToPrincipal({ grantee, actions: STREAM_READ_ACTIONS, resourceArns: [streamArn] });
  }

  /** Report and usage routes: read the read models (and their indexes). */
  grantReadProjections(grantee: iam.IGrantable): void {
    this.grant(grantee, this.readModels, READ_MODEL_READ_ACTIONS);
  }

  /** The projector: read and rewrite the read models (and their indexes). */
  grantWriteProjections(grantee: iam.IGrantable): void {
    this.grant(grantee, this.readModels, [...READ_MODEL_READ_ACTIONS, ...READ_MODEL_WRITE_ACTIONS]);
  }

  private grant(grantee: iam.IGrantable, tables: readonly dynamodb.Table[], actions: string[]): void {
    if (tables.length === 0) return;
    const resourceArns = tables.flatMap((table) => [
      table.tableArn,
      ...(this.indexNames.get(table) ?? []).map((indexName) => `${table.tableArn}/index/${indexName}`),
    ]);
    iam.Grant.addToPrincipal({ grantee, actions, resourceArns });
  }
}

/** One table from its neutral definition: keys, stream, TTL, indexes, and the durability every table gets. */
function createTable(scope: Construct, definition: TableDefinition): dynamodb.Table {
  const table = new dynamodb.Table(scope, definition.id, {
    partitionKey: { name: definition.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: definition.sortKey, type: dynamodb.AttributeType.STRING },
    // Why: traffic is spiky (usage bursts, month-start rollovers); on-demand needs no capacity planning.
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    // Why: the consumers build on new images only; old images would cost stream bandwidth for nothing.
    ...(definition.stream ? { stream: dynamodb.StreamViewType.NEW_IMAGE } : {}),
    // Why: idempotency records expire after their retention; DynamoDB's TTL deletes them at no write cost.
    ...(definition.ttlAttribute === undefined ? {} : { timeToLiveAttribute: definition.ttlAttribute }),
    // Why: a ledger of money must be restorable to any second of the last 35 days.
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // Why: neither a console click nor a stack deletion may drop the ledger.
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
    // Why: encrypted at rest with the AWS managed key: no key policy to maintain, no extra KMS request cost.
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
  });
  for (const index of definition.globalSecondaryIndexes ?? []) {
    // Why: an index exists only because a query of infra/tables.ts needs it.
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
  return table;
}
