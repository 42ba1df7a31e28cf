import { CfnResource, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { STREAM_CONSUMERS } from '../../infra/routes.js';
import { synthesize, SYNTH_TIMEOUT_MS } from './synth.js';

/** Every acknowledgement in a construct tree: rule id → reasons. */
function acknowledgements(root: IConstruct): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        const rule = id.replace(/^annotation::/i, '');
        found.set(rule, [...(found.get(rule) ?? []), reason]);
      }
    }
  }
  return found;
}

describe('cdk-nag, AwsSolutions pack', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('finds nothing in the standalone stack that is not acknowledged', () => {
    const { app, stack } = synthesize();
    const report = new AwsSolutionsChecks(app, { verbose: true }).validateScope(stack);
    expect(report.violations.map((violation) => `${violation.severity} ${violation.ruleName}: ${violation.violatingResources[0]?.constructPath}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('is acknowledged only for the decisions of this design, each with its reason', () => {
    const { stack } = synthesize();
    const acknowledged = acknowledgements(stack);
    const scheduleFinding = [...acknowledged.keys()].find((id) => id.includes(':schedule/'));
    expect([...acknowledged.keys()].sort()).toEqual(
      [
        'AwsSolutions-L1', // the house runtime is nodejs22.x
        'AwsSolutions-SQS3', // dead-letter queues have no dead-letter queue of their own
        'AwsSolutions-IAM5[Resource::*]', // SMS to phone numbers
        'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', // publishing to the encrypted alerts topic
        scheduleFinding!, // schedules created at run time inside the group
      ].sort(),
    );
    expect(scheduleFinding).toMatch(/^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule\/.+\/\*\]$/);
    for (const [id, reasons] of acknowledged) {
      for (const reason of reasons) expect(reason.length, id).toBeGreaterThan(40);
    }
  });

  it('still reports a finding nobody acknowledged (the acknowledgements are scoped, not blanket)', () => {
    const { app, stack } = synthesize(undefined, {
      customize: (target) => {
        // A wildcard the design does not need, on a role whose acknowledgements do not cover it.
        const projector = target.ledger.functions.get(STREAM_CONSUMERS.projectLedger)!;
        projector.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: ['*'] }));
      },
    });
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual(['AwsSolutions-IAM5[Resource::*]']);
    expect(report.violations[0]!.violatingResources.map((resource) => resource.constructPath)).toEqual([
      expect.stringContaining('/ProjectLedger/Role/DefaultPolicy/Resource'),
    ]);
    expect(stack.node.findAll().some((construct) => CfnResource.isCfnResource(construct))).toBe(true);
  });
});
