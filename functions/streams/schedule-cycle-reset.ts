import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { LedgerEvent } from '../../domain/index.js';
import { rollOverCycle, type RollOverOutcome } from '../scheduled/roll-over-cycle.js';
import { clock } from '../lib/clock.js';
import { createCycleResetSchedule } from '../lib/schedules.js';
import { parseLedgerEventRecord } from '../lib/stream-records.js';

/**
 * A stream consumer: every event that starts a cycle (`Granted`: at opening, at each rollover, at an upgrade)
 * gets a one-time schedule at that cycle's end, which invokes the roll-over function. Whether a cycle was rolled
 * over by its schedule or lazily by a command, its Granted lands here, so the next schedule always follows.
 *
 * A cycle that has already ended when its Granted is processed (the stream ran late, or the local clock jumped)
 * cannot be scheduled: Scheduler refuses an `at()` in the past. It is rolled over right here instead, with the
 * roll-over function's own code, so an idle account is not left without its reset and without a next schedule.
 * When later cycles were already granted (a catch-up over several boundaries), that rollover appends nothing.
 */

const logger = new Logger({ serviceName: 'credits-ledger' });

export type ScheduleOutcome =
  | { status: 'ignored' }
  | { status: 'scheduled' | 'already-scheduled'; accountId: string; cycle: number; at: string }
  | { status: 'rolled-over-directly'; rollOver: RollOverOutcome };

export async function scheduleCycleReset(event: LedgerEvent): Promise<ScheduleOutcome> {
  if (event.type !== 'Granted') return { status: 'ignored' };
  const { accountId } = event;
  const { cycle, cycleEnd } = event.data;
  const end = new Date(cycleEnd);
  const ended = () => end.getTime() <= clock.now().getTime();

  if (ended()) return { status: 'rolled-over-directly', rollOver: await rollOverCycle({ accountId, cycle }) };
  try {
    const created = await createCycleResetSchedule(accountId, cycle, end);
    return { status: created === 'created' ? 'scheduled' : 'already-scheduled', accountId, cycle, at: cycleEnd };
  } catch (error) {
    // The end passed between the check and the request: Scheduler refuses the past. Anything else is retried.
    if ((error as Error).name === 'ValidationException' && ended()) {
      return { status: 'rolled-over-directly', rollOver: await rollOverCycle({ accountId, cycle }) };
    }
    throw error;
  }
}

async function recordHandler(record: DynamoDBRecord): Promise<void> {
  const outcome = await scheduleCycleReset(parseLedgerEventRecord(record));
  if (outcome.status !== 'ignored') logger.info('Cycle reset', { ...outcome });
}

const processor = new BatchProcessor(EventType.DynamoDBStreams);

/**
 * Records in stream order, one at a time; each failure is reported by sequence number (the mapping retries from
 * there), and a batch where every record failed is reported the same way rather than thrown.
 */
export const handler = async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> =>
  processPartialResponse(event, recordHandler, processor, { context, processInParallel: false, throwOnFullBatchFailure: false });
