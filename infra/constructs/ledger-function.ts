import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, LogLevel as EsbuildLogLevel } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * ESM bundles still contain CommonJS dependencies that call `require` (parts of the AWS SDK's dependency tree);
 * an ES module has no `require`, so every bundle starts by making one. The alias avoids clashing with bundled code.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __ledgerCreateRequire } from 'node:module'; const require = __ledgerCreateRequire(import.meta.url);";

/** The handler every entry exports; NodejsFunction writes the ESM bundle as index.mjs. */
export const HANDLER = 'index.handler';

/** Replaces esbuild for one entry (synth-only tests); `undefined` bundles it for real. */
export type CodeOverride = (entry: string) => lambda.Code | undefined;

export interface LedgerFunctionProps {
  /** Handler module relative to `projectRoot` (an `entry` of infra/routes.ts). */
  entry: string;
  /** Repository root: holds the entries and package-lock.json. */
  projectRoot: string;
  description: string;
  environment: Record<string, string>;
  memorySize: number;
  timeout: Duration;
  /** Powertools settings shared by every function of the ledger. */
  powertools: { serviceName: string; metricsNamespace: string; logLevel: string };
  logRetention: logs.RetentionDays;
  codeOverride?: CodeOverride;
}

/**
 * The house Lambda function: org defaults in one place, so every handler runs the same way.
 * - nodejs22.x on arm64 (Graviton: cheaper per GB-second than x86 at equal or better speed for this workload);
 * - one ESM bundle per entry, built by the local esbuild (never Docker), with the AWS SDK bundled (a pinned SDK
 *   version, and no cold-start resolution of the runtime's copy), minified, with source maps;
 * - its own log group with a retention (no log-retention custom resource), and its own role that may write only
 *   to that log group until a caller grants it more, by intent.
 */
export class LedgerFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: LedgerFunctionProps) {
    super(scope, id);

    // Why: logs must not be kept forever, and a log group we own needs no CreateLogGroup permission.
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });

    // Why: one role per function, so each grant below names exactly one function's needs.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${props.entry}`,
    });
    this.logGroup.grantWrite(this.role);

    const common = {
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.powertools.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.powertools.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.powertools.logLevel,
        // Stack traces point at the TypeScript source through the bundled source map.
        NODE_OPTIONS: '--enable-source-maps',
      },
    } satisfies Partial<lambda.FunctionProps>;

    // Why: the function itself; the stand-in code exists only for synth-only tests (see CodeOverride).
    const override = props.codeOverride?.(props.entry);
    this.function =
      override === undefined
        ? new NodejsFunction(this, 'Function', {
            ...common,
            entry: path.join(props.projectRoot, props.entry),
            handler: 'handler',
            projectRoot: props.projectRoot,
            depsLockFilePath: path.join(props.projectRoot, 'package-lock.json'),
            bundling: {
              format: OutputFormat.ESM,
              mainFields: ['module', 'main'],
              banner: ESM_REQUIRE_BANNER,
              bundleAwsSDK: true,
              externalModules: [],
              minify: true,
              // Error names survive minification (handlers and the SDK match errors by name).
              keepNames: true,
              sourceMap: true,
              // The map points at file:line; the sources themselves would only make the bundle larger.
              sourcesContent: false,
              forceDockerBundling: false,
              logLevel: EsbuildLogLevel.WARNING,
            },
          })
        : new lambda.Function(this, 'Function', { ...common, code: override, handler: HANDLER });
  }
}
