import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag (AwsSolutions) acknowledgements, made where the resource is made and always with the reason. A finding
 * of a granular rule is acknowledged one by one (`AwsSolutions-IAM5[Resource::…]`), never the whole rule.
 */
export function acknowledgeNag(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** The IAM5 finding id cdk-nag reports for a wildcard resource ARN (tokens rendered as it renders them). */
export function wildcardResourceFinding(scope: IConstruct, arn: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(scope).resolve(arn))}]`;
}
