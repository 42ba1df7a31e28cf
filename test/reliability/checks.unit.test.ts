import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG, execute, fold, initialState, type AccountState, type Command, type LedgerEvent } from '../../domain/index.js';
import type { ApiResponse } from '../support/local-api.js';
import { problemsOf } from './lib/fuzz.js';
import { checkAll, checkBalances, checkCycles, checkHeadIsFold, checkThresholds, type LedgerFacts } from './lib/ledger-checks.js';
import type { ReliabilityServices } from './lib/services.js';
import { checkNotifications } from './lib/system-checks.js';
import { checkClientView, type KeyLog, type WorkloadResult } from './lib/workload.js';

/**
 * The reliability suite's checks, shown to catch what they look for: each is given a ledger or a log with one
 * planted defect and must name it, and is given the honest history and must find nothing. A check that could not
 * fail would make the suite's "zero anomalies" mean nothing.
 */
const T0 = new Date('2026-11-26T10:00:00.000Z');
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

/** Runs commands through the domain, as the command path would, and returns the ledger they make. */
function history(accountId: string, commands: Array<(now: Date) => Command>, step = 1): { events: LedgerEvent[]; state: AccountState } {
  let state = initialState(accountId);
  const events: LedgerEvent[] = [];
  commands.forEach((make, i) => {
    const result = execute(make(at(i * step)), state, DEFAULT_CATALOG);
    events.push(...result.events);
    state = result.state;
  });
  return { events, state };
}

const usage = (accountId: string, tokens: number) => (now: Date): Command => ({
  type: 'RecordUsage',
  accountId,
  now,
  usage: { feature: 'chat', model: 'standard', inputTokens: tokens, outputTokens: 0 },
});
const open = (accountId: string, plan = 'free') => (now: Date): Command => ({ type: 'OpenAccount', accountId, now, plan });

/** A free account (100 credits) that spends 90 of them: it crosses 20% and then 5%. */
function honest(): LedgerFacts {
  const { events, state } = history('acme', [open('acme'), usage('acme', 30_000), usage('acme', 15_000)]);
  return { accountId: 'acme', events, head: state };
}

const clone = <T>(value: T): T => structuredClone(value);

describe('the ledger checks', () => {
  it('given an honest history with a warning, then no check finds anything', () => {
    const facts = honest();
    expect(facts.events.some((e) => e.type === 'ThresholdCrossed')).toBe(true);
    expect(checkAll(facts)).toEqual([]);
  });

  it('given a debit that drew more monthly credits than were left, then the overdraft and the broken balance are named', () => {
    const facts = honest();
    const events = clone(facts.events);
    const debit = events.find((e) => e.type === 'Debited');
    if (debit?.type !== 'Debited') throw new Error('no debit in the history');
    debit.data.amount = 150_000;
    debit.data.split.monthly = 150_000;
    const anomalies = checkBalances({ ...facts, events });
    expect(anomalies.some((a) => a.includes('drew 150000 mc monthly with 100000 left'))).toBe(true);
    expect(anomalies.some((a) => a.includes('monthly bucket at -50000 mc'))).toBe(true);
  });

  it('given a head that is not the fold of its events, then the difference is named', () => {
    const facts = honest();
    const head = clone(facts.head);
    head.monthly.remaining += 1;
    expect(checkHeadIsFold({ ...facts, head })).toEqual(['acme: head state differs from the fold of its 5 events']);
  });

  it('given a cycle granted twice, then the second grant is named', () => {
    const { events } = history('acme', [open('acme')]);
    const grant = events[1];
    if (grant?.type !== 'Granted') throw new Error('no grant after opening');
    const twice = [...events, { ...grant, version: 3 }];
    expect(checkCycles({ accountId: 'acme', events: twice, head: fold('acme', twice) })).toContain('acme v3 (Granted): granted cycle 0 after cycle 0');
  });

  it('given a debit that took a free account to 10 credits (below 20%) with no warning after it, then the missing warning is named', () => {
    const { events } = history('acme', [open('acme'), usage('acme', 45_000)]);
    const withoutWarning = events.filter((e) => e.type !== 'ThresholdCrossed');
    expect(checkThresholds({ accountId: 'acme', events: withoutWarning, head: fold('acme', withoutWarning) })).toEqual([
      'acme v3: the debit took the balance below 20% and no warning followed',
    ]);
  });
});

function workloadOf(keys: KeyLog[]): WorkloadResult {
  return {
    seed: 1,
    accountIds: ['acme'],
    operations: keys.length,
    requests: keys.length,
    byKind: {},
    byStatus: {},
    duplicatesSent: 0,
    clientRetries: 0,
    retriesAfterFailure: 0,
    concurrentUpdateAnswers: 0,
    serverErrorAnswers: 0,
    clockJumps: 0,
    clockJumpsCrossingACycle: 0,
    keys: new Map(keys.map((k) => [`${k.accountId}\n${k.key}`, k])),
    anomalies: [],
  };
}

describe('the client-view check', () => {
  const ledger = history('acme', [open('acme', 'pro'), usage('acme', 1000)]).events;
  const answer = '{"accountId":"acme","version":3,"charged":2}';

  it('given one usage key answered 201 and replayed, and one debit in the ledger, then it finds nothing', () => {
    const log: KeyLog = { accountId: 'acme', key: 'k1', kind: 'usage', attempts: [{ status: 201, body: answer, replayed: false }, { status: 201, body: answer, replayed: true }] };
    expect(checkClientView(workloadOf([log]), new Map([['acme', ledger]]))).toEqual([]);
  });

  it('given a usage key answered twice as new (applied twice), then it is named', () => {
    const log: KeyLog = { accountId: 'acme', key: 'k1', kind: 'usage', attempts: [{ status: 201, body: answer, replayed: false }, { status: 201, body: answer, replayed: false }] };
    expect(checkClientView(workloadOf([log]), new Map([['acme', ledger]]))).toEqual(['acme key k1 (usage): applied 2 times, not replayed']);
  });

  it('given a usage key refused with 402 while the ledger holds a debit for it, then the extra debit is named', () => {
    const log: KeyLog = { accountId: 'acme', key: 'k1', kind: 'usage', attempts: [{ status: 402, body: '{}', replayed: false }] };
    expect(checkClientView(workloadOf([log]), new Map([['acme', ledger]]))).toEqual(['acme: 1 usage debits in the ledger, 0 usage keys answered 201']);
  });

  it('given a replay whose answer differs from the first, then it is named; key order alone is no difference', () => {
    const reordered = '{"charged":2,"version":3,"accountId":"acme"}';
    const same: KeyLog = { accountId: 'acme', key: 'k1', kind: 'usage', attempts: [{ status: 201, body: answer, replayed: false }, { status: 201, body: reordered, replayed: true }] };
    expect(checkClientView(workloadOf([same]), new Map([['acme', ledger]]))).toEqual([]);
    const other: KeyLog = { ...same, attempts: [{ status: 201, body: answer, replayed: false }, { status: 201, body: '{"charged":3}', replayed: true }] };
    expect(checkClientView(workloadOf([other]), new Map([['acme', ledger]]))[0]).toMatch(/^acme key k1 \(usage\): the answers to one key differ/);
  });
});

describe('the fuzzing property', () => {
  const response = (status: number, body: unknown): ApiResponse => ({ status, body, headers: new Headers(), text: JSON.stringify(body) });
  const error = { error: { code: 'validation_failed', message: 'The request body is invalid.', details: {} } };

  it('given a 400 in the error shape that wrote nothing, then it is fine; a 201 that wrote is fine too', () => {
    expect(problemsOf(response(400, error), 0)).toEqual([]);
    expect(problemsOf(response(201, { accountId: 'acme' }), 2)).toEqual([]);
  });

  it('given a 500, a 4xx without the error shape, or a 4xx that wrote to the ledger, then each is named', () => {
    expect(problemsOf(response(500, error), 0)).toEqual(['answered 500']);
    expect(problemsOf(response(404, { message: 'Not Found' }), 0)).toEqual(['a 404 without the JSON error shape: {"message":"Not Found"}']);
    expect(problemsOf(response(402, error), 2)).toEqual(['a 402 changed the ledger (2 writes)']);
  });
});

describe('the notification check', () => {
  const ledgers = new Map([['acme', honest().events]]);
  const warning = honest().events.find((e) => e.type === 'ThresholdCrossed') as LedgerEvent;
  const services = (published: Array<[string, number]>, outbox: number): ReliabilityServices =>
    ({
      published: new Map(published),
      notifier: { outbox: Array.from({ length: outbox }, () => ({ accountId: 'acme', eventVersion: warning.version })) },
      poller: { deadLetters: [] },
      scheduler: { deadLetters: [] },
    }) as unknown as ReliabilityServices;

  it('given each warning published once and kept once in the outbox, then it finds nothing', () => {
    expect(checkNotifications(services([[`acme#${warning.version}#topic`, 1]], 1), ledgers).anomalies).toEqual([]);
  });

  it('given a warning published twice, or a publish for an event that is no warning, then each is named', () => {
    const anomalies = checkNotifications(services([[`acme#${warning.version}#topic`, 2], ['acme#2#topic', 1]], 1), ledgers).anomalies;
    expect(anomalies).toEqual([`ThresholdCrossed acme#${warning.version} was published to the topic 2 times`, 'a warning went out for acme#2, which is not a ThresholdCrossed event']);
  });
});
