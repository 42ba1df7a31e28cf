import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * A stream consumer more than a minute behind for five minutes in a row is stuck or starved: projections and
 * warnings lag, and the stream keeps records only 24 hours.
 */
export const ITERATOR_AGE_THRESHOLD = Duration.minutes(1);
const ITERATOR_AGE_MINUTES = 5;

export interface LedgerAlarmsProps {
  /** Every alarm notifies this topic (and clears there when it recovers). */
  topic: sns.ITopic;
}

/**
 * The alarms someone must act on, all to the operations topic. Thresholds are "any": a dead letter, a 5xx or an
 * unhandled function error is not normal in a billing system, so each one is worth a look.
 */
export class LedgerAlarms extends Construct {
  private readonly action: actions.SnsAction;

  constructor(scope: Construct, id: string, props: LedgerAlarmsProps) {
    super(scope, id);
    this.action = new actions.SnsAction(props.topic);
  }

  /** A message in a dead-letter queue: a record, fire or invocation that was given up on. */
  onDeadLetters(id: string, queue: sqs.IQueue, what: string): cloudwatch.Alarm {
    return this.add(
      `${id}DeadLetters`,
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      { threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods: 1 },
      `${what} landed in a dead-letter queue`,
    );
  }

  /** A stream consumer falling behind the ledger's stream. */
  onIteratorAge(id: string, fn: lambda.IFunction, what: string): cloudwatch.Alarm {
    return this.add(
      `${id}IteratorAge`,
      fn.metric('IteratorAge', { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      {
        threshold: ITERATOR_AGE_THRESHOLD.toMilliseconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: ITERATOR_AGE_MINUTES,
      },
      `${what} is more than ${ITERATOR_AGE_THRESHOLD.toHumanString()} behind the ledger stream`,
    );
  }

  /** The API answered 5xx: a handler failed or timed out, or an integration broke. */
  onServerErrors(id: string, api: apigw.IHttpApi, what: string): cloudwatch.Alarm {
    return this.add(
      `${id}ServerErrors`,
      api.metricServerError({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      { threshold: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, evaluationPeriods: 1 },
      `${what} answered 5xx`,
    );
  }

  /** A function threw (or timed out) instead of answering or reporting failed records. */
  onFunctionErrors(id: string, fn: lambda.IFunction, what: string): cloudwatch.Alarm {
    return this.add(
      `${id}Errors`,
      fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      { threshold: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, evaluationPeriods: 1 },
      `${what} failed`,
    );
  }

  private add(
    id: string,
    metric: cloudwatch.IMetric,
    condition: Pick<cloudwatch.CreateAlarmOptions, 'threshold' | 'comparisonOperator' | 'evaluationPeriods'>,
    description: string,
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      ...condition,
      alarmDescription: description,
      // No data means no traffic, not trouble.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    return alarm;
  }
}
