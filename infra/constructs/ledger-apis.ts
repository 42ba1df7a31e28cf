import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteDefinition } from '../routes.js';

/** Which API serves a route: IAM callers (services, finance) on the internal one, customers on the customer one. */
export function servedByInternalApi(route: RouteDefinition): boolean {
  return route.access.service || route.access.finance;
}

export function servedByCustomerApi(route: RouteDefinition): boolean {
  return route.access.ownCustomer;
}

/**
 * Stage-wide throttling (requests per second, and the burst bucket above it). Internal: product services report
 * usage per AI request, so this is sized for bursts of traffic well above a steady rate; customer: people
 * reading dashboards and exports, far less. Both sit below the account's regional API Gateway quota (10,000 rps)
 * so one API cannot starve the other. Raise them with the traffic; they protect the ledger table, not a budget.
 */
export const INTERNAL_API_THROTTLE = { rateLimit: 2_000, burstLimit: 1_000 } as const;
export const CUSTOMER_API_THROTTLE = { rateLimit: 200, burstLimit: 100 } as const;

/** One JSON line per request: who called what, the outcome, and why it failed if it did. No bodies, no tokens. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    responseLength: '$context.responseLength',
    latencyMs: '$context.responseLatency',
    integrationLatencyMs: '$context.integrationLatency',
    sourceIp: '$context.identity.sourceIp',
    userAgent: '$context.identity.userAgent',
    iamCaller: '$context.identity.userArn',
    jwtSubject: '$context.authorizer.claims.sub',
    authorizerError: '$context.authorizer.error',
    error: '$context.error.message',
    integrationError: '$context.integrationErrorMessage',
  }),
);

export interface LedgerApisProps {
  routes: readonly RouteDefinition[];
  /** The one function that handles a route, whichever API the request came through. */
  handlerOf: (route: RouteDefinition) => lambda.IFunction;
  jwtIssuer: string;
  jwtAudience: readonly string[];
  /** Browser origins allowed to call the customer API (CORS); none by default. */
  customerCorsOrigins?: readonly string[];
  logRetention: logs.RetentionDays;
}

/**
 * The HTTP API of SPEC §6 served twice from the same functions, because API Gateway allows one authorizer per
 * route: the internal API authorizes every route with IAM (SigV4-signed calls from product services and finance
 * roles), the customer API authorizes the routes a customer may call (access.ownCustomer) with a JWT. The
 * handlers tell the callers apart by the authorizer that vouched for the request (functions/lib/auth.ts).
 */
export class LedgerApis extends Construct {
  readonly internalApi: apigw.HttpApi;
  readonly internalStage: apigw.HttpStage;
  readonly customerApi: apigw.HttpApi;
  readonly customerStage: apigw.HttpStage;

  constructor(scope: Construct, id: string, props: LedgerApisProps) {
    super(scope, id);

    // Why: services and finance call with their IAM identity; no shared secret to rotate or leak.
    this.internalApi = new apigw.HttpApi(this, 'InternalApi', {
      description: 'Credits ledger: product services and finance (IAM, SigV4)',
      createDefaultStage: false,
    });
    this.internalStage = this.stage(this.internalApi, 'Internal', INTERNAL_API_THROTTLE, props.logRetention);
    // Why: SigV4 with the caller's IAM identity is checked by API Gateway before any function runs.
    const iamAuthorizer = new HttpIamAuthorizer();
    for (const route of props.routes.filter(servedByInternalApi)) {
      this.addRoute(this.internalApi, 'Internal', route, props.handlerOf(route), iamAuthorizer);
    }

    // Why: customers call with the JWT their identity provider issued; the token's claim names their account.
    this.customerApi = new apigw.HttpApi(this, 'CustomerApi', {
      description: 'Credits ledger: customers (JWT)',
      createDefaultStage: false,
      ...(props.customerCorsOrigins === undefined || props.customerCorsOrigins.length === 0
        ? {}
        : {
            corsPreflight: {
              allowOrigins: [...props.customerCorsOrigins],
              allowMethods: [apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.PUT],
              allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
              exposeHeaders: ['idempotent-replayed', 'content-disposition'],
              maxAge: Duration.hours(1),
            },
          }),
    });
    this.customerStage = this.stage(this.customerApi, 'Customer', CUSTOMER_API_THROTTLE, props.logRetention);
    // Why: API Gateway checks the token's signature, issuer, audience and expiry before any function runs.
    const jwtAuthorizer = new HttpJwtAuthorizer('CustomerJwt', props.jwtIssuer, {
      jwtAudience: [...props.jwtAudience],
      identitySource: ['$request.header.Authorization'],
    });
    for (const route of props.routes.filter(servedByCustomerApi)) {
      this.addRoute(this.customerApi, 'Customer', route, props.handlerOf(route), jwtAuthorizer);
    }
  }

  private stage(api: apigw.HttpApi, name: string, throttle: { rateLimit: number; burstLimit: number }, retention: logs.RetentionDays): apigw.HttpStage {
    // Why: every request leaves a line (who, what, status, error) for audits and incident analysis.
    const accessLogs = new logs.LogGroup(this, `${name}AccessLogs`, { retention, removalPolicy: RemovalPolicy.RETAIN });
    // Why: the $default stage serves the API at its root URL, deploys on every change, and carries the limits.
    return new apigw.HttpStage(this, `${name}Stage`, {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });
  }

  private addRoute(
    api: apigw.HttpApi,
    apiName: string,
    route: RouteDefinition,
    handler: lambda.IFunction,
    authorizer: apigw.IHttpRouteAuthorizer,
  ): void {
    const id = `${apiName}${route.method}${route.path.replace(/[^A-Za-z0-9]/g, '')}`;
    // Why: the route of infra/routes.ts, proxied (payload 2.0) to the function of its entry.
    api.addRoutes({
      path: route.path,
      methods: [apigw.HttpMethod[route.method]],
      integration: new HttpLambdaIntegration(id, handler),
      authorizer,
    });
  }
}
