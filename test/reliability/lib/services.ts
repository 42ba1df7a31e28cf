import type { SNSClient } from '@aws-sdk/client-sns';
import { setSnsClientFactory } from '../../../functions/lib/notifications.js';
import { handler as rollOverHandler } from '../../../functions/scheduled/roll-over-cycle.js';
import { LocalNotifier } from '../../../infra/local/notifier.js';
import { LocalScheduler } from '../../../infra/local/scheduler.js';
import type { LocalService } from '../../../infra/local/services.js';
import { LocalStreamPoller } from '../../../infra/local/stream-poller.js';
import type { Random } from './random.js';

/**
 * The local services of `npm start` (scheduler, notifier, stream poller with the three deployed consumers), with
 * the faults the reliability suite injects on the asynchronous side:
 * - the scheduler's fires are doubled, made late (held back and fired at a later barrier) or lost, at random;
 * - SNS publishes fail at random before they are sent (throttling, an outage);
 * and taps that count what really happened: every fire, every publish that went out, per event and channel.
 */
export interface SchedulerFaults {
  /** Chance of each kind of fault per fire. */
  doubleRate: number;
  lateRate: number;
  missingRate: number;
}

export interface AsyncFaultCounts {
  fires: number;
  doubleFires: number;
  lateFires: number;
  missingFires: number;
  publishesFailed: number;
}

export interface ReliabilityServices {
  services: LocalService[];
  scheduler: LocalScheduler;
  notifier: LocalNotifier;
  poller: LocalStreamPoller;
  counts: AsyncFaultCounts;
  /** Publishes that went out, by `accountId#eventVersion#channel` (channel `topic` or `sms`). */
  published: Map<string, number>;
  /** Fires the held-back (late) schedules now. */
  fireLate(): Promise<void>;
  /** Installs the SNS tap; call after the runtime started (the notifier installs its client at start). */
  tapSns(): void;
}

/** Retries of a failing stream record, as the deployed mappings allow (infra/credits-ledger.ts STREAM_TUNING). */
const STREAM_RETRIES = 10;

export function reliabilityServices(random: Random, faults: { scheduler?: SchedulerFaults; snsFailureRate?: number } = {}): ReliabilityServices {
  const counts: AsyncFaultCounts = { fires: 0, doubleFires: 0, lateFires: 0, missingFires: 0, publishesFailed: 0 };
  const published = new Map<string, number>();
  const late: unknown[] = [];
  const schedulerFaults = faults.scheduler ?? { doubleRate: 0, lateRate: 0, missingRate: 0 };

  const invoke = async (input: unknown): Promise<unknown> => {
    counts.fires += 1;
    const r = random.next();
    if (r < schedulerFaults.doubleRate) {
      counts.doubleFires += 1;
      // Scheduler delivers at least once: the same fire twice, at the same moment.
      const [first] = await Promise.all([rollOverHandler(input), rollOverHandler(input)]);
      return first;
    }
    if (r < schedulerFaults.doubleRate + schedulerFaults.missingRate) {
      counts.missingFires += 1;
      return { status: 'lost' };
    }
    if (r < schedulerFaults.doubleRate + schedulerFaults.missingRate + schedulerFaults.lateRate) {
      counts.lateFires += 1;
      late.push(input);
      return { status: 'held back' };
    }
    return rollOverHandler(input);
  };

  const scheduler = new LocalScheduler({ invoke, tickMs: 0 });
  const notifier = new LocalNotifier({ print: false });
  const poller = new LocalStreamPoller({ mappings: ['projectLedger', 'scheduleCycleReset', 'sendThresholdWarnings'], maxRetries: STREAM_RETRIES });
  const snsFailureRate = faults.snsFailureRate ?? 0;

  return {
    services: [scheduler, notifier, poller],
    scheduler,
    notifier,
    poller,
    counts,
    published,
    async fireLate() {
      for (const input of late.splice(0)) await rollOverHandler(input);
    },
    tapSns() {
      setSnsClientFactory((): SNSClient => {
        const client = notifier.client();
        // Typed loosely: the tap handles only PublishCommand and passes everything else through untouched.
        (client.middlewareStack as unknown as { addRelativeTo: (mw: unknown, options: unknown) => void }).addRelativeTo(
          (next: (args: { input: Record<string, any> }) => Promise<unknown>, context: { commandName?: string }) =>
            async (args: { input: Record<string, any> }) => {
              if (context.commandName !== 'PublishCommand') return next(args);
              if (random.chance(snsFailureRate)) {
                counts.publishesFailed += 1;
                const error = new Error('Rate exceeded (injected)');
                error.name = 'ThrottledException';
                throw error;
              }
              const attributes = args.input['MessageAttributes'] ?? {};
              const key = `${attributes.accountId?.StringValue}#${attributes.eventVersion?.StringValue}#${args.input['PhoneNumber'] === undefined ? 'topic' : 'sms'}`;
              const result = await next(args);
              published.set(key, (published.get(key) ?? 0) + 1);
              return result;
            },
          { relation: 'before', toMiddleware: 'localNotifierTransport', name: 'reliabilitySnsTap' },
        );
        return client;
      });
    },
  };
}
