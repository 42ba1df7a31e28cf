import { isDeepStrictEqual } from 'node:util';
import type { LedgerEvent } from '../../../domain/index.js';
import type { ApiResponse, LocalApi } from '../../support/local-api.js';
import { TOKENS } from '../../support/local-api.js';
import type { Random } from './random.js';

/**
 * A randomized workload over the HTTP API, as product services, finance and customers would send it: usage
 * (single and batched), purchases, adjustments, plan and contact changes and reads, over many accounts at once,
 * with a few hot accounts to force conflicts, concurrent duplicates (one request sent twice at the same moment
 * with one key), client retries (the same request again after its answer) and clock jumps between rounds that
 * cross cycle boundaries. Every answer is logged, so the client's view can be checked against the ledger.
 */
export type OpKind = 'open' | 'usage' | 'batch' | 'purchase' | 'adjust' | 'plan' | 'contact' | 'read';

export interface WorkloadOptions {
  api: LocalApi;
  random: Random;
  /** Account ids get this prefix (unique per run). */
  prefix: string;
  accounts: number;
  operations: number;
  concurrency: number;
  /** Operations between clock jumps (each round ends at a barrier, then the clock may jump). */
  roundSize: number;
  /** Share of operations sent twice at once with the same key. */
  duplicateRate: number;
  /** Share of operations sent again (same key, same body) after their answer. */
  retryRate: number;
  /** 5xx answers are expected (faults are injected): the client retries them with the same key. */
  faultsExpected?: boolean;
  /** Share of operations aimed at the hot accounts (a tenth of the accounts). Default 0.35. */
  hotShare?: number;
  /** Called at each barrier, after any clock jump (for example to sync the local services). */
  betweenRounds?: () => Promise<void>;
}

export interface Attempt {
  status: number;
  /** The answer's JSON, for comparing a replay with the first answer. */
  body: string;
  replayed: boolean;
}

/** Everything sent under one idempotency key of one account (a batch record is its own key). */
export interface KeyLog {
  accountId: string;
  key: string;
  kind: OpKind;
  attempts: Attempt[];
  /** For purchases: the payment reference (credited once per reference). */
  paymentRef?: string;
}

export interface WorkloadResult {
  seed: number;
  accountIds: string[];
  operations: number;
  /** HTTP requests sent, retries and duplicates included. */
  requests: number;
  byKind: Record<string, number>;
  byStatus: Record<string, number>;
  duplicatesSent: number;
  clientRetries: number;
  /** Retries of 5xx answers (only when faults are injected) and of 409 concurrent_update. */
  retriesAfterFailure: number;
  /** Answers 409 concurrent_update (the command path's conflict retries ran out), batch records included. */
  concurrentUpdateAnswers: number;
  /** Answers 5xx (injected faults, or a request that outlived the local integration timeout), batch records included. */
  serverErrorAnswers: number;
  clockJumps: number;
  clockJumpsCrossingACycle: number;
  keys: Map<string, KeyLog>;
  /** Requests answered with a status no valid request should get. */
  anomalies: string[];
}

const PLANS = ['free', 'pro', 'custom'] as const;
const USAGE_MIXES = [
  { feature: 'chat', model: 'mini' },
  { feature: 'chat', model: 'standard' },
  { feature: 'chat', model: 'advanced' },
  { feature: 'chatbot', model: 'standard' },
  { feature: 'image', quality: 'standard' },
  { feature: 'image', quality: 'hd' },
] as const;

/** Statuses a valid request of each kind may get; anything else is an anomaly. */
const ALLOWED: Record<OpKind, readonly number[]> = {
  open: [200, 201],
  usage: [201, 402, 409],
  batch: [200],
  purchase: [200, 201, 409, 422],
  adjust: [201, 402, 409],
  plan: [200, 409],
  contact: [200, 409],
  read: [200],
};

const MAX_ATTEMPTS_AFTER_FAILURE = 12;

interface Request {
  kind: OpKind;
  method: string;
  path: string;
  body?: unknown;
  token: string;
  key?: string;
  /** The account whose key scope the request's key lives in. */
  accountId: string;
  paymentRef?: string;
}

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const { api, random, prefix } = options;
  const accountIds = Array.from({ length: options.accounts }, (_, i) => `${prefix}-${i}`);
  // A few hot accounts take a third of the traffic: that is where conflicts and concurrent duplicates meet.
  const hot = accountIds.slice(0, Math.max(1, Math.floor(options.accounts / 10)));
  const result: WorkloadResult = {
    seed: random.seed,
    accountIds,
    operations: options.operations,
    requests: 0,
    byKind: {},
    byStatus: {},
    duplicatesSent: 0,
    clientRetries: 0,
    retriesAfterFailure: 0,
    concurrentUpdateAnswers: 0,
    serverErrorAnswers: 0,
    clockJumps: 0,
    clockJumpsCrossingACycle: 0,
    keys: new Map(),
    anomalies: [],
  };
  const paymentRefs = new Map<string, Array<{ ref: string; pack: string }>>();
  let keyCounter = 0;
  const newKey = (): string => `${prefix}-k${keyCounter++}`;

  const logKey = (accountId: string, key: string, kind: OpKind, attempt: Attempt, paymentRef?: string): void => {
    const id = `${accountId}\n${key}`;
    let entry = result.keys.get(id);
    if (entry === undefined) {
      entry = { accountId, key, kind, attempts: [], ...(paymentRef === undefined ? {} : { paymentRef }) };
      result.keys.set(id, entry);
    }
    entry.attempts.push(attempt);
  };

  /** One request, retried with the same key while it fails in a way a client retries (5xx under faults, 409 concurrent_update). */
  const retryableAnswer = (status: number, body: any): boolean =>
    (status >= 500 && options.faultsExpected === true) || (status === 409 && body?.error?.code === 'concurrent_update');
  const countAnswer = (status: number, body: any): void => {
    if (status >= 500) result.serverErrorAnswers += 1;
    if (status === 409 && body?.error?.code === 'concurrent_update') result.concurrentUpdateAnswers += 1;
  };

  /** One request, retried with the same key while it fails in a way a client retries (5xx under faults, 409 concurrent_update). */
  const send = async (first: Request): Promise<ApiResponse> => {
    let request = first;
    for (let attempt = 1; ; attempt += 1) {
      result.requests += 1;
      result.byKind[request.kind] = (result.byKind[request.kind] ?? 0) + 1;
      let response: ApiResponse;
      try {
        response = await api.request(request.method, request.path, {
          token: request.token,
          key: request.key ?? null,
          ...(request.body === undefined ? {} : { body: request.body }),
        });
      } catch (error) {
        // The connection died without an answer (a handler crash): a client retries with the same key.
        if (!options.faultsExpected || attempt >= MAX_ATTEMPTS_AFTER_FAILURE) throw error;
        result.retriesAfterFailure += 1;
        continue;
      }
      result.byStatus[response.status] = (result.byStatus[response.status] ?? 0) + 1;
      countAnswer(response.status, response.body);
      record(request, response);
      const exhausted = attempt >= MAX_ATTEMPTS_AFTER_FAILURE;
      if (request.kind === 'batch' && response.status === 200) {
        // A batch answers per record: the records that failed in a retryable way are sent again, in a new batch
        // (under a new batch key), each with its own key, as a client does.
        const results = (response.body?.results ?? []) as Array<{ idempotencyKey: string; status: number; body: any }>;
        for (const r of results) {
          countAnswer(r.status, r.body);
          if (!ALLOWED.usage.includes(r.status) && !retryableAnswer(r.status, r.body)) {
            result.anomalies.push(`batch record ${r.idempotencyKey} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
          }
        }
        const again = new Set(results.filter((r) => retryableAnswer(r.status, r.body)).map((r) => r.idempotencyKey));
        if (again.size === 0) return response;
        if (exhausted) {
          result.anomalies.push(`batch records ${[...again].join(', ')} still failed after ${attempt} attempts`);
          return response;
        }
        const records = ((request.body as { records: Array<{ idempotencyKey: string }> }).records ?? []).filter((r) => again.has(r.idempotencyKey));
        request = { ...request, key: newKey(), body: { records } };
        result.retriesAfterFailure += 1;
        await new Promise((r) => setTimeout(r, random.int(1, 20)));
        continue;
      }
      if (!retryableAnswer(response.status, response.body) || exhausted) {
        if (response.status >= 500 || !ALLOWED[request.kind].includes(response.status)) {
          result.anomalies.push(`${request.method} ${request.path} (${request.kind}) answered ${response.status}: ${response.text.slice(0, 300)}`);
        }
        return response;
      }
      result.retriesAfterFailure += 1;
      await new Promise((r) => setTimeout(r, random.int(1, 20)));
    }
  };

  const record = (request: Request, response: ApiResponse): void => {
    if (request.key === undefined) return;
    const replayed = response.headers.get('idempotent-replayed') === 'true';
    if (request.kind === 'batch') {
      // Each record is its own request under its own key. A replayed batch (its own key sent again) is the stored
      // first answer, whose per-record flags are those of the first time: every record in it is a replay too.
      for (const r of (response.body?.results ?? []) as Array<{ idempotencyKey: string; accountId: string; status: number; replayed: boolean; body: unknown }>) {
        if (r.idempotencyKey === null || r.accountId === null) continue;
        logKey(r.accountId, r.idempotencyKey, 'usage', { status: r.status, body: JSON.stringify(r.body), replayed: r.replayed || replayed });
      }
      return;
    }
    logKey(request.accountId, request.key, request.kind, { status: response.status, body: response.text, replayed }, request.paymentRef);
  };

  const pickAccount = (): string => (random.chance(options.hotShare ?? 0.35) ? random.pick(hot) : random.pick(accountIds));

  const usageBody = (accountId: string): Record<string, unknown> => {
    const mix = random.pick(USAGE_MIXES);
    if ('quality' in mix) return { accountId, ...mix, units: random.int(1, 3) };
    const big = random.chance(0.1);
    return { accountId, ...mix, inputTokens: random.int(0, big ? 20_000 : 4_000), outputTokens: random.int(1, big ? 5_000 : 1_000) };
  };

  const makeRequest = (): Request => {
    const kind = random.weighted<Exclude<OpKind, 'open'>>([
      [55, 'usage'],
      [8, 'batch'],
      [5, 'purchase'],
      [6, 'adjust'],
      [5, 'plan'],
      [4, 'contact'],
      [10, 'read'],
    ]);
    const accountId = pickAccount();
    const path = `/v1/accounts/${accountId}`;
    switch (kind) {
      case 'usage':
        return { kind, method: 'POST', path: '/v1/usage', body: usageBody(accountId), token: TOKENS.service, key: newKey(), accountId };
      case 'batch': {
        const records = Array.from({ length: random.int(2, 12) }, () => ({ ...usageBody(pickAccount()), idempotencyKey: newKey() }));
        return { kind, method: 'POST', path: '/v1/usage/batch', body: { records }, token: TOKENS.service, key: newKey(), accountId };
      }
      case 'purchase': {
        const earlier = paymentRefs.get(accountId) ?? [];
        let ref: string;
        let pack: string;
        if (earlier.length > 0 && random.chance(0.15)) {
          // The same payment again (a client that lost the answer and retried under a new key), or misused.
          const old = random.pick(earlier);
          ref = old.ref;
          pack = random.chance(0.7) ? old.pack : random.pick(['pack_1000', 'pack_5000']);
        } else {
          ref = `pay-${newKey()}`;
          pack = random.pick(['pack_1000', 'pack_5000']);
          earlier.push({ ref, pack });
          paymentRefs.set(accountId, earlier);
        }
        return { kind, method: 'POST', path: `${path}/purchases`, body: { pack, paymentRef: ref }, token: TOKENS.service, key: newKey(), accountId, paymentRef: ref };
      }
      case 'adjust': {
        const credits = random.chance(0.5) ? random.int(1, 200_000) / 1000 : -random.int(1, 300_000) / 1000;
        return { kind, method: 'POST', path: `${path}/adjustments`, body: { credits, reason: 'reliability workload' }, token: TOKENS.finance, key: newKey(), accountId };
      }
      case 'plan':
        return { kind, method: 'PUT', path: `${path}/plan`, body: { plan: random.weighted([[3, 'free'], [3, 'pro'], [1, 'custom']]) }, token: TOKENS.service, key: newKey(), accountId };
      case 'contact': {
        const contact: Record<string, string> = {};
        if (random.chance(0.7)) contact['email'] = `${accountId}@example.com`;
        if (random.chance(0.4)) contact['phone'] = `+1415555${String(random.int(1000, 9999))}`;
        return { kind, method: 'PUT', path: `${path}/contact`, body: contact, token: random.chance(0.5) ? TOKENS.customer(accountId) : TOKENS.service, key: newKey(), accountId };
      }
      case 'read':
        return {
          kind,
          method: 'GET',
          path: random.chance(0.5) ? `${path}/balance` : `${path}/ledger?limit=50`,
          token: random.pick([TOKENS.service, TOKENS.finance, TOKENS.customer(accountId)]),
          accountId,
        };
    }
  };

  const operation = async (): Promise<void> => {
    const request = makeRequest();
    const mutating = request.key !== undefined;
    if (mutating && random.chance(options.duplicateRate)) {
      result.duplicatesSent += 1;
      await Promise.all([send(request), send(request)]);
    } else {
      await send(request);
    }
    if (mutating && random.chance(options.retryRate)) {
      result.clientRetries += 1;
      await send(request);
    }
  };

  // Accounts: every plan, most with a contact so warnings have somewhere to go.
  for (const accountId of accountIds) {
    const contact: Record<string, string> = {};
    if (random.chance(0.8)) contact['email'] = `${accountId}@example.com`;
    if (random.chance(0.4)) contact['phone'] = `+1415555${String(random.int(1000, 9999))}`;
    const response = await send({
      kind: 'open',
      method: 'POST',
      path: '/v1/accounts',
      body: { accountId, plan: random.weighted([[6, PLANS[0]], [3, PLANS[1]], [1, PLANS[2]]]), contact },
      token: TOKENS.service,
      key: newKey(),
      accountId,
    });
    if (response.status !== 201) throw new Error(`opening ${accountId} failed: ${response.status} ${response.text}`);
  }

  let done = 0;
  while (done < options.operations) {
    const round = Math.min(options.roundSize, options.operations - done);
    let next = 0;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < round) {
          next += 1;
          await operation();
        }
      }),
    );
    done += round;
    if (done < options.operations) {
      // Hours, days, or past one or two cycle boundaries (a cycle is a calendar month: 31+ days always crosses one).
      const jump = random.weighted<[string, boolean]>([
        [3, [`PT${random.int(1, 20)}H`, false]],
        [3, [`P${random.int(1, 12)}D`, false]],
        [4, [`P${random.int(31, 70)}D`, true]],
      ]);
      await api.advance(jump[0]);
      result.clockJumps += 1;
      if (jump[1]) result.clockJumpsCrossingACycle += 1;
    }
    await options.betweenRounds?.();
  }
  return result;
}

/**
 * The client's view against the ledger: each key's successful answers are the same answer (at most one of them
 * not a replay), and the ledger holds exactly one change per key that succeeded: one usage debit per usage key,
 * one credited lot per payment reference, one adjustment per adjustment key. A key answered only 4xx changed
 * nothing. Returns the anomalies found.
 */
export function checkClientView(result: WorkloadResult, ledgers: ReadonlyMap<string, readonly LedgerEvent[]>): string[] {
  const anomalies: string[] = [];
  const succeeded = new Map<string, { usage: number; adjust: number; refs: Set<string> }>();
  for (const log of result.keys.values()) {
    const ok = log.attempts.filter((a) => a.status >= 200 && a.status < 300);
    if (ok.length === 0) continue;
    const first = ok[0] as Attempt;
    // The same JSON value: a stored answer comes back with its object keys in another order, which JSON allows.
    const sameAnswer = (a: Attempt): boolean => a.status === first.status && isDeepStrictEqual(parseJson(a.body), parseJson(first.body));
    if (!ok.every(sameAnswer)) {
      anomalies.push(`${log.accountId} key ${log.key} (${log.kind}): the answers to one key differ: ${ok.map((a) => `${a.status} ${a.body.slice(0, 120)}`).join(' | ')}`);
    }
    if (ok.filter((a) => !a.replayed).length > 1) anomalies.push(`${log.accountId} key ${log.key} (${log.kind}): applied ${ok.filter((a) => !a.replayed).length} times, not replayed`);
    const counts = succeeded.get(log.accountId) ?? { usage: 0, adjust: 0, refs: new Set<string>() };
    if (log.kind === 'usage' && first.status === 201) counts.usage += 1;
    if (log.kind === 'adjust' && first.status === 201) counts.adjust += 1;
    if (log.kind === 'purchase' && first.status === 201 && log.paymentRef !== undefined) counts.refs.add(log.paymentRef);
    succeeded.set(log.accountId, counts);
  }
  for (const accountId of result.accountIds) {
    const events = ledgers.get(accountId) ?? [];
    const expected = succeeded.get(accountId) ?? { usage: 0, adjust: 0, refs: new Set<string>() };
    const usage = events.filter((e) => e.type === 'Debited' && e.data.reason === 'usage').length;
    const adjust = events.filter((e) => (e.type === 'Debited' && e.data.reason === 'adjustment') || (e.type === 'Credited' && e.data.source === 'adjustment')).length;
    const refs = events.filter((e) => e.type === 'Credited' && e.data.source === 'purchase').map((e) => (e.type === 'Credited' ? e.data.paymentRef : undefined));
    if (usage !== expected.usage) anomalies.push(`${accountId}: ${usage} usage debits in the ledger, ${expected.usage} usage keys answered 201`);
    if (adjust !== expected.adjust) anomalies.push(`${accountId}: ${adjust} adjustments in the ledger, ${expected.adjust} adjustment keys answered 201`);
    if (refs.length !== expected.refs.size || refs.some((r) => r === undefined || !expected.refs.has(r))) {
      anomalies.push(`${accountId}: purchases in the ledger (${refs.join(', ')}) are not the payment references answered 201 (${[...expected.refs].join(', ')})`);
    }
  }
  return anomalies;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
