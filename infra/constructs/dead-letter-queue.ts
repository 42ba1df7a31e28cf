import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledgeNag } from './nag.js';

/** SQS keeps a message at most 14 days: the longest time an operator has to look at a dead letter. */
const DEAD_LETTER_RETENTION = Duration.days(14);

/**
 * A dead-letter queue as every one of ours is: encrypted at rest (SQS managed keys, so AWS services that deliver
 * into it need no KMS grant), TLS only, messages kept 14 days. `holds` says what lands in it, for the console.
 */
export function deadLetterQueue(scope: Construct, id: string, holds: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: DEAD_LETTER_RETENTION,
  });
  acknowledgeNag(queue, 'AwsSolutions-SQS3', `This queue is itself a dead-letter queue (it holds ${holds}); nothing consumes it automatically.`);
  return queue;
}
