import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LedgerStack, settingsFromContext } from './constructs/ledger-stack.js';

/**
 * The standalone deployment: `npx cdk deploy` (settings from cdk.json and `-c key=value`, see
 * the README's "Deploying to AWS"). cdk-nag's AwsSolutions pack checks every synth; an unsuppressed finding fails it.
 */
const app = new App();
const { settings, warnings } = settingsFromContext(app.node);

new LedgerStack(app, `CreditsLedger-${settings.stage}`, {
  description: `Credits ledger (${settings.stage}): event-sourced credits on DynamoDB, Lambda, API Gateway`,
  // Account and region of the deploying credentials; without credentials the stack stays environment-agnostic.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  settings,
  warnings,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
