import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../keys.js';
import { deadLetterQueue } from './dead-letter-queue.js';
import { acknowledgeNag, wildcardResourceFinding } from './nag.js';

export interface CycleSchedulesProps {
  /** The function every schedule invokes: the idempotent per-cycle roll-over. */
  rollOver: lambda.IFunction;
}

/**
 * EventBridge Scheduler's side of cycle resets: the group the per-account one-time schedules live in, the role
 * Scheduler assumes to fire them, and the queue that keeps the fires that could not be delivered. The schedules
 * themselves are created at run time by the schedule-cycle-reset stream consumer.
 */
export class CycleSchedules extends Construct {
  readonly group: scheduler.ScheduleGroup;
  readonly role: iam.Role;
  readonly deadLetterQueue: sqs.Queue;
  private readonly rollOver: lambda.IFunction;

  constructor(scope: Construct, id: string, props: CycleSchedulesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.rollOver = props.rollOver;

    // Why: the per-account schedules live apart from anything else in the account, and IAM can scope to them.
    this.group = new scheduler.ScheduleGroup(this, 'Group', { removalPolicy: RemovalPolicy.RETAIN });

    // Why: a fire Scheduler could not deliver after its retries is kept for inspection and replay, not lost.
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters', 'fires of cycle-reset schedules that could not invoke the roll-over');

    // Why: Scheduler fires a schedule with this role; it may invoke the roll-over function and nothing else.
    this.role = new iam.Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to fire cycle-reset schedules: invokes the roll-over only',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        // Only schedules of this account's cycle-reset group may use the role (confused-deputy protection).
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': this.group.scheduleGroupArn } },
      }),
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeTheRollOverOnly',
        actions: ['lambda:InvokeFunction'],
        resources: [props.rollOver.functionArn],
      }),
    );
    // Scheduler delivers a schedule's dead letters with the schedule's execution role, so the role must be able
    // to send to that one queue (AWS: "Set up execution role permissions" for a schedule's DLQ).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DeliverUndeliverableFiresToTheDeadLetterQueue',
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );
  }

  /** The schedules' coordinates, under the environment variable names the schedule-cycle-reset function reads. */
  environment(): Record<string, string> {
    return {
      [ENV.scheduleGroup]: this.group.scheduleGroupName,
      [ENV.rollOverFunctionArn]: this.rollOver.functionArn,
      [ENV.schedulerRoleArn]: this.role.roleArn,
      [ENV.schedulesDlqArn]: this.deadLetterQueue.queueArn,
    };
  }

  /**
   * The schedule-cycle-reset consumer: create schedules in this group only, and hand them this role only. A
   * schedule that already exists counts as created, so it needs neither Get nor Update.
   */
  grantCreateSchedules(role: iam.Role): void {
    const schedulesOfGroup = Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.group.scheduleGroupName}/*`,
    });
    iam.Grant.addToPrincipal({ grantee: role, actions: ['scheduler:CreateSchedule'], resourceArns: [schedulesOfGroup] });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PassTheSchedulerRoleToSchedulerOnly',
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
    acknowledgeNag(
      role,
      wildcardResourceFinding(role, schedulesOfGroup),
      'Schedules are created at run time, one per account and cycle, named after the account; the wildcard covers only schedules inside the cycle-reset schedule group.',
    );
  }
}
