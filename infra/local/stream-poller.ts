import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as SdkStreamRecord,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { isLedgerEventInsert } from '../../functions/lib/stream-records.js';
import { CONSUMER_EVENT_TYPES, selectsRecord } from '../constructs/stream-filters.js';
import { STREAM_CONSUMERS } from '../routes.js';
import type { LocalContext, LocalRoute, LocalService } from './services.js';

/**
 * The local stand-in for Lambda's DynamoDB event source mappings: it reads DynamoDB Local's stream of the ledger
 * table (DescribeStream → shards → iterators from TRIM_HORIZON or after the last checkpoint → GetRecords) and
 * hands each registered consumer the same `DynamoDBStreamEvent` batches Lambda would, after the same filter as
 * its mapping (inserts of event items of the types it acts on: CONSUMER_EVENT_TYPES). Records a consumer's filter
 * drops are done for it without an invocation, as in Lambda. Each consumer behaves like its own mapping: its own checkpoint per shard, its own
 * retries. `batchItemFailures` are honoured like `ReportBatchItemFailures`: the records before the first
 * failure are done, the batch is retried from the failed record; after `maxRetries` the record goes to a local
 * dead-letter list and the shard moves on, so one poison record never blocks it.
 */

/** A stream consumer: a Lambda handler in all but name (`functions/streams/*.ts` export one). */
export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse | void | undefined>;

export interface StreamConsumer {
  /** Names the consumer in logs, checkpoints and dead letters; keep it stable so a restart resumes. */
  name: string;
  handler: StreamHandler;
  /** Records per invocation, like the mapping's BatchSize. */
  batchSize?: number;
  /** Its mapping's filter; default the poller's `filter`. Deployed consumers get their mapping's (stream-filters.ts). */
  filter?: (record: DynamoDBRecord) => boolean;
}

export interface DeadLetter {
  consumer: string;
  shardId: string;
  sequenceNumber: string;
  attempts: number;
  /** Why the last attempt failed: the handler's error, or "reported in batchItemFailures". */
  reason: string;
  record: DynamoDBRecord;
  at: string;
}

/** Where the last processed sequence number of each (consumer, shard) is kept between restarts. */
export interface CheckpointStore {
  load(): Promise<Checkpoints>;
  save(checkpoints: Checkpoints): Promise<void>;
}

/** consumer → shardId → the last sequence number done, and whether the (closed) shard is finished. */
export type Checkpoints = Record<string, Record<string, { sequenceNumber?: string; finished?: boolean }>>;

export class MemoryCheckpointStore implements CheckpointStore {
  private value: Checkpoints = {};
  async load(): Promise<Checkpoints> {
    return structuredClone(this.value);
  }
  async save(checkpoints: Checkpoints): Promise<void> {
    this.value = structuredClone(checkpoints);
  }
}

/** Checkpoints in a JSON file next to DynamoDB Local's data, so `npm start` resumes where it stopped. */
export class FileCheckpointStore implements CheckpointStore {
  constructor(private readonly path: string) {}
  async load(): Promise<Checkpoints> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as Checkpoints;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
  }
  async save(checkpoints: Checkpoints): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.tmp`;
    await writeFile(temporary, JSON.stringify(checkpoints, null, 2));
    await rename(temporary, this.path);
  }
}

export type DeployedConsumerName = keyof typeof STREAM_CONSUMERS;

export interface StreamPollerOptions {
  /**
   * Which of the deployed consumers (STREAM_CONSUMERS in infra/routes.ts, the list the CDK construct maps) to
   * run, each loaded from its entry file and named by its key there. Default: all of them, unless `consumers`
   * is given.
   */
  mappings?: readonly DeployedConsumerName[];
  /** Further consumers (tests, tools), each like its own event source mapping. */
  consumers?: StreamConsumer[];
  /** Default: a JSON file beside DynamoDB Local's data (`stream-checkpoints.json`), or memory when in memory. */
  checkpoints?: CheckpointStore;
  /** Idle wait between polls. Small, so a write reaches the projections well under a second later. */
  pollIntervalMs?: number;
  /** Retries of a failing record before it is dead-lettered (the mapping's MaximumRetryAttempts). */
  maxRetries?: number;
  /** The filter of a consumer that has none of its own (`consumers`); default: every insert of an event item. */
  filter?: (record: DynamoDBRecord) => boolean;
}

/** The checkpoint file's name inside the data directory. */
export const CHECKPOINT_FILE = 'stream-checkpoints.json';

/** Deployed stream consumers (infra/routes.ts), loaded from their entry files, each with its mapping's filter. */
export async function deployedStreamConsumers(
  names: readonly DeployedConsumerName[] = Object.keys(STREAM_CONSUMERS) as DeployedConsumerName[],
): Promise<StreamConsumer[]> {
  const root = new URL('../../', import.meta.url);
  return Promise.all(
    names.map(async (name) => {
      const entry = STREAM_CONSUMERS[name];
      const module = (await import(new URL(entry, root).href)) as { handler?: StreamHandler };
      if (typeof module.handler !== 'function') throw new Error(`${entry} exports no handler`);
      const events = CONSUMER_EVENT_TYPES[name];
      return { name, handler: module.handler, filter: (record: DynamoDBRecord) => selectsRecord(events, record) };
    }),
  );
}

/** Lambda's default batch size for DynamoDB streams. */
const DEFAULT_BATCH_SIZE = 100;
/** 25 ms idle polling keeps the lag far below a second at negligible cost for a local emulator. */
const DEFAULT_POLL_INTERVAL_MS = 25;
const DEFAULT_MAX_RETRIES = 3;
/** After an unexpected error (DynamoDB Local restarting, say) wait longer before polling again. */
const ERROR_BACKOFF_MS = 500;
/** GetRecords returns at most 1,000 records per call. */
const GET_RECORDS_LIMIT = 1000;

interface ShardReader {
  shardId: string;
  iterator: string | undefined;
  /** Fetched, not yet done by this consumer, in stream order. */
  pending: SdkStreamRecord[];
  /** The iterator came back empty: the shard is closed and everything in it has been fetched. */
  exhausted: boolean;
  /** Attempts so far on the first pending record. */
  attempts: number;
}

interface ConsumerState {
  consumer: StreamConsumer;
  readers: Map<string, ShardReader>;
}

interface SyncWaiter {
  requestedAt: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class LocalStreamPoller implements LocalService {
  readonly name = 'stream-poller';
  readonly deadLetters: DeadLetter[] = [];
  readonly routes: readonly LocalRoute[] = [
    {
      method: 'GET',
      path: '/_local/dead-letters',
      handle: async () => ({ statusCode: 200, body: { items: this.deadLetters.map(({ record: _record, ...letter }) => letter) } }),
    },
  ];

  private readonly consumers = new Map<string, ConsumerState>();
  private readonly pollIntervalMs: number;
  private readonly maxRetries: number;
  private readonly filter: (record: DynamoDBRecord) => boolean;

  private streams: DynamoDBStreamsClient | undefined;
  private checkpointStore: CheckpointStore | undefined;
  private log: (message: string) => void = (message) => console.log(`[stream-poller] ${message}`);
  private checkpoints: Checkpoints = {};
  private streamArn: string | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private waiters: SyncWaiter[] = [];
  private roundCounter = 0;
  /** Records handed to a consumer and settled (done or dead-lettered), for sync()'s count of work. */
  private settled = 0;

  constructor(private readonly options: StreamPollerOptions = {}) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.filter = options.filter ?? isLedgerEventInsert;
    for (const consumer of options.consumers ?? []) this.register(consumer);
  }

  /**
   * Adds a consumer (a separate event source mapping) that reads from its checkpoints, or TRIM_HORIZON. A
   * consumer of the same name is replaced, keeping its checkpoints (a handler registered twice runs once).
   */
  register(consumer: StreamConsumer): void {
    const existing = this.consumers.get(consumer.name);
    if (existing !== undefined) {
      existing.consumer = consumer;
      return;
    }
    this.consumers.set(consumer.name, { consumer, readers: new Map() });
    this.kick();
  }

  get consumerNames(): string[] {
    return [...this.consumers.keys()];
  }

  async start(ctx: LocalContext): Promise<void> {
    if (this.running) return;
    this.log = ctx.log;
    const mappings = this.options.mappings ?? (this.options.consumers === undefined ? undefined : []);
    for (const consumer of await deployedStreamConsumers(mappings)) this.register(consumer);
    this.streams = new DynamoDBStreamsClient({
      endpoint: ctx.endpoint,
      region: ctx.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    this.checkpointStore =
      this.options.checkpoints ?? (ctx.dataDir === undefined ? new MemoryCheckpointStore() : new FileCheckpointStore(join(ctx.dataDir, CHECKPOINT_FILE)));
    this.checkpoints = await this.checkpointStore.load();
    this.streamArn = ctx.ledgerStreamArn ?? (await latestStreamArn(ctx.dynamodb, ctx.ledgerTable));
    this.running = true;
    this.loop = this.run();
    this.log(`reading ${ctx.ledgerTable}'s stream for ${this.consumerNames.join(', ')}`);
  }

  /**
   * Resolves once every record written before the call has been settled (processed or dead-lettered) by every
   * consumer: it waits for a complete poll round that began after the call and found nothing left to do. Returns
   * how many records were settled meanwhile (0: it was already idle).
   */
  async sync(): Promise<number> {
    if (!this.running) throw new Error('the stream poller is not running');
    const before = this.settled;
    await new Promise<void>((resolve, reject) => {
      this.waiters.push({ requestedAt: this.roundCounter, resolve, reject });
      this.kick();
    });
    return this.settled - before;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    this.loop = undefined;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new Error('the stream poller stopped'));
    this.streams?.destroy();
    this.streams = undefined;
  }

  private kick(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      // A round number is taken before reading, so a sync() registered during this round waits for the next.
      const round = ++this.roundCounter;
      let busy: boolean;
      try {
        busy = await this.pollOnce();
      } catch (error) {
        this.log(`poll failed, retrying: ${(error as Error).message}`);
        // A sync waiting for this round learns why it cannot complete, instead of hanging.
        for (const waiter of this.waiters.splice(0)) waiter.reject(error as Error);
        await this.sleep(ERROR_BACKOFF_MS);
        continue;
      }
      if (!busy) {
        const done = this.waiters.filter((w) => w.requestedAt < round);
        this.waiters = this.waiters.filter((w) => w.requestedAt >= round);
        for (const waiter of done) waiter.resolve();
        if (this.running && this.waiters.length === 0) await this.sleep(this.pollIntervalMs);
      }
    }
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.client().send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId !== undefined);
    return shards;
  }

  /** One pass over every consumer and shard. True when some record was fetched or is still pending. */
  private async pollOnce(): Promise<boolean> {
    const shards = await this.listShards();
    let busy = false;
    for (const state of this.consumers.values()) {
      const finished = (shardId: string): boolean => this.checkpointOf(state.consumer.name, shardId).finished === true;
      const known = new Set(shards.map((s) => s.ShardId));
      for (const shard of shards) {
        const shardId = shard.ShardId;
        if (shardId === undefined || finished(shardId)) continue;
        // Records of a child shard come after its parent's: read it only once the parent is finished (or gone).
        const parent = shard.ParentShardId;
        if (parent !== undefined && known.has(parent) && !finished(parent)) continue;
        if (await this.pollShard(state, shardId)) busy = true;
      }
    }
    return busy;
  }

  private client(): DynamoDBStreamsClient {
    if (this.streams === undefined) throw new Error('the stream poller is not started');
    return this.streams;
  }

  private checkpointOf(consumer: string, shardId: string): { sequenceNumber?: string; finished?: boolean } {
    return this.checkpoints[consumer]?.[shardId] ?? {};
  }

  private async setCheckpoint(consumer: string, shardId: string, value: { sequenceNumber?: string; finished?: boolean }): Promise<void> {
    const ofConsumer = (this.checkpoints[consumer] ??= {});
    ofConsumer[shardId] = { ...ofConsumer[shardId], ...value };
    await this.checkpointStore?.save(this.checkpoints);
  }

  private async iteratorFor(consumer: string, shardId: string): Promise<string | undefined> {
    const { sequenceNumber } = this.checkpointOf(consumer, shardId);
    const request =
      sequenceNumber === undefined
        ? { StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' as const }
        : { StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: sequenceNumber };
    try {
      return (await this.client().send(new GetShardIteratorCommand(request))).ShardIterator;
    } catch (error) {
      if (!(error instanceof TrimmedDataAccessException) || sequenceNumber === undefined) throw error;
      // The checkpoint is older than the stream's retention: start from the oldest record still there.
      this.log(`${consumer}: checkpoint in ${shardId} was trimmed; reading from TRIM_HORIZON`);
      const fallback = { StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' as const };
      return (await this.client().send(new GetShardIteratorCommand(fallback))).ShardIterator;
    }
  }

  private async pollShard(state: ConsumerState, shardId: string): Promise<boolean> {
    const name = state.consumer.name;
    let reader = state.readers.get(shardId);
    if (reader === undefined) {
      reader = { shardId, iterator: await this.iteratorFor(name, shardId), pending: [], exhausted: false, attempts: 0 };
      reader.exhausted = reader.iterator === undefined;
      state.readers.set(shardId, reader);
    }
    let fetched = false;
    if (reader.pending.length === 0 && !reader.exhausted && reader.iterator !== undefined) {
      try {
        const page = await this.client().send(new GetRecordsCommand({ ShardIterator: reader.iterator, Limit: GET_RECORDS_LIMIT }));
        reader.pending.push(...(page.Records ?? []));
        reader.iterator = page.NextShardIterator;
        reader.exhausted = page.NextShardIterator === undefined;
        fetched = (page.Records ?? []).length > 0;
      } catch (error) {
        if (!(error instanceof ExpiredIteratorException)) throw error;
        state.readers.delete(shardId); // a fresh iterator from the checkpoint next round
        return true;
      }
    }
    if (reader.pending.length === 0) {
      if (reader.exhausted) {
        await this.setCheckpoint(name, shardId, { finished: true });
        state.readers.delete(shardId);
      }
      return fetched;
    }
    await this.deliver(state, reader);
    return true;
  }

  /** Hands the consumer one batch from the reader's pending records and settles it like the mapping would. */
  private async deliver(state: ConsumerState, reader: ShardReader): Promise<void> {
    const { consumer } = state;
    const batchSize = consumer.batchSize ?? DEFAULT_BATCH_SIZE;
    const filter = consumer.filter ?? this.filter;
    // Records the filter drops are done at once, with no invocation; the batch is the next `batchSize` that pass it.
    const batch: Array<{ index: number; record: DynamoDBRecord }> = [];
    let scanned = 0;
    for (; scanned < reader.pending.length && batch.length < batchSize; scanned += 1) {
      const record = this.toLambdaRecord(reader.pending[scanned] as SdkStreamRecord);
      if (filter(record)) batch.push({ index: scanned, record });
    }
    if (batch.length === 0) {
      await this.acknowledge(consumer.name, reader, scanned);
      return;
    }
    const failedAt = await this.invoke(consumer, batch.map((b) => b.record));
    if (failedAt.index === undefined) {
      await this.acknowledge(consumer.name, reader, scanned);
      this.settled += batch.length;
      return;
    }
    const failed = batch[failedAt.index] as { index: number; record: DynamoDBRecord };
    // Everything before the first failed record is done; the retry starts at the failed record.
    if (failed.index > 0) {
      await this.acknowledge(consumer.name, reader, failed.index);
      this.settled += failedAt.index;
    }
    reader.attempts += 1;
    if (reader.attempts <= this.maxRetries) return;
    this.deadLetters.push({
      consumer: consumer.name,
      shardId: reader.shardId,
      sequenceNumber: failed.record.dynamodb?.SequenceNumber ?? '',
      attempts: reader.attempts,
      reason: failedAt.reason,
      record: failed.record,
      at: new Date().toISOString(),
    });
    this.log(`${consumer.name}: record ${failed.record.dynamodb?.SequenceNumber} dead-lettered after ${reader.attempts} attempts (${failedAt.reason})`);
    await this.acknowledge(consumer.name, reader, 1);
    this.settled += 1;
  }

  /** Invokes the handler; the position in the batch of the first failed record, if any. */
  private async invoke(consumer: StreamConsumer, records: DynamoDBRecord[]): Promise<{ index?: number; reason: string }> {
    let response: DynamoDBBatchResponse | void | undefined;
    try {
      response = await consumer.handler({ Records: records }, lambdaContext(consumer.name));
    } catch (error) {
      // A handler that throws fails the whole batch, as in Lambda.
      return { index: 0, reason: (error as Error).message };
    }
    const failures = response?.batchItemFailures ?? [];
    if (failures.length === 0) return { reason: '' };
    const failedIds = new Set(failures.map((f) => f.itemIdentifier));
    const index = records.findIndex((r) => failedIds.has(r.dynamodb?.SequenceNumber ?? ''));
    // An identifier matching no record makes Lambda retry the whole batch; so does this.
    return { index: index === -1 ? 0 : index, reason: 'reported in batchItemFailures' };
  }

  private async acknowledge(consumer: string, reader: ShardReader, count: number): Promise<void> {
    const done = reader.pending.splice(0, count);
    reader.attempts = 0;
    const last = done.at(-1)?.dynamodb?.SequenceNumber;
    if (last !== undefined) await this.setCheckpoint(consumer, reader.shardId, { sequenceNumber: last });
  }

  private toLambdaRecord(record: SdkStreamRecord): DynamoDBRecord {
    const created = record.dynamodb?.ApproximateCreationDateTime;
    return {
      eventID: record.eventID,
      eventName: record.eventName,
      eventVersion: record.eventVersion,
      eventSource: record.eventSource ?? 'aws:dynamodb',
      awsRegion: record.awsRegion,
      eventSourceARN: this.streamArn,
      dynamodb: {
        ...(created === undefined ? {} : { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) }),
        Keys: wireImage(record.dynamodb?.Keys),
        NewImage: wireImage(record.dynamodb?.NewImage),
        OldImage: wireImage(record.dynamodb?.OldImage),
        SequenceNumber: record.dynamodb?.SequenceNumber,
        SizeBytes: record.dynamodb?.SizeBytes,
        StreamViewType: record.dynamodb?.StreamViewType,
      },
    };
  }
}

type Image = NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];

/**
 * An image as Lambda receives it. The streams SDK client deserialises an empty map attribute (`{"M":{}}` on the
 * wire) to `{}`, which no unmarshaller accepts; Lambda hands consumers `{"M":{}}`, so that is restored here.
 */
function wireImage(image: Record<string, unknown> | undefined): Image {
  if (image === undefined) return undefined;
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, wireValue(value)])) as Image;
}

function wireValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const attribute = value as Record<string, unknown>;
  const keys = Object.keys(attribute).filter((k) => attribute[k] !== undefined);
  if (keys.length === 0) return { M: {} };
  if (attribute.M !== undefined) return { M: wireImage(attribute.M as Record<string, unknown>) };
  if (Array.isArray(attribute.L)) return { L: attribute.L.map(wireValue) };
  return value;
}

async function latestStreamArn(dynamodb: DynamoDBClient, tableName: string): Promise<string> {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const arn = Table?.LatestStreamArn;
  if (arn === undefined) throw new Error(`table ${tableName} has no stream`);
  return arn;
}

/** Enough of a Lambda context for Powertools and our handlers. */
function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
