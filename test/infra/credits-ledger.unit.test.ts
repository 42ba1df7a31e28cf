import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { tableEnvName } from '../../infra/constructs/ledger-tables.js';
import type { LedgerStack } from '../../infra/constructs/ledger-stack.js';
import { functionName } from '../../infra/credits-ledger.js';
import { ENV, ITEM_KINDS, LEDGER_KEYS } from '../../infra/keys.js';
import { ROUTES, SCHEDULED, STREAM_CONSUMERS } from '../../infra/routes.js';
import { LEDGER_TABLE, TABLES } from '../../infra/tables.js';
import { ledgerEventSchema } from '../../domain/index.js';
import { deployedStreamConsumers } from '../../infra/local/stream-poller.js';
import { synthesize, SYNTH_TIMEOUT_MS, TEST_CONTEXT } from './synth.js';
import {
  actionsOf,
  allIdentityStatements,
  asList,
  logicalIdOfFunction,
  logicalIdOfRole,
  resource,
  resources,
  statementsOfRole,
  type Statement,
} from './template.js';

let stack: LedgerStack;
let template: Template;

beforeAll(() => {
  ({ stack, template } = synthesize());
}, SYNTH_TIMEOUT_MS);

const ledger = () => stack.ledger;
const fnOf = (entry: string) => {
  const found = ledger().functions.get(entry);
  if (found === undefined) throw new Error(`no function for ${entry}`);
  return found;
};
const functionProps = (entry: string) => resource(template, logicalIdOfFunction(stack, fnOf(entry))).Properties!;
const statementsOf = (entry: string) => statementsOfRole(template, logicalIdOfRole(stack, fnOf(entry).role));
const ledgerTableId = () => stack.getLogicalId(ledger().tables.ledger.node.defaultChild as any);
const ALL_ENTRIES = [...new Set(ROUTES.map((route) => route.entry)), ...Object.values(STREAM_CONSUMERS), ...Object.values(SCHEDULED)];
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem'];

describe('the ledger table', () => {
  it('keys every item of an account by pk (partition) and sk (sort), both strings, as infra/keys.ts names them', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: LEDGER_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: LEDGER_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: LEDGER_KEYS.partitionKey, AttributeType: 'S' },
        { AttributeName: LEDGER_KEYS.sortKey, AttributeType: 'S' },
      ]),
    });
  });

  it('streams new images only: what the consumers read, nothing they do not', () => {
    expect(resource(template, ledgerTableId()).Properties!.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
  });

  it('can be restored to any second of the last 35 days (point-in-time recovery)', () => {
    expect(resource(template, ledgerTableId()).Properties!.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('survives the deletion or replacement of its stack, and refuses to be deleted at all', () => {
    const table = resource(template, ledgerTableId());
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties!.DeletionProtectionEnabled).toBe(true);
  });

  it('lets DynamoDB expire idempotency records through TTL on their expiry attribute', () => {
    expect(resource(template, ledgerTableId()).Properties!.TimeToLiveSpecification).toEqual({ AttributeName: LEDGER_KEYS.ttlAttribute, Enabled: true });
  });

  it('is billed per request, encrypted at rest, and has no physical name', () => {
    const properties = resource(template, ledgerTableId()).Properties!;
    expect(properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(properties.SSESpecification).toEqual({ SSEEnabled: true });
    expect(properties.TableName).toBeUndefined();
  });

  it('is one of exactly as many tables as infra/tables.ts defines', () => {
    expect(resources(template, 'AWS::DynamoDB::Table')).toHaveLength(TABLES.length);
  });
});

describe('any set of tables in infra/tables.ts (here: the ledger and a projections table with an index)', { timeout: SYNTH_TIMEOUT_MS }, () => {
  const projections = { id: 'Projections', partitionKey: 'pk', sortKey: 'sk', stream: false, globalSecondaryIndexes: [{ indexName: 'byPlan', partitionKey: 'plan', sortKey: 'pk' }] };
  let withProjections: ReturnType<typeof synthesize>;
  beforeAll(() => {
    withProjections = synthesize(TEST_CONTEXT, { tables: [LEDGER_TABLE, projections] });
    void withProjections.template;
  }, SYNTH_TIMEOUT_MS);
  const projectionsTableId = () => withProjections.stack.getLogicalId(withProjections.stack.ledger.tables.byId.get('Projections')!.node.defaultChild as any);

  it('becomes a table with the same durability, no stream, and its index', () => {
    const table = resource(withProjections.template, projectionsTableId());
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties!.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties!.StreamSpecification).toBeUndefined();
    expect(table.Properties!.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({ IndexName: 'byPlan', KeySchema: [{ AttributeName: 'plan', KeyType: 'HASH' }, { AttributeName: 'pk', KeyType: 'RANGE' }] }),
    ]);
  });

  it('reaches every function as PROJECTIONS_TABLE_NAME', () => {
    const { stack: s, template: t } = withProjections;
    for (const fn of s.ledger.functions.values()) {
      const variables = resource(t, logicalIdOfFunction(s, fn)).Properties!.Environment.Variables;
      expect(variables[ENV.projectionsTable]).toEqual({ Ref: projectionsTableId() });
    }
  });

  it('is written by the projector (table and index) and only read by the report routes', () => {
    const { stack: s, template: t } = withProjections;
    const statementsFor = (entry: string) => statementsOfRole(t, logicalIdOfRole(s, s.ledger.functions.get(entry)!.role));
    const onProjections = (statements: Statement[]) =>
      statements.filter((statement) => JSON.stringify(statement.Resource).includes(projectionsTableId()));

    const projector = onProjections(statementsFor(STREAM_CONSUMERS.projectLedger));
    expect(actionsOf(projector)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query']));
    expect(JSON.stringify(projector.map((statement) => statement.Resource))).toContain('/index/byPlan');

    const report = onProjections(statementsFor('functions/http/get-finance-report.ts'));
    expect(actionsOf(report)).toContain('dynamodb:Query');
    expect(actionsOf(report).filter((action) => WRITE_ACTIONS.includes(action))).toEqual([]);

    expect(onProjections(statementsFor('functions/http/record-usage.ts'))).toEqual([]);
  });

  it('must reach the functions by a variable ENV lists: any other is refused at synth', () => {
    expect(() => synthesize(TEST_CONTEXT, { tables: [LEDGER_TABLE, { ...projections, id: 'ReadModels' }] })).toThrow(/READ_MODELS_TABLE_NAME/);
    expect(() => synthesize(TEST_CONTEXT, { tables: [LEDGER_TABLE, { ...projections, envName: 'SOMETHING_ELSE' }] })).toThrow(/SOMETHING_ELSE/);
    expect(tableEnvName(LEDGER_TABLE)).toBe(ENV.ledgerTable);
    expect(tableEnvName({ id: 'ReadModels', envName: ENV.projectionsTable })).toBe(ENV.projectionsTable);
  });
});

describe('every function', () => {
  it('exists once per entry of infra/routes.ts (routes, stream consumers, the roll-over)', () => {
    expect([...ledger().functions.keys()].sort()).toEqual([...ALL_ENTRIES].sort());
    expect(resources(template, 'AWS::Lambda::Function')).toHaveLength(ALL_ENTRIES.length);
  });

  it('runs nodejs22.x on arm64 with the Powertools settings, and does not read its source map at every start', () => {
    for (const entry of ALL_ENTRIES) {
      const properties = functionProps(entry);
      expect(properties.Runtime, entry).toBe('nodejs22.x');
      expect(properties.Architectures, entry).toEqual(['arm64']);
      expect(properties.Environment.Variables, entry).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'credits-ledger-test',
        POWERTOOLS_METRICS_NAMESPACE: 'CreditsLedger',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        [ENV.ledgerTable]: { Ref: ledgerTableId() },
      });
      // --enable-source-maps would read the map at every cold start (about 20 ms); stack traces resolve offline.
      expect(properties.Environment.Variables.NODE_OPTIONS, entry).toBeUndefined();
    }
  });

  it('logs to its own log group, kept three months, and may write to that group only', () => {
    for (const entry of ALL_ENTRIES) {
      const logGroupId = stack.getLogicalId(fnOf(entry).logGroup.node.defaultChild as any);
      expect(functionProps(entry).LoggingConfig, entry).toEqual({ LogGroup: { Ref: logGroupId } });
      expect(resource(template, logGroupId).Properties!.RetentionInDays, entry).toBe(90);
      const logStatements = statementsOf(entry).filter((statement) => actionsOf([statement]).some((action) => action.startsWith('logs:')));
      expect(logStatements.map((statement) => statement.Resource), entry).toEqual([{ 'Fn::GetAtt': [logGroupId, 'Arn'] }]);
    }
  });

  it('uses no AWS managed policy (each role holds only the grants made for it)', () => {
    for (const [, role] of resources(template, 'AWS::IAM::Role')) expect(role.Properties!.ManagedPolicyArns).toBeUndefined();
  });
});

describe('HTTP functions', () => {
  it('know the finance principals and the customer account claim from context', () => {
    for (const route of ROUTES) {
      expect(functionProps(route.entry).Environment.Variables, route.entry).toMatchObject({
        [ENV.financePrincipals]: TEST_CONTEXT.financePrincipalArns,
        [ENV.customerAccountClaim]: 'account_id',
      });
    }
  });

  it('of commands append to the ledger with conditional writes and never delete', () => {
    for (const route of ROUTES.filter((candidate) => candidate.mutating)) {
      const actions = actionsOf(statementsOf(route.entry));
      expect(actions, route.entry).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem']));
      expect(actions, route.entry).not.toContain('dynamodb:DeleteItem');
      expect(actions.filter((action) => !action.startsWith('dynamodb:') && !action.startsWith('logs:')), route.entry).toEqual([]);
    }
  });

  it('of queries only read', () => {
    for (const route of ROUTES.filter((candidate) => !candidate.mutating)) {
      const actions = actionsOf(statementsOf(route.entry));
      expect(actions.filter((action) => WRITE_ACTIONS.includes(action)), route.entry).toEqual([]);
      expect(actions.filter((action) => !action.startsWith('dynamodb:') && !action.startsWith('logs:')), route.entry).toEqual([]);
    }
  });

  it('of the catalog read no table at all (the catalog is data in the code)', () => {
    expect(actionsOf(statementsOf('functions/http/get-catalog.ts')).filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
  });
});

describe('the APIs', () => {
  const apiId = (which: 'internalApi' | 'customerApi') => stack.getLogicalId(ledger().apis[which].node.defaultChild as any);
  const routesOf = (which: 'internalApi' | 'customerApi') =>
    resources(template, 'AWS::ApiGatewayV2::Route').filter(([, route]) => route.Properties!.ApiId.Ref === apiId(which));
  const routeKeys = (which: 'internalApi' | 'customerApi') => routesOf(which).map(([, route]) => route.Properties!.RouteKey as string).sort();
  const keyOf = (route: (typeof ROUTES)[number]) => `${route.method} ${route.path}`;

  it('serve every route of SPEC §6 to IAM callers (services and finance) on the internal API', () => {
    expect(routeKeys('internalApi')).toEqual(ROUTES.filter((route) => route.access.service || route.access.finance).map(keyOf).sort());
    expect(routeKeys('internalApi')).toHaveLength(ROUTES.length);
  });

  it('serve to customers exactly the routes a customer may call for its own account', () => {
    expect(routeKeys('customerApi')).toEqual(ROUTES.filter((route) => route.access.ownCustomer).map(keyOf).sort());
    expect(routeKeys('customerApi')).not.toContain('POST /v1/accounts/{id}/adjustments');
    expect(routeKeys('customerApi')).not.toContain('POST /v1/usage');
  });

  it('authorize every internal route with IAM (SigV4)', () => {
    for (const [, route] of routesOf('internalApi')) {
      expect(route.Properties!.AuthorizationType, route.Properties!.RouteKey).toBe('AWS_IAM');
    }
  });

  it('authorize every customer route with the JWT authorizer whose issuer and audience come from context', () => {
    const [authorizers] = [resources(template, 'AWS::ApiGatewayV2::Authorizer')];
    expect(authorizers).toHaveLength(1);
    const [authorizerId, authorizer] = authorizers[0]!;
    expect(authorizer.Properties).toMatchObject({
      ApiId: { Ref: apiId('customerApi') },
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: TEST_CONTEXT.jwtIssuer, Audience: [TEST_CONTEXT.jwtAudience] },
    });
    for (const [, route] of routesOf('customerApi')) {
      expect(route.Properties, route.Properties!.RouteKey).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizerId } });
    }
  });

  it('send each route to the function of its entry, whichever API it came through', () => {
    const integrations = Object.fromEntries(resources(template, 'AWS::ApiGatewayV2::Integration'));
    for (const which of ['internalApi', 'customerApi'] as const) {
      for (const [, route] of routesOf(which)) {
        const definition = ROUTES.find((candidate) => keyOf(candidate) === route.Properties!.RouteKey)!;
        const integrationId = route.Properties!.Target['Fn::Join'][1][1].Ref as string;
        expect(integrations[integrationId]!.Properties).toMatchObject({
          IntegrationType: 'AWS_PROXY',
          PayloadFormatVersion: '2.0',
          IntegrationUri: { 'Fn::GetAtt': [logicalIdOfFunction(stack, fnOf(definition.entry)), 'Arn'] },
        });
      }
    }
  });

  it('throttle at the stage and log every request to a log group', () => {
    const stages = resources(template, 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(2);
    for (const [, stage] of stages) {
      expect(stage.Properties).toMatchObject({ StageName: '$default', AutoDeploy: true });
      expect(stage.Properties!.DefaultRouteSettings.ThrottlingRateLimit).toBeGreaterThan(0);
      expect(stage.Properties!.DefaultRouteSettings.ThrottlingBurstLimit).toBeGreaterThan(0);
      const destination = stage.Properties!.AccessLogSettings.DestinationArn['Fn::GetAtt'];
      expect(resource(template, destination[0]).Type).toBe('AWS::Logs::LogGroup');
      expect(JSON.parse(stage.Properties!.AccessLogSettings.Format)).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    }
  });
});

describe('a product service granted the service routes', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('may invoke exactly the routes a service may call, on the internal API', () => {
    let role: iam.Role | undefined;
    const { stack: s, template: t } = synthesize(TEST_CONTEXT, {
      customize: (target) => {
        role = new iam.Role(target, 'ChatService', { assumedBy: new iam.AccountRootPrincipal() });
        target.ledger.grantInvokeServiceRoutes(role);
      },
    });
    const statements = statementsOfRole(t, logicalIdOfRole(s, role!));
    expect(actionsOf(statements)).toEqual(['execute-api:Invoke']);
    const arns = asList(statements[0]!.Resource).map((arn) => JSON.stringify(arn));
    expect(arns).toHaveLength(ROUTES.filter((route) => route.access.service).length);
    expect(arns.join('\n')).toContain('/POST/v1/usage"');
    expect(arns.join('\n')).toContain('/GET/v1/accounts/*/balance"');
    expect(arns.join('\n')).not.toContain('/adjustments');
    const internalApiId = s.getLogicalId(s.ledger.apis.internalApi.node.defaultChild as any);
    for (const arn of arns) expect(arn).toContain(internalApiId);
  });
});

describe('the stream consumers', () => {
  const mappings = () => resources(template, 'AWS::Lambda::EventSourceMapping');
  const mappingOf = (entry: string) => {
    const functionId = logicalIdOfFunction(stack, fnOf(entry));
    const found = mappings().find(([, mapping]) => mapping.Properties!.FunctionName.Ref === functionId);
    if (found === undefined) throw new Error(`no mapping for ${entry}`);
    return found[1].Properties!;
  };

  it('each read the ledger stream through exactly one mapping', () => {
    expect(mappings()).toHaveLength(Object.keys(STREAM_CONSUMERS).length);
    for (const entry of Object.values(STREAM_CONSUMERS)) {
      expect(mappingOf(entry).EventSourceArn, entry).toEqual({ 'Fn::GetAtt': [ledgerTableId(), 'StreamArn'] });
    }
  });

  const patternOf = (entry: string) => {
    const filters = mappingOf(entry).FilterCriteria.Filters as Array<{ Pattern: string }>;
    expect(filters, entry).toHaveLength(1);
    return JSON.parse(filters[0]!.Pattern) as Record<string, unknown>;
  };
  const eventInserts = (newImage: Record<string, unknown> = {}) => ({
    eventName: ['INSERT'],
    dynamodb: { NewImage: { [LEDGER_KEYS.kindAttribute]: { S: [ITEM_KINDS.event] }, ...newImage } },
  });

  it('receive only inserts of event items of the types each acts on (Lambda neither invokes nor bills for the rest)', () => {
    expect(patternOf(STREAM_CONSUMERS.projectLedger)).toEqual(eventInserts());
    expect(patternOf(STREAM_CONSUMERS.scheduleCycleReset)).toEqual(eventInserts({ type: { S: ['Granted'] } }));
    expect(patternOf(STREAM_CONSUMERS.sendThresholdWarnings)).toEqual(
      eventInserts({ type: { S: ['ThresholdCrossed', 'AccountOpened', 'ContactUpdated'] } }),
    );
  });

  it('given a debit, only the projection consumer is invoked for it', () => {
    const debit = { eventName: 'INSERT', dynamodb: { NewImage: { [LEDGER_KEYS.kindAttribute]: { S: ITEM_KINDS.event }, type: { S: 'Debited' } } } };
    const invoked = Object.entries(STREAM_CONSUMERS).filter(([, entry]) => matchesPattern(patternOf(entry), debit));
    expect(invoked.map(([name]) => name)).toEqual(['projectLedger']);
  });

  it('filter exactly as the local stream poller does (the same records pass both, consumer by consumer)', async () => {
    const eventTypes = ledgerEventSchema.options.map((option) => option.shape.type.value);
    expect(eventTypes).toContain('Debited');
    const record = (eventName: string, kind: string, type?: string) => ({
      eventName,
      dynamodb: { NewImage: { [LEDGER_KEYS.kindAttribute]: { S: kind }, ...(type === undefined ? {} : { type: { S: type } }) } },
    });
    const samples = [
      ...eventTypes.flatMap((type) => [record('INSERT', ITEM_KINDS.event, type), record('MODIFY', ITEM_KINDS.event, type), record('REMOVE', ITEM_KINDS.event, type)]),
      record('INSERT', ITEM_KINDS.event),
      record('INSERT', ITEM_KINDS.head),
      record('MODIFY', ITEM_KINDS.head),
      record('INSERT', ITEM_KINDS.idempotency),
      record('INSERT', ITEM_KINDS.delivery, 'ThresholdCrossed'),
    ];
    const local = await deployedStreamConsumers();
    expect(local.map((consumer) => consumer.name).sort()).toEqual(Object.keys(STREAM_CONSUMERS).sort());
    for (const consumer of local) {
      const pattern = patternOf(STREAM_CONSUMERS[consumer.name as keyof typeof STREAM_CONSUMERS]);
      expect(consumer.filter, consumer.name).toBeDefined();
      for (const sample of samples) {
        expect(matchesPattern(pattern, sample), `${consumer.name} ${JSON.stringify(sample)}`).toBe(consumer.filter!(sample as any));
      }
    }
    // Every event insert is projected (an event item without a type too: the consumer reports it failed); the two
    // side-effect consumers get a few types between them.
    const passing = (name: string) => samples.filter((sample) => local.find((c) => c.name === name)!.filter!(sample as any)).length;
    expect(passing('projectLedger')).toBe(eventTypes.length + 1);
    expect(passing('scheduleCycleReset')).toBe(1);
    expect(passing('sendThresholdWarnings')).toBe(3);
  });

  it('report failed records one by one, bisect failing batches, and retry a bounded number of times for a bounded age', () => {
    for (const entry of Object.values(STREAM_CONSUMERS)) {
      const mapping = mappingOf(entry);
      expect(mapping.FunctionResponseTypes, entry).toEqual(['ReportBatchItemFailures']);
      expect(mapping.BisectBatchOnFunctionError, entry).toBe(true);
      expect(mapping.MaximumRetryAttempts, entry).toBeGreaterThan(0);
      expect(mapping.MaximumRetryAttempts, entry).toBeLessThanOrEqual(10);
      expect(mapping.MaximumRecordAgeInSeconds, entry).toBeGreaterThan(0);
      // The stream keeps records 24 hours: an older record is gone, not retried.
      expect(mapping.MaximumRecordAgeInSeconds, entry).toBeLessThan(24 * 60 * 60);
      expect(mapping.BatchSize, entry).toBeGreaterThan(0);
    }
  });

  it('process one batch per shard at a time from the oldest record the stream holds', () => {
    for (const entry of Object.values(STREAM_CONSUMERS)) {
      expect(mappingOf(entry), entry).toMatchObject({ ParallelizationFactor: 1, StartingPosition: 'TRIM_HORIZON' });
    }
  });

  it('send what they give up on to their own encrypted dead-letter queue', () => {
    const queues = new Set<string>();
    for (const entry of Object.values(STREAM_CONSUMERS)) {
      const destination = mappingOf(entry).DestinationConfig.OnFailure.Destination['Fn::GetAtt'];
      const queue = resource(template, destination[0]);
      expect(queue.Type, entry).toBe('AWS::SQS::Queue');
      expect(queue.Properties!.SqsManagedSseEnabled, entry).toBe(true);
      queues.add(destination[0]);
      expect(JSON.stringify(statementsOf(entry).filter((statement) => actionsOf([statement]).includes('sqs:SendMessage')))).toContain(destination[0]);
    }
    expect(queues.size).toBe(Object.keys(STREAM_CONSUMERS).length);
  });

  it('may read the ledger stream and nothing else of it', () => {
    for (const entry of Object.values(STREAM_CONSUMERS)) {
      const streamStatements = statementsOf(entry).filter((statement) => actionsOf([statement]).includes('dynamodb:GetRecords'));
      expect(streamStatements.map((statement) => statement.Resource), entry).toEqual([{ 'Fn::GetAtt': [ledgerTableId(), 'StreamArn'] }]);
    }
  });
});

describe('cycle-reset schedules', () => {
  const schedules = () => ledger().schedules;
  const schedulerRoleId = () => logicalIdOfRole(stack, schedules().role);
  const groupId = () => stack.getLogicalId(schedules().group.node.defaultChild as any);
  const rollOverId = () => logicalIdOfFunction(stack, fnOf(SCHEDULED.rollOverCycle));

  it('fire with a role only EventBridge Scheduler may assume, and only for this account and schedule group', () => {
    expect(resource(template, schedulerRoleId()).Properties!.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' }, 'aws:SourceArn': { 'Fn::GetAtt': [groupId(), 'Arn'] } } },
      },
    ]);
  });

  it('with a role whose only invocation is the roll-over function (and whose only other right is its dead-letter queue)', () => {
    const statements = statementsOfRole(template, schedulerRoleId());
    const deadLettersId = stack.getLogicalId(schedules().deadLetterQueue.node.defaultChild as any);
    expect(statements.map(({ Action, Resource, Effect }) => ({ Action, Resource, Effect }))).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [rollOverId(), 'Arn'] } },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [deadLettersId, 'Arn'] } },
    ]);
  });

  it('are created by schedule-cycle-reset, which may create schedules in the group only and pass that one role to Scheduler only', () => {
    const statements = statementsOf(STREAM_CONSUMERS.scheduleCycleReset);
    const create = statements.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('scheduler:')));
    expect(actionsOf(create)).toEqual(['scheduler:CreateSchedule']);
    expect(JSON.stringify(create[0]!.Resource)).toContain(`:schedule/${schedules().group.scheduleGroupName}/*`);
    const pass = statements.filter((statement) => actionsOf([statement]).includes('iam:PassRole'));
    expect(pass).toEqual([
      expect.objectContaining({
        Resource: { 'Fn::GetAtt': [schedulerRoleId(), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    ]);
  });

  it('reach schedule-cycle-reset as the group, the roll-over ARN, the role ARN and the dead-letter queue ARN', () => {
    const deadLettersId = stack.getLogicalId(schedules().deadLetterQueue.node.defaultChild as any);
    expect(functionProps(STREAM_CONSUMERS.scheduleCycleReset).Environment.Variables).toMatchObject({
      [ENV.scheduleGroup]: schedules().group.scheduleGroupName,
      [ENV.rollOverFunctionArn]: { 'Fn::GetAtt': [rollOverId(), 'Arn'] },
      [ENV.schedulerRoleArn]: { 'Fn::GetAtt': [schedulerRoleId(), 'Arn'] },
      [ENV.schedulesDlqArn]: { 'Fn::GetAtt': [deadLettersId, 'Arn'] },
    });
  });

  it('roll a cycle that has already ended over directly, so schedule-cycle-reset may also append to the ledger', () => {
    const actions = actionsOf(statementsOf(STREAM_CONSUMERS.scheduleCycleReset));
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem']));
    expect(actions).not.toContain('dynamodb:DeleteItem');
  });

  it('no one else may create schedules or pass roles', () => {
    for (const entry of ALL_ENTRIES.filter((candidate) => candidate !== STREAM_CONSUMERS.scheduleCycleReset)) {
      const actions = actionsOf(statementsOf(entry));
      expect(actions.filter((action) => action.startsWith('scheduler:') || action === 'iam:PassRole'), entry).toEqual([]);
    }
  });

  it('invoke a roll-over whose own failures, after Lambda retries them, are kept in a dead-letter queue', () => {
    const [[, config]] = resources(template, 'AWS::Lambda::EventInvokeConfig') as [[string, any]];
    expect(config.Properties).toMatchObject({ FunctionName: { Ref: rollOverId() }, MaximumRetryAttempts: 2 });
    expect(resource(template, config.Properties.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0]).Type).toBe('AWS::SQS::Queue');
  });
});

describe('warnings', () => {
  const notifications = () => ledger().notifications;
  const alertsTopicId = () => stack.getLogicalId(notifications().alertsTopic.node.defaultChild as any);
  const keyId = () => stack.getLogicalId(notifications().key.node.defaultChild as any);

  it('go through an alerts topic encrypted with a rotated customer managed key, TLS only', () => {
    expect(resource(template, alertsTopicId()).Properties!.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId(), 'Arn'] });
    expect(resource(template, keyId()).Properties!.EnableKeyRotation).toBe(true);
    const policies = resources(template, 'AWS::SNS::TopicPolicy').filter(([, policy]) => JSON.stringify(policy.Properties!.Topics).includes(alertsTopicId()));
    expect(JSON.stringify(policies)).toContain('aws:SecureTransport');
  });

  it('whose key lets SNS (for this account) and CloudWatch alarms use it', () => {
    const statements = resource(template, keyId()).Properties!.KeyPolicy.Statement as Statement[];
    const forService = (service: string) => statements.find((statement) => JSON.stringify((statement as any).Principal) === JSON.stringify({ Service: service }));
    expect(forService('sns.amazonaws.com')).toMatchObject({ Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } });
    expect(forService('cloudwatch.amazonaws.com')).toMatchObject({ Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] });
  });

  it('are sent by send-threshold-warnings, which knows the topic and may publish to it, SMS phones, and subscribe emails to it', () => {
    const entry = STREAM_CONSUMERS.sendThresholdWarnings;
    expect(functionProps(entry).Environment.Variables[ENV.alertsTopicArn]).toEqual({ Ref: alertsTopicId() });
    const sns = statementsOf(entry).filter((statement) => actionsOf([statement]).some((action) => action.startsWith('sns:')));
    expect(sns.map(({ Action, Resource }) => ({ Action, Resource }))).toEqual([
      { Action: 'sns:Publish', Resource: { Ref: alertsTopicId() } },
      { Action: 'sns:Publish', Resource: '*' },
      { Action: 'sns:Subscribe', Resource: { Ref: alertsTopicId() } },
    ]);
  });

  it('are the only thing that may publish to SNS', () => {
    for (const entry of ALL_ENTRIES.filter((candidate) => candidate !== STREAM_CONSUMERS.sendThresholdWarnings)) {
      expect(actionsOf(statementsOf(entry)).filter((action) => action.startsWith('sns:')), entry).toEqual([]);
    }
  });
});

describe('IAM', () => {
  it('allows Resource "*" in exactly one place AWS requires it: SMS published straight to phone numbers', () => {
    const starred = allIdentityStatements(template).filter(({ statement }) =>
      asList(statement.Resource as unknown).some((arn) => arn === '*'),
    );
    const warningsPolicy = resources(template, 'AWS::IAM::Policy').find(([, policy]) =>
      asList<{ Ref: string }>(policy.Properties!.Roles).some((ref) => ref.Ref === logicalIdOfRole(stack, fnOf(STREAM_CONSUMERS.sendThresholdWarnings).role)),
    )![0];
    expect(starred.map(({ policy, statement }) => ({ policy, action: statement.Action }))).toEqual([{ policy: warningsPolicy, action: 'sns:Publish' }]);
  });

  it('grants nothing by NotResource or NotAction, and never Allow with an action wildcard of a whole service', () => {
    for (const { policy, statement } of allIdentityStatements(template)) {
      expect(statement.NotResource, policy).toBeUndefined();
      expect((statement as any).NotAction, policy).toBeUndefined();
      for (const action of asList(statement.Action)) expect(action, policy).not.toMatch(/:\*$|^\*$/);
    }
  });
});

describe('alarms', { timeout: SYNTH_TIMEOUT_MS }, () => {
  const alarms = () => resources(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties!);
  const operationsTopicId = () => stack.getLogicalId(ledger().notifications.operationsTopic.node.defaultChild as any);

  it('watch every dead-letter queue for a single visible message', () => {
    const queues = resources(template, 'AWS::SQS::Queue').map(([id]) => id);
    expect(queues.length).toBe(Object.keys(STREAM_CONSUMERS).length + 2);
    for (const queueId of queues) {
      const watching = alarms().filter(
        (alarm) => alarm.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(alarm.Dimensions).includes(queueId),
      );
      expect(watching, queueId).toEqual([expect.objectContaining({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Namespace: 'AWS/SQS' })]);
    }
  });

  it('watch each stream consumer falling behind the stream', () => {
    for (const entry of Object.values(STREAM_CONSUMERS)) {
      const functionId = logicalIdOfFunction(stack, fnOf(entry));
      expect(alarms().filter((alarm) => alarm.MetricName === 'IteratorAge' && JSON.stringify(alarm.Dimensions).includes(functionId)), entry).toHaveLength(1);
    }
  });

  it('watch both APIs for 5xx answers', () => {
    for (const which of ['internalApi', 'customerApi'] as const) {
      const api = stack.getLogicalId(ledger().apis[which].node.defaultChild as any);
      expect(alarms().filter((alarm) => alarm.MetricName === '5xx' && JSON.stringify(alarm.Dimensions).includes(api)), which).toHaveLength(1);
    }
  });

  it('watch every function for errors', () => {
    for (const entry of ALL_ENTRIES) {
      const functionId = logicalIdOfFunction(stack, fnOf(entry));
      expect(alarms().filter((alarm) => alarm.MetricName === 'Errors' && JSON.stringify(alarm.Dimensions).includes(functionId)), entry).toHaveLength(1);
    }
  });

  it('all notify the operations topic, which emails the address from context', () => {
    for (const alarm of alarms()) expect(alarm.AlarmActions).toEqual([{ Ref: operationsTopicId() }]);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: TEST_CONTEXT.alarmEmail, TopicArn: { Ref: operationsTopicId() } });
  });

  it('email no one when no address is given', () => {
    const { template: withoutEmail } = synthesize({ ...TEST_CONTEXT, alarmEmail: undefined });
    expect(resources(withoutEmail, 'AWS::SNS::Subscription')).toEqual([]);
  });
});

describe('outputs', () => {
  it('name both API URLs, every table, and the topics', () => {
    const outputs = Object.entries(template.toJSON().Outputs as Record<string, { Value: unknown }>);
    const valueOf = (prefix: string) => outputs.find(([id]) => id.startsWith(`CreditsLedger${prefix}`))?.[1].Value;
    expect(JSON.stringify(valueOf('InternalApiUrl'))).toContain(stack.getLogicalId(ledger().apis.internalApi.node.defaultChild as any));
    expect(JSON.stringify(valueOf('CustomerApiUrl'))).toContain(stack.getLogicalId(ledger().apis.customerApi.node.defaultChild as any));
    for (const definition of TABLES) {
      expect(valueOf(`${definition.id}TableName`), definition.id).toEqual({ Ref: stack.getLogicalId(ledger().tables.byId.get(definition.id)!.node.defaultChild as any) });
    }
    expect(valueOf('AlertsTopicArn')).toEqual({ Ref: stack.getLogicalId(ledger().notifications.alertsTopic.node.defaultChild as any) });
    expect(valueOf('OperationsTopicArn')).toBeDefined();
  });
});

it('names functions after their entry files', () => {
  expect(functionName('functions/http/record-usage-batch.ts')).toBe('RecordUsageBatch');
  expect(functionName(SCHEDULED.rollOverCycle)).toBe('RollOverCycle');
});

/** EventBridge-style pattern matching, enough for exact-value filters: every key of the pattern must match. */
function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.some((allowed) => allowed === value);
  if (pattern !== null && typeof pattern === 'object') {
    if (value === null || typeof value !== 'object') return false;
    return Object.entries(pattern).every(([key, inner]) => matchesPattern(inner, (value as Record<string, unknown>)[key]));
  }
  return false;
}
