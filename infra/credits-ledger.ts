import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEFAULT_CUSTOMER_ACCOUNT_CLAIM } from '../functions/lib/auth.js';
import { CycleSchedules } from './constructs/cycle-schedules.js';
import { deadLetterQueue } from './constructs/dead-letter-queue.js';
import { LedgerAlarms } from './constructs/ledger-alarms.js';
import { LedgerApis, servedByInternalApi } from './constructs/ledger-apis.js';
import { LedgerFunction, type CodeOverride } from './constructs/ledger-function.js';
import { LedgerTables } from './constructs/ledger-tables.js';
import { acknowledgeNag } from './constructs/nag.js';
import { Notifications } from './constructs/notifications.js';
import { StreamConsumer, type StreamConsumerTuning } from './constructs/stream-consumer.js';
import { CONSUMER_EVENT_TYPES } from './constructs/stream-filters.js';
import { ENV } from './keys.js';
import { ROUTES, SCHEDULED, STREAM_CONSUMERS, type RouteDefinition } from './routes.js';
import { TABLES, type TableDefinition } from './tables.js';

/** This repository's root: where the handler entries and package-lock.json are. */
export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');


export interface CreditsLedgerProps {
  /** Deployment stage (`dev`, `prod` …): part of the Powertools service name. */
  stage: string;
  /** The customer identity provider's issuer URL (`iss` of its tokens), e.g. a Cognito user pool URL. */
  jwtIssuer: string;
  /** Accepted `aud` (or `client_id`) values of customer tokens. */
  jwtAudience: readonly string[];
  /** IAM role ARNs (or role names) whose signed calls act as finance; every other IAM caller is a service. */
  financePrincipalArns?: readonly string[];
  /** The JWT claim that carries a customer's account id. Default `account_id`. */
  customerAccountClaim?: string;
  /** Email address subscribed to the operations topic (alarms). */
  alarmEmail?: string;
  /** Browser origins allowed to call the customer API. Default: none (no CORS). */
  customerCorsOrigins?: readonly string[];
  /** Powertools log level. Default `INFO`. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** How long function and access logs are kept. Default three months. */
  logRetention?: logs.RetentionDays;
  /** Default: infra/tables.ts TABLES. */
  tables?: readonly TableDefinition[];
  /** Default: infra/routes.ts ROUTES. */
  routes?: readonly RouteDefinition[];
  /** Where the entries live. Default: this repository. */
  projectRoot?: string;
  /** Synth-only tests: replace esbuild bundling of an entry with this code. Leave unset to deploy. */
  codeOverride?: CodeOverride;
}

/** How each consumer reads the stream (see StreamConsumerTuning). */
const STREAM_TUNING: Record<keyof typeof STREAM_CONSUMERS, StreamConsumerTuning> = {
  // Large batches: each record is one small conditional write, and a projection catching up should do it fast.
  // Many retries: a version gap is filled from the table or waits for the missing record, which takes retries.
  projectLedger: { batchSize: 100, retryAttempts: 10, maxRecordAge: Duration.hours(6) },
  // Small batches: each record may send email and SMS, and a failed batch is retried, deliveries deduplicated.
  sendThresholdWarnings: { batchSize: 10, retryAttempts: 5, maxRecordAge: Duration.hours(6) },
  // A missed schedule leaves an idle account unreset until its next command: retry generously.
  scheduleCycleReset: { batchSize: 25, retryAttempts: 10, maxRecordAge: Duration.hours(6) },
};

/** Memory buys CPU on Lambda: the HTTP path is latency-bound (JSON, zod, SigV4 to DynamoDB), the rest is not. */
const HTTP_MEMORY_MB = 1024;
const BACKGROUND_MEMORY_MB = 512;
/** API Gateway gives up after 30 s; a command takes a read and a transaction, retried a few times on conflict. */
const HTTP_TIMEOUT = Duration.seconds(10);
const STREAM_TIMEOUT = Duration.minutes(1);
const ROLL_OVER_TIMEOUT = Duration.seconds(30);

/** Routes whose handler reads no table: the catalog is data bundled with the code. */
const ROUTES_WITHOUT_DATA: ReadonlySet<string> = new Set(['functions/http/get-catalog.ts']);

/** `functions/http/record-usage.ts` → `RecordUsage`. */
export function functionName(entry: string): string {
  return path
    .basename(entry, path.extname(entry))
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== '')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** The execute-api ARN an IAM caller needs `execute-api:Invoke` on for one route (any stage, any account id). */
function routeInvokeArn(scope: Construct, apiId: string, route: RouteDefinition): string {
  const resourcePath = route.path.replace(/\{[^}]+\}/g, '*');
  return Stack.of(scope).formatArn({ service: 'execute-api', resource: apiId, resourceName: `*/${route.method}${resourcePath}` });
}

/**
 * The credits ledger, whole: tables, functions, both HTTP APIs, stream consumers, cycle-reset schedules,
 * warning delivery and the alarms. Put it in any stack; infra/app.ts deploys it standalone.
 */
export class CreditsLedger extends Construct {
  readonly tables: LedgerTables;
  readonly apis: LedgerApis;
  readonly notifications: Notifications;
  readonly schedules: CycleSchedules;
  readonly alarms: LedgerAlarms;
  /** Every function, by entry (infra/routes.ts). */
  readonly functions: ReadonlyMap<string, LedgerFunction>;
  readonly streamConsumers: ReadonlyMap<keyof typeof STREAM_CONSUMERS, StreamConsumer>;
  private readonly routes: readonly RouteDefinition[];

  constructor(scope: Construct, id: string, props: CreditsLedgerProps) {
    super(scope, id);
    this.routes = props.routes ?? ROUTES;
    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const functions = new Map<string, LedgerFunction>();
    const newFunction = (entry: string, description: string, settings: { memorySize: number; timeout: Duration; environment: Record<string, string> }) => {
      const created = new LedgerFunction(this, functionName(entry), {
        entry,
        description,
        projectRoot: props.projectRoot ?? REPOSITORY_ROOT,
        ...settings,
        powertools: { serviceName: `credits-ledger-${props.stage}`, metricsNamespace: 'CreditsLedger', logLevel: props.logLevel ?? 'INFO' },
        logRetention,
        ...(props.codeOverride === undefined ? {} : { codeOverride: props.codeOverride }),
      });
      functions.set(entry, created);
      return created;
    };

    // Why: the ledger (events, heads, idempotency records) and the read models, as infra/tables.ts defines them.
    this.tables = new LedgerTables(this, 'Tables', { definitions: props.tables ?? TABLES });
    const tableEnvironment = this.tables.environment();

    // Why: warnings to customers and alarms to operators, both encrypted.
    this.notifications = new Notifications(this, 'Notifications', props.alarmEmail === undefined ? {} : { alarmEmail: props.alarmEmail });

    // Why: one function per HTTP entry, shared by the internal and the customer API, granted by what it does.
    const httpEnvironment = {
      ...tableEnvironment,
      [ENV.financePrincipals]: (props.financePrincipalArns ?? []).join(','),
      [ENV.customerAccountClaim]: props.customerAccountClaim ?? DEFAULT_CUSTOMER_ACCOUNT_CLAIM,
    };
    for (const route of this.routes) {
      if (functions.has(route.entry)) continue;
      const handler = newFunction(route.entry, `${route.method} ${route.path}`, {
        memorySize: HTTP_MEMORY_MB,
        timeout: HTTP_TIMEOUT,
        environment: httpEnvironment,
      });
      if (route.mutating) this.tables.grantAppendEvents(handler.role);
      else if (!ROUTES_WITHOUT_DATA.has(route.entry)) {
        this.tables.grantReadLedger(handler.role);
        this.tables.grantReadProjections(handler.role);
      }
    }

    // Why: one schedule per account fires the idempotent roll-over at each cycle end.
    const rollOver = newFunction(SCHEDULED.rollOverCycle, 'Rolls an account over to its next cycle (fired by its schedule)', {
      memorySize: BACKGROUND_MEMORY_MB,
      timeout: ROLL_OVER_TIMEOUT,
      environment: tableEnvironment,
    });
    this.tables.grantAppendEvents(rollOver.role);
    // Why: Scheduler invokes asynchronously; a roll-over that keeps failing is kept here instead of dropped.
    const rollOverFailures = deadLetterQueue(this, 'RollOverFailures', 'roll-over invocations that failed after their retries');
    rollOver.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(rollOverFailures),
    });
    this.schedules = new CycleSchedules(this, 'CycleSchedules', { rollOver: rollOver.function });

    // Why: each stream consumer is its own function, with its own mapping, dead-letter queue and grants.
    const streamArn = this.tables.ledger.tableStreamArn;
    if (streamArn === undefined) throw new Error('The ledger table must have a stream.');
    const consumers = new Map<keyof typeof STREAM_CONSUMERS, StreamConsumer>();
    const consumerPurposes: Record<keyof typeof STREAM_CONSUMERS, string> = {
      projectLedger: 'Builds the read models from the ledger stream',
      sendThresholdWarnings: 'Sends low-balance warnings (email, SMS) from the ledger stream',
      scheduleCycleReset: 'Creates the schedule of each new cycle from the ledger stream',
    };
    for (const [key, entry] of Object.entries(STREAM_CONSUMERS) as Array<[keyof typeof STREAM_CONSUMERS, string]>) {
      const environment =
        key === 'sendThresholdWarnings'
          ? { ...tableEnvironment, [ENV.alertsTopicArn]: this.notifications.alertsTopic.topicArn }
          : key === 'scheduleCycleReset'
            ? { ...tableEnvironment, ...this.schedules.environment() }
            : tableEnvironment;
      const consumer = newFunction(entry, consumerPurposes[key], { memorySize: BACKGROUND_MEMORY_MB, timeout: STREAM_TIMEOUT, environment });
      this.tables.grantReadLedgerStream(consumer.role);
      switch (key) {
        case 'projectLedger':
          this.tables.grantReadLedger(consumer.role); // fills version gaps from the table
          this.tables.grantWriteProjections(consumer.role);
          break;
        case 'sendThresholdWarnings':
          this.tables.grantRecordDeliveries(consumer.role);
          this.notifications.grantSendWarnings(consumer.role);
          this.notifications.grantSubscribeEmails(consumer.role);
          break;
        case 'scheduleCycleReset':
          this.schedules.grantCreateSchedules(consumer.role);
          // A cycle that already ended cannot be scheduled (no at() in the past): it rolls it over itself.
          this.tables.grantAppendEvents(consumer.role);
          break;
      }
      consumers.set(
        key,
        new StreamConsumer(this, `${functionName(entry)}Stream`, {
          function: consumer.function,
          streamArn,
          purpose: functionName(entry),
          events: CONSUMER_EVENT_TYPES[key],
          ...STREAM_TUNING[key],
        }),
      );
    }
    this.functions = functions;
    this.streamConsumers = consumers;

    // Why: both APIs of SPEC §6 on the functions above.
    this.apis = new LedgerApis(this, 'Api', {
      routes: this.routes,
      handlerOf: (route) => functions.get(route.entry)!.function,
      jwtIssuer: props.jwtIssuer,
      jwtAudience: props.jwtAudience,
      ...(props.customerCorsOrigins === undefined ? {} : { customerCorsOrigins: props.customerCorsOrigins }),
      logRetention,
    });

    // Why: every dead letter, lagging consumer, 5xx and function error reaches the operations topic.
    this.alarms = new LedgerAlarms(this, 'Alarms', { topic: this.notifications.operationsTopic });
    for (const [key, consumer] of consumers) {
      const name = functionName(STREAM_CONSUMERS[key]);
      this.alarms.onDeadLetters(name, consumer.deadLetterQueue, `A ${name} stream record`);
      this.alarms.onIteratorAge(name, functions.get(STREAM_CONSUMERS[key])!.function, name);
    }
    this.alarms.onDeadLetters('CycleResetSchedules', this.schedules.deadLetterQueue, 'A cycle-reset schedule fire');
    this.alarms.onDeadLetters('RollOverCycle', rollOverFailures, 'A roll-over invocation');
    this.alarms.onServerErrors('InternalApi', this.apis.internalApi, 'The internal API');
    this.alarms.onServerErrors('CustomerApi', this.apis.customerApi, 'The customer API');
    for (const [entry, fn] of functions) this.alarms.onFunctionErrors(functionName(entry), fn.function, functionName(entry));

    this.suppressFindingsOfDesign(functions);

    // Why: the outputs are what callers and operators need to find the system after a deploy.
    new CfnOutput(this, 'InternalApiUrl', { value: this.apis.internalStage.url, description: 'Services and finance (IAM, SigV4)' });
    new CfnOutput(this, 'CustomerApiUrl', { value: this.apis.customerStage.url, description: 'Customers (JWT)' });
    for (const [tableId, table] of this.tables.byId) new CfnOutput(this, `${tableId}TableName`, { value: table.tableName });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.notifications.alertsTopic.topicArn });
    new CfnOutput(this, 'OperationsTopicArn', { value: this.notifications.operationsTopic.topicArn });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.schedules.group.scheduleGroupName });
  }

  /** A product service: `execute-api:Invoke` on every route a service may call, on the internal API. */
  grantInvokeServiceRoutes(grantee: iam.IGrantable): iam.Grant {
    return this.grantInvokeRoutes(grantee, (route) => route.access.service);
  }

  /** A finance role: `execute-api:Invoke` on every route finance may call (pass the role in financePrincipalArns too). */
  grantInvokeFinanceRoutes(grantee: iam.IGrantable): iam.Grant {
    return this.grantInvokeRoutes(grantee, (route) => route.access.finance);
  }

  private grantInvokeRoutes(grantee: iam.IGrantable, admits: (route: RouteDefinition) => boolean): iam.Grant {
    const routes = this.routes.filter((route) => servedByInternalApi(route) && admits(route));
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: routes.map((route) => routeInvokeArn(this, this.apis.internalApi.apiId, route)),
    });
  }

  /** cdk-nag findings that are decisions of this design, each with its reason, where the resources are made. */
  private suppressFindingsOfDesign(functions: ReadonlyMap<string, LedgerFunction>): void {
    for (const fn of functions.values()) {
      acknowledgeNag(
        fn.function,
        'AwsSolutions-L1',
        'The house runtime is nodejs22.x: the version the code is developed and tested on (the node@22 devDependency); it moves with them, not ahead of them.',
      );
    }
  }
}
