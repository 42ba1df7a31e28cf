import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, LogLevel as EsbuildLogLevel, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The handler every entry exports; NodejsFunction writes the CommonJS bundle as index.js. */
export const HANDLER = 'index.handler';

/**
 * How every function is bundled (NodejsFunction's esbuild options). The benchmark (bench/bundles.ts) builds its
 * bundles through this construct, so it measures exactly what deploys.
 *
 * - CommonJS output, from the dependencies' ES module builds (`mainFields`: `module` first, so esbuild still
 *   tree-shakes them). An ES module bundle imports Node built-ins with `import`, and Node 22 then builds the ESM
 *   facade of `node:http`, reading every export, including the lazy `WebSocket`, `CloseEvent` and `MessageEvent`
 *   that load undici: about 40 ms of every cold start, paid for nothing. A CommonJS bundle `require`s the
 *   built-ins and skips it (about 0.85× the cold import time of the ES module bundle, measured side by side).
 *   Lambda's Node 22 runtime loads `index.js` with `require`.
 * - The AWS SDK is bundled, not taken from the runtime: a pinned version, resolved at build time.
 * - Minified, with names kept: stack traces name the real functions, and errors keep their names.
 * - An external source map with file names and positions (no source text) ships beside the bundle. Node does
 *   not read it at start-up (no `--enable-source-maps`: reading it cost about 20 ms of every cold start); it turns
 *   a logged stack trace's `index.js:line:column` into TypeScript positions when needed (see the README).
 */
const BUNDLING = {
  format: OutputFormat.CJS,
  mainFields: ['module', 'main'],
  bundleAwsSDK: true,
  externalModules: [],
  minify: true,
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  forceDockerBundling: false,
  logLevel: EsbuildLogLevel.WARNING,
} satisfies BundlingOptions;

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
 * - one CommonJS bundle per entry, built by the local esbuild (never Docker), as BUNDLING says;
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
            bundling: BUNDLING,
          })
        : new lambda.Function(this, 'Function', { ...common, code: override, handler: HANDLER });
  }
}
