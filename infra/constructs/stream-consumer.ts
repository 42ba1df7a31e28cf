import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueue } from './dead-letter-queue.js';
import { filterPattern, type ConsumerSelection } from './stream-filters.js';

/** How one consumer reads the ledger's stream. */
export interface StreamConsumerTuning {
  /** Records per invocation. */
  batchSize: number;
  /** Retries of a failing record (after bisecting it out of its batch) before it goes to the dead-letter queue. */
  retryAttempts: number;
  /** Older records go to the dead-letter queue unprocessed, so a stuck shard cannot fall off the stream's 24 h. */
  maxRecordAge: Duration;
}

export interface StreamConsumerProps extends StreamConsumerTuning {
  function: lambda.IFunction;
  streamArn: string;
  /** What the consumer does, for the dead-letter queue's description. */
  purpose: string;
  /** The event types it acts on (stream-filters.ts CONSUMER_EVENT_TYPES): the mapping hands it no other record. */
  events: ConsumerSelection;
}

/**
 * A consumer's filter: inserts of event items of the types it acts on. Heads, idempotency and delivery records,
 * every modify or remove, and events of other types never reach it, and Lambda does not bill for them.
 */
export function eventFilter(events: ConsumerSelection): Record<string, unknown> {
  return lambda.FilterCriteria.filter(filterPattern(events));
}

/**
 * One consumer of the ledger's stream: its event source mapping, and the queue where the records it could not
 * process end up, so a poison record never blocks its shard.
 */
export class StreamConsumer extends Construct {
  readonly deadLetterQueue: sqs.Queue;
  readonly mapping: lambda.EventSourceMapping;

  constructor(scope: Construct, id: string, props: StreamConsumerProps) {
    super(scope, id);
    // Why: records that still fail after the retries are kept (as stream pointers) for inspection and replay.
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters', `stream records that ${props.purpose} could not process`);

    // Why: Lambda polls the ledger's stream for this consumer and hands it batches of event inserts.
    this.mapping = new lambda.EventSourceMapping(this, 'Mapping', {
      target: props.function,
      eventSourceArn: props.streamArn,
      // Every event since the stream began: a consumer deployed later still sees the records the stream keeps.
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      filters: [eventFilter(props.events)],
      batchSize: props.batchSize,
      // A failing batch is split in halves until the failing record is alone: the others are not held back.
      bisectBatchOnError: true,
      // Handlers report failed records by sequence number; the records before them count as done.
      reportBatchItemFailures: true,
      retryAttempts: props.retryAttempts,
      maxRecordAge: props.maxRecordAge,
      // One batch at a time per shard: a shard's records are handled in the order the stream holds them.
      parallelizationFactor: 1,
      onFailure: new SqsDlq(this.deadLetterQueue),
    });
  }
}
