import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LedgerStack, settingsFromContext, type LedgerSettings } from '../../infra/constructs/ledger-stack.js';
import type { CodeOverride } from '../../infra/constructs/ledger-function.js';
import type { TableDefinition } from '../../infra/tables.js';

/**
 * Builds the standalone stack the way infra/app.ts does, from CDK context, without esbuild: every function gets
 * a stand-in inline handler (templates, IAM and cdk-nag do not depend on the bundle). One test bundles for real.
 */
export const INLINE_CODE: CodeOverride = () => lambda.Code.fromInline('export const handler = async () => undefined;');

export const TEST_CONTEXT = {
  stage: 'test',
  jwtIssuer: 'https://auth.example.com/',
  jwtAudience: 'credits-dashboard',
  financePrincipalArns: 'arn:aws:iam::123456789012:role/Finance',
  alarmEmail: 'ops@example.com',
};

/** One scratch directory per test process for the cloud assemblies, removed when the process ends. */
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-ledger-cdk-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

export interface Synthesized {
  app: App;
  stack: LedgerStack;
  readonly template: Template;
  settings: LedgerSettings;
}

/** Synthesizing the whole stack takes seconds, more on a busy machine: infra test files allow this per test. */
export const SYNTH_TIMEOUT_MS = 180_000;

export function synthesize(
  context: Record<string, unknown> = TEST_CONTEXT,
  options: {
    codeOverride?: CodeOverride;
    outdir?: string;
    tables?: readonly TableDefinition[];
    /** Runs on the stack before it is synthesized (add a product service's role, …). */
    customize?: (stack: LedgerStack) => void;
  } = {},
): Synthesized {
  const outdir = options.outdir ?? fs.mkdtempSync(path.join(scratch, 'assembly-'));
  const app = new App({ context, outdir });
  const { settings, warnings } = settingsFromContext(app.node);
  const stack = new LedgerStack(app, `CreditsLedger-${settings.stage}`, {
    settings,
    warnings,
    codeOverride: options.codeOverride ?? INLINE_CODE,
    ...(options.tables === undefined ? {} : { tables: options.tables }),
  });
  options.customize?.(stack);
  let template: Template | undefined;
  return {
    app,
    stack,
    settings,
    // Synthesized on first use: the cdk-nag checks read the construct tree and need no template.
    get template() {
      template ??= Template.fromStack(stack);
      return template;
    },
  };
}
