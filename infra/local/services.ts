import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ManualClock } from '../../functions/lib/clock.js';

/**
 * The contract between the local runtime (`npm start`, infra/local/main.ts) and the pieces that stand in for AWS's
 * asynchronous machinery: the stream poller (event source mapping), the scheduler (EventBridge Scheduler) and the
 * notifier (SNS). Each is a LocalService; main.ts starts them in order after DynamoDB Local and the tables are up,
 * `POST /_local/sync` drives them, and shutdown stops them in reverse order.
 */
export interface LocalContext {
  /** DynamoDB Local, for example `http://127.0.0.1:8000`. */
  endpoint: string;
  region: string;
  /** A client for DynamoDB Local, shared by the services (main.ts destroys it at shutdown). */
  dynamodb: DynamoDBClient;
  /** The clock every handler reads (functions/lib/clock.ts); `POST /_local/clock` moves it. */
  clock: ManualClock;
  /** Table names by their definition id in infra/tables.ts (`Ledger`, …). */
  tables: Readonly<Record<string, string>>;
  /** The ledger table's name (also in `tables`). */
  ledgerTable: string;
  /** The ledger table's stream ARN, when DynamoDB Local reported one. */
  ledgerStreamArn: string | undefined;
  /** Where DynamoDB Local keeps its files (a service may keep its own state beside them); undefined in memory. */
  dataDir: string | undefined;
  /** One line to the console, prefixed with the service's name. */
  log: (message: string) => void;
}

export interface LocalRequest {
  method: string;
  path: string;
  query: Readonly<Record<string, string>>;
  /** The parsed JSON body, or undefined when there is none. */
  body: unknown;
}

export interface LocalResponse {
  statusCode: number;
  body: unknown;
}

/** A route a service adds under `/_local` (for example `GET /_local/notifications` from the notifier). */
export interface LocalRoute {
  method: 'GET' | 'POST';
  /** Exact path, starting with `/_local/`. */
  path: string;
  handle(request: LocalRequest): Promise<LocalResponse>;
}

export interface LocalService {
  name: string;
  start(ctx: LocalContext): Promise<void>;
  /**
   * Processes everything due now (stream records, due schedules, queued messages) and returns when done.
   * `POST /_local/sync` runs every service's sync in order, in rounds, until a round does no work: a service
   * that can tell returns how many things it processed (0 = idle); one that returns nothing counts as idle.
   */
  sync(): Promise<number | void>;
  stop(): Promise<void>;
  routes?: readonly LocalRoute[];
}

/** Sync rounds before `POST /_local/sync` gives up on reaching quiet (a service that always reports work). */
export const MAX_SYNC_ROUNDS = 20;

/**
 * Runs every service's sync in order until a whole round reports no work: a rollover fired by the scheduler
 * appends events that the stream poller must then deliver, which may queue a notification, and so on.
 */
export async function syncAll(services: readonly LocalService[]): Promise<{ rounds: number; processed: number }> {
  let processed = 0;
  for (let round = 1; round <= MAX_SYNC_ROUNDS; round += 1) {
    let work = 0;
    for (const service of services) {
      const done = await service.sync();
      if (typeof done === 'number') work += done;
    }
    processed += work;
    if (work === 0) return { rounds: round, processed };
  }
  throw new Error(`local services still reported work after ${MAX_SYNC_ROUNDS} sync rounds`);
}
