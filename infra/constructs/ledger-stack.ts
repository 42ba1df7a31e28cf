import { Annotations, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, Node } from 'constructs';
import { CreditsLedger, type CreditsLedgerProps } from '../credits-ledger.js';
import type { TableDefinition } from '../tables.js';
import type { CodeOverride } from './ledger-function.js';

/**
 * The issuer used when no `jwtIssuer` is given, so `cdk synth` works on a fresh clone. `.invalid` is a reserved
 * top-level domain: no token can come from it, so a stack deployed without a real issuer refuses every customer.
 */
export const UNCONFIGURED_JWT_ISSUER = 'https://issuer.invalid/';

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/** What infra/app.ts reads from CDK context (cdk.json, or `-c key=value` on the command line). */
export type LedgerSettings = Omit<CreditsLedgerProps, 'tables' | 'routes' | 'projectRoot' | 'codeOverride'>;

export class InvalidContextError extends Error {
  override readonly name = 'InvalidContextError';
}

/** A list from context: a JSON array (cdk.json, or `-c key='["a","b"]'`) or a comma-separated string. */
function list(node: Node, key: string): string[] {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return [];
  let items: unknown = value;
  if (typeof value === 'string') items = value.trim().startsWith('[') ? JSON.parse(value) : value.split(',');
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) {
    throw new InvalidContextError(`Context "${key}" must be a list of strings (JSON array or comma-separated), got ${JSON.stringify(value)}.`);
  }
  return items.map((item: string) => item.trim()).filter((item) => item !== '');
}

function text(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') throw new InvalidContextError(`Context "${key}" must be a string.`);
  return String(value).trim();
}

/**
 * Reads and checks the deployment settings. Context keys: stage, jwtIssuer, jwtAudience, financePrincipalArns,
 * alarmEmail, customerAccountClaim, customerCorsOrigins, logLevel, logRetentionDays. Returns the settings and the
 * warnings to show (a missing issuer is a warning, so synth works before anything is configured).
 */
export function settingsFromContext(node: Node): { settings: LedgerSettings; warnings: string[] } {
  const warnings: string[] = [];
  const stage = text(node, 'stage') ?? 'dev';
  if (!/^[a-z][a-z0-9-]{0,23}$/.test(stage)) throw new InvalidContextError(`Context "stage" must be lowercase letters, digits and dashes, got "${stage}".`);

  let jwtIssuer = text(node, 'jwtIssuer');
  let jwtAudience = list(node, 'jwtAudience');
  if (jwtIssuer === undefined) {
    warnings.push(
      `No jwtIssuer in context: the customer API will refuse every token. Deploy with -c jwtIssuer=https://… -c jwtAudience=… to open it.`,
    );
    jwtIssuer = UNCONFIGURED_JWT_ISSUER;
    if (jwtAudience.length === 0) jwtAudience = ['unconfigured'];
  } else {
    if (!/^https:\/\/[^\s/]+/.test(jwtIssuer)) throw new InvalidContextError(`Context "jwtIssuer" must be an https:// URL, got "${jwtIssuer}".`);
    if (jwtAudience.length === 0) throw new InvalidContextError('Context "jwtAudience" is required with "jwtIssuer": the token audiences (client ids) to accept.');
  }

  const financePrincipalArns = list(node, 'financePrincipalArns');
  for (const principal of financePrincipalArns) {
    if (!/^arn:aws[a-z-]*:(iam|sts)::\d{12}:/.test(principal) && !/^[\w+=,.@-]{1,64}$/.test(principal)) {
      throw new InvalidContextError(`Context "financePrincipalArns": "${principal}" is neither an IAM role ARN nor a role name.`);
    }
  }
  if (financePrincipalArns.length === 0) warnings.push('No financePrincipalArns in context: no caller can use the finance routes.');

  const alarmEmail = text(node, 'alarmEmail');
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) {
    throw new InvalidContextError(`Context "alarmEmail" is not an email address: "${alarmEmail}".`);
  }

  const logLevel = text(node, 'logLevel')?.toUpperCase();
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new InvalidContextError(`Context "logLevel" must be one of ${LOG_LEVELS.join(', ')}.`);
  }
  const retentionText = text(node, 'logRetentionDays');
  const logRetention = retentionText === undefined ? undefined : Number(retentionText);
  const offered = Object.values(logs.RetentionDays).filter((days): days is number => typeof days === 'number' && days > 0);
  if (logRetention !== undefined && !offered.includes(logRetention)) {
    throw new InvalidContextError(`Context "logRetentionDays" must be a retention CloudWatch Logs offers: ${offered.join(', ')}.`);
  }

  const customerCorsOrigins = list(node, 'customerCorsOrigins');
  const customerAccountClaim = text(node, 'customerAccountClaim');
  return {
    settings: {
      stage,
      jwtIssuer,
      jwtAudience,
      financePrincipalArns,
      ...(alarmEmail === undefined ? {} : { alarmEmail }),
      ...(customerAccountClaim === undefined ? {} : { customerAccountClaim }),
      ...(customerCorsOrigins.length === 0 ? {} : { customerCorsOrigins }),
      ...(logLevel === undefined ? {} : { logLevel: logLevel as (typeof LOG_LEVELS)[number] }),
      ...(logRetention === undefined ? {} : { logRetention: logRetention as logs.RetentionDays }),
    },
    warnings,
  };
}

export interface LedgerStackProps extends StackProps {
  settings: LedgerSettings;
  /** Warnings to attach to the stack (shown by `cdk synth` and `cdk deploy`). */
  warnings?: readonly string[];
  /** Synth-only tests: see CreditsLedgerProps.codeOverride. */
  codeOverride?: CodeOverride;
  /** Default: infra/tables.ts TABLES. */
  tables?: readonly TableDefinition[];
}

/** The standalone deployment: one stack holding one CreditsLedger. */
export class LedgerStack extends Stack {
  readonly ledger: CreditsLedger;

  constructor(scope: Construct, id: string, props: LedgerStackProps) {
    super(scope, id, props);
    this.ledger = new CreditsLedger(this, 'CreditsLedger', {
      ...props.settings,
      ...(props.codeOverride === undefined ? {} : { codeOverride: props.codeOverride }),
      ...(props.tables === undefined ? {} : { tables: props.tables }),
    });
    Tags.of(this).add('service', 'credits-ledger');
    Tags.of(this).add('stage', props.settings.stage);
    for (const warning of props.warnings ?? []) Annotations.of(this).addWarningV2('credits-ledger:context', warning);
  }
}
