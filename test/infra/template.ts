import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { LedgerFunction } from '../../infra/constructs/ledger-function.js';

/** Small readers over a synthesized template, so the tests state rules instead of walking JSON. */

export type Resource = { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
export type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; NotResource?: unknown; Condition?: unknown; Sid?: string };

export function resources(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(([, resource]) => resource.Type === type);
}

export function resource(template: Template, logicalId: string): Resource {
  const found = (template.toJSON().Resources as Record<string, Resource>)[logicalId];
  if (found === undefined) throw new Error(`no resource ${logicalId}`);
  return found;
}

export const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export function logicalIdOfFunction(stack: Stack, fn: LedgerFunction): string {
  return stack.getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction);
}

export function logicalIdOfRole(stack: Stack, role: iam.IRole): string {
  return stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
}

/** Every statement of every identity policy attached to a role (its inline policies and AWS::IAM::Policy). */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  const statements: Statement[] = [];
  const role = resource(template, roleLogicalId);
  for (const policy of asList(role.Properties?.Policies)) statements.push(...asList<Statement>(policy.PolicyDocument.Statement));
  for (const [, policy] of resources(template, 'AWS::IAM::Policy')) {
    const attached = asList<{ Ref: string }>(policy.Properties?.Roles).some((ref) => ref.Ref === roleLogicalId);
    if (attached) statements.push(...asList<Statement>(policy.Properties?.PolicyDocument.Statement));
  }
  return statements;
}

/** Every identity-policy statement in the template, with the policy it belongs to. */
export function allIdentityStatements(template: Template): Array<{ policy: string; statement: Statement }> {
  const found: Array<{ policy: string; statement: Statement }> = [];
  for (const [id, policy] of [...resources(template, 'AWS::IAM::Policy'), ...resources(template, 'AWS::IAM::ManagedPolicy')]) {
    for (const statement of asList<Statement>(policy.Properties?.PolicyDocument.Statement)) found.push({ policy: id, statement });
  }
  for (const [id, role] of resources(template, 'AWS::IAM::Role')) {
    for (const policy of asList<any>(role.Properties?.Policies)) {
      for (const statement of asList<Statement>(policy.PolicyDocument.Statement)) found.push({ policy: id, statement });
    }
  }
  return found;
}

export const actionsOf = (statements: Statement[]): string[] => statements.flatMap((statement) => asList(statement.Action));
