import { itemSize, readUnits, writeUnits } from './item-size.js';

/**
 * A client middleware that watches every DynamoDB request a client sends: how many of each command, the capacity
 * DynamoDB reports (`ReturnConsumedCapacity: TOTAL` is set on each request), the capacity the items' sizes imply
 * by AWS's rules (a cross-check, and the only figure where DynamoDB Local reports none), and transactions
 * cancelled by a failed condition, told apart by the item that failed: the head or an event (a version
 * conflict, retried by the command path) or an idempotency record (a duplicate request).
 *
 * It works on the low-level client and on a document client built from it: both share one middleware stack.
 */
export interface IoCounters {
  requests: Record<string, number>;
  failedRequests: Record<string, number>;
  /** Transactions cancelled because the head's or an event's condition failed: optimistic-concurrency conflicts. */
  versionConflicts: number;
  /** Transactions cancelled because an idempotency record already existed. */
  idempotencyCollisions: number;
  /** Other conditional failures (single-item conditional writes). */
  conditionalFailures: number;
  /** Capacity units DynamoDB reported in `ConsumedCapacity`. */
  reported: { readUnits: number; writeUnits: number; responsesWithCapacity: number };
  /** Capacity units the request and returned items imply by AWS's sizing rules. */
  estimated: { readUnits: number; writeUnits: number };
  itemsWritten: number;
  bytesWritten: number;
  /** The estimated units and writes again, by table name. */
  byTable: Record<string, TableUsage>;
}

export interface TableUsage {
  readUnits: number;
  writeUnits: number;
  itemsWritten: number;
  bytesWritten: number;
}

export const emptyCounters = (): IoCounters => ({
  requests: {},
  failedRequests: {},
  versionConflicts: 0,
  idempotencyCollisions: 0,
  conditionalFailures: 0,
  reported: { readUnits: 0, writeUnits: 0, responsesWithCapacity: 0 },
  estimated: { readUnits: 0, writeUnits: 0 },
  itemsWritten: 0,
  bytesWritten: 0,
  byTable: {},
});

/** The counters of two separate spans added up (`diffCounters` with the sign flipped). */
export function sumCounters(a: IoCounters, b: IoCounters): IoCounters {
  const negated = diffCounters(emptyCounters(), b);
  return diffCounters(a, negated);
}

export function diffCounters(after: IoCounters, before: IoCounters): IoCounters {
  const sub = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
    Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)]).filter(([, v]) => v !== 0));
  const zero: TableUsage = { readUnits: 0, writeUnits: 0, itemsWritten: 0, bytesWritten: 0 };
  return {
    requests: sub(after.requests, before.requests),
    failedRequests: sub(after.failedRequests, before.failedRequests),
    versionConflicts: after.versionConflicts - before.versionConflicts,
    idempotencyCollisions: after.idempotencyCollisions - before.idempotencyCollisions,
    conditionalFailures: after.conditionalFailures - before.conditionalFailures,
    reported: {
      readUnits: after.reported.readUnits - before.reported.readUnits,
      writeUnits: after.reported.writeUnits - before.reported.writeUnits,
      responsesWithCapacity: after.reported.responsesWithCapacity - before.reported.responsesWithCapacity,
    },
    estimated: {
      readUnits: after.estimated.readUnits - before.estimated.readUnits,
      writeUnits: after.estimated.writeUnits - before.estimated.writeUnits,
    },
    itemsWritten: after.itemsWritten - before.itemsWritten,
    bytesWritten: after.bytesWritten - before.bytesWritten,
    byTable: Object.fromEntries(
      [...new Set([...Object.keys(after.byTable), ...Object.keys(before.byTable)])].map((table) => {
        const a = after.byTable[table] ?? zero;
        const b = before.byTable[table] ?? zero;
        return [
          table,
          { readUnits: a.readUnits - b.readUnits, writeUnits: a.writeUnits - b.writeUnits, itemsWritten: a.itemsWritten - b.itemsWritten, bytesWritten: a.bytesWritten - b.bytesWritten },
        ];
      }),
    ),
  };
}

const CAPACITY_COMMANDS = new Set([
  'GetItemCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'BatchWriteItemCommand',
  'TransactGetItemsCommand',
  'TransactWriteItemsCommand',
]);

type Item = Record<string, unknown>;
type Input = Record<string, any>;

/** The sort key of an item or key, in either wire or plain form. */
function sortKeyOf(item: Item | undefined): string | undefined {
  const sk = item?.['sk'];
  if (typeof sk === 'string') return sk;
  if (sk !== null && typeof sk === 'object' && typeof (sk as { S?: unknown }).S === 'string') return (sk as { S: string }).S;
  return undefined;
}

function transactItemKey(action: Input): Item | undefined {
  return action['Put']?.Item ?? action['Update']?.Key ?? action['Delete']?.Key ?? action['ConditionCheck']?.Key;
}

const WRITE_COMMANDS = /Put|Update|Delete|Write/;

/** Adds what a response's `ConsumedCapacity` says; a response with only a total counts it as the command's kind. */
function sumCapacity(counters: IoCounters, command: string, consumed: unknown): void {
  const list = Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed];
  for (const c of list as Array<{ CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number }>) {
    counters.reported.responsesWithCapacity += 1;
    if (c.ReadCapacityUnits === undefined && c.WriteCapacityUnits === undefined) {
      if (WRITE_COMMANDS.test(command)) counters.reported.writeUnits += c.CapacityUnits ?? 0;
      else counters.reported.readUnits += c.CapacityUnits ?? 0;
    } else {
      counters.reported.readUnits += c.ReadCapacityUnits ?? 0;
      counters.reported.writeUnits += c.WriteCapacityUnits ?? 0;
    }
  }
}

/** Units a request used, by table (a transaction or batch can span tables). */
interface Usage {
  table: string;
  readUnits: number;
  writeUnits: number;
  itemsWritten: number;
  bytesWritten: number;
}

function estimateWrite(command: string, input: Input): Usage[] {
  const usage: Usage[] = [];
  const put = (table: string, item: Item | undefined, transactional: boolean): void => {
    if (item === undefined) return;
    const size = itemSize(item);
    usage.push({ table, readUnits: 0, writeUnits: writeUnits(size, transactional), itemsWritten: 1, bytesWritten: size });
  };
  // debt: an update's or delete's stored item size is unknown here; assume it fits in 1 KB (true of every item here).
  const small = (table: string, transactional: boolean, written: number): void => {
    usage.push({ table, readUnits: 0, writeUnits: transactional ? 2 : 1, itemsWritten: written, bytesWritten: 0 });
  };
  switch (command) {
    case 'PutItemCommand':
      put(String(input['TableName']), input['Item'], false);
      break;
    case 'UpdateItemCommand':
    case 'DeleteItemCommand':
      small(String(input['TableName']), false, 1);
      break;
    case 'BatchWriteItemCommand':
      for (const [table, requests] of Object.entries((input['RequestItems'] ?? {}) as Record<string, Input[]>)) {
        for (const r of requests) {
          if (r['PutRequest']) put(table, r['PutRequest'].Item, false);
          else small(table, false, 1);
        }
      }
      break;
    case 'TransactWriteItemsCommand':
      for (const action of (input['TransactItems'] ?? []) as Input[]) {
        if (action['Put']) put(String(action['Put'].TableName), action['Put'].Item, true);
        else if (action['ConditionCheck']) small(String(action['ConditionCheck'].TableName), true, 0);
        else small(String((action['Update'] ?? action['Delete'])?.TableName), true, 1);
      }
      break;
  }
  return usage;
}

function estimateRead(command: string, input: Input, output: Input): Usage[] {
  const read = (table: string, units: number): Usage => ({ table, readUnits: units, writeUnits: 0, itemsWritten: 0, bytesWritten: 0 });
  const consistent = input['ConsistentRead'] === true;
  const table = String(input['TableName']);
  switch (command) {
    case 'GetItemCommand':
      return [read(table, readUnits(output['Item'] ? itemSize(output['Item']) : 0, consistent))];
    case 'QueryCommand':
    case 'ScanCommand': {
      const bytes = ((output['Items'] ?? []) as Item[]).reduce((a, i) => a + itemSize(i), 0);
      return [read(table, readUnits(bytes, consistent))];
    }
    case 'BatchGetItemCommand': {
      // Each requested key is read separately: a found item by its size, a missing one still costs the minimum.
      const usage: Usage[] = [];
      const requests = (input['RequestItems'] ?? {}) as Record<string, { Keys?: unknown[]; ConsistentRead?: boolean }>;
      for (const [name, request] of Object.entries(requests)) {
        const found = ((output['Responses'] ?? {}) as Record<string, Item[]>)[name] ?? [];
        const unprocessed = ((output['UnprocessedKeys'] ?? {}) as Record<string, { Keys?: unknown[] }>)[name]?.Keys?.length ?? 0;
        const missing = Math.max(0, (request.Keys?.length ?? 0) - unprocessed - found.length);
        const strong = request.ConsistentRead === true;
        const units = found.reduce((a, i) => a + readUnits(itemSize(i), strong), 0) + missing * readUnits(0, strong);
        usage.push(read(name, units));
      }
      return usage;
    }
    case 'TransactGetItemsCommand':
      return ((input['TransactItems'] ?? []) as Input[]).map((action, i) => {
        const item = ((output['Responses'] ?? []) as Array<{ Item?: Item }>)[i]?.Item;
        return read(String(action['Get']?.TableName), readUnits(item ? itemSize(item) : 0, true, true));
      });
  }
  return [];
}

function record(counters: IoCounters, usage: readonly Usage[]): void {
  for (const u of usage) {
    counters.estimated.readUnits += u.readUnits;
    counters.estimated.writeUnits += u.writeUnits;
    counters.itemsWritten += u.itemsWritten;
    counters.bytesWritten += u.bytesWritten;
    const t = (counters.byTable[u.table] ??= { readUnits: 0, writeUnits: 0, itemsWritten: 0, bytesWritten: 0 });
    t.readUnits += u.readUnits;
    t.writeUnits += u.writeUnits;
    t.itemsWritten += u.itemsWritten;
    t.bytesWritten += u.bytesWritten;
  }
}

export interface DynamoObserver {
  readonly counters: IoCounters;
  /** A copy of the counters now, to diff against later. */
  snapshot(): IoCounters;
  reset(): void;
}

interface StackOwner {
  middlewareStack: { add: (mw: any, options: any) => void; remove?: (name: string) => boolean };
}

const MIDDLEWARE_NAME = 'benchDynamoObserver';

/** Attaches the observer to a client (idempotent: attaching twice replaces the first). */
export function observeDynamo(client: StackOwner): DynamoObserver {
  let counters = emptyCounters();
  const middleware =
    (next: (args: { input: Input }) => Promise<{ output: Input }>, context: { commandName?: string }) =>
    async (args: { input: Input }) => {
      const command = context.commandName ?? 'Unknown';
      counters.requests[command] = (counters.requests[command] ?? 0) + 1;
      if (CAPACITY_COMMANDS.has(command)) args.input['ReturnConsumedCapacity'] = 'TOTAL';
      try {
        const result = await next(args);
        const output = result.output ?? {};
        sumCapacity(counters, command, output['ConsumedCapacity']);
        record(counters, estimateWrite(command, args.input));
        record(counters, estimateRead(command, args.input, output));
        return result;
      } catch (error) {
        counters.failedRequests[command] = (counters.failedRequests[command] ?? 0) + 1;
        classifyFailure(counters, command, args.input, error);
        throw error;
      }
    };
  client.middlewareStack.remove?.(MIDDLEWARE_NAME);
  client.middlewareStack.add(middleware, { step: 'initialize', priority: 'low', name: MIDDLEWARE_NAME, override: true });
  return {
    get counters() {
      return counters;
    },
    snapshot: () => structuredClone(counters),
    reset: () => {
      counters = emptyCounters();
    },
  };
}

function classifyFailure(counters: IoCounters, command: string, input: Input, error: unknown): void {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'ConditionalCheckFailedException') {
    counters.conditionalFailures += 1;
    return;
  }
  if (name !== 'TransactionCanceledException' || command !== 'TransactWriteItemsCommand') return;
  const reasons = ((error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? []) as Array<{ Code?: string }>;
  const actions = (input['TransactItems'] ?? []) as Input[];
  const failedKeys = reasons
    .map((r, i) => (r.Code === 'ConditionalCheckFailed' ? sortKeyOf(transactItemKey(actions[i] ?? {})) : undefined))
    .filter((sk): sk is string => sk !== undefined);
  if (failedKeys.length === 0) return;
  if (failedKeys.some((sk) => sk === 'HEAD' || sk.startsWith('EVENT#'))) counters.versionConflicts += 1;
  else if (failedKeys.some((sk) => sk.startsWith('IDEMPOTENCY#'))) counters.idempotencyCollisions += 1;
  else counters.conditionalFailures += 1;
}
