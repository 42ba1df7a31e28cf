import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG, DomainError, type LedgerEvent } from '../../domain/index.js';
import {
  balanceAt,
  evolveBalance,
  evolveFinance,
  financeReport,
  groupUsage,
  isBelowPercent,
  isUsageDebit,
  lineOfRecord,
  usageRecordOf,
  type BalanceView,
  type FinanceLedgerView,
  usageLineKey,
  usageModelKey,
  type UsageGroupBy,
} from '../../domain/projections/index.js';
import { handleCommand } from '../../functions/lib/handle-command.js';
import { listAccountIds, readEvents } from '../../functions/lib/event-store.js';
import { canonicalItem, DynamoProjectionStore, itemId, usageDayKey } from '../../functions/lib/projection-store.js';
import { financeReportView } from '../../functions/http/get-finance-report.js';
import { groupView, totalsView } from '../../functions/http/get-usage-report.js';
import { LocalStreamPoller } from '../../infra/local/stream-poller.js';
import { marshall } from '@aws-sdk/util-dynamodb';
import { rebuildProjections } from '../../scripts/rebuild-projections.js';
import { verifyLedger } from '../../scripts/verify-ledger.js';
import { randomWorkload } from '../domain/projections/workload.js';
import { TOKENS, useLocalApi, type ApiResponse, type LocalApi } from '../support/local-api.js';

/**
 * The projections end to end on DynamoDB Local: a random workload of a few thousand commands over forty accounts
 * and four monthly cycles goes through the command path (the domain decider behind handleCommand), the local
 * stream poller feeds the projection handler as the event source mapping would, and then:
 * - `ledger:verify` finds the ledger, the heads and every projection in agreement;
 * - `projections:rebuild` into a fresh table gives the very same items, byte for byte;
 * - the query routes answer what the ledger says (usage, export, finance, balances);
 * - a corrupted projection item makes `ledger:verify` name it and exit non-zero.
 */

const START = new Date('2026-10-03T08:00:00.000Z');
const ACCOUNTS = 40;
const COMMANDS = 2400;

const api = useLocalApi({ services: [new LocalStreamPoller({ mappings: ['projectLedger'] })], start: START });

let ledger: LedgerEvent[] = [];
let accepted = 0;

async function sync(local: LocalApi): Promise<void> {
  const res = await local.request('POST', '/_local/sync', { key: null, token: null });
  if (res.status !== 200) throw new Error(`sync failed: ${res.status} ${res.text}`);
}

async function scanTable(table: string): Promise<string[]> {
  const items: Array<Record<string, unknown>> = [];
  for await (const item of new DynamoProjectionStore(table).scanItems()) items.push(item);
  return items.sort((a, b) => (itemId(a) < itemId(b) ? -1 : 1)).map(canonicalItem);
}

/** RFC 4180, as a spreadsheet reads it: quoted fields may hold commas, doubled quotes, CR and LF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 1;
    } else field += c;
  }
  if (field !== '' || row.length > 0) throw new Error('the CSV does not end with CRLF');
  return rows;
}

beforeAll(async () => {
  const local = api();
  for (const command of randomWorkload({ seed: 2026, accounts: ACCOUNTS, commands: COMMANDS, start: START, spanDays: 120 })) {
    local.clock.set(command.now);
    try {
      await handleCommand({ accountId: command.accountId, command: (now) => ({ ...command, now }), respond: () => ({ statusCode: 200, body: {} }) });
      accepted += 1;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
    }
  }
  await sync(local);
  for await (const accountId of listAccountIds()) ledger.push(...(await readEvents(accountId, 1)));
}, 300_000);

describe('projections from a random workload, through the stream poller', () => {
  it('the workload is what it claims: thousands of events over every account, most commands accepted', () => {
    expect(new Set(ledger.map((e) => e.accountId)).size).toBe(ACCOUNTS);
    expect(accepted).toBeGreaterThan(COMMANDS * 0.6);
    expect(ledger.length).toBeGreaterThan(2000);
    expect(ledger.filter((e) => e.type === 'Granted').length).toBeGreaterThan(ACCOUNTS * 3);
  });

  it('given the stream is quiet, when ledger:verify runs, then the ledger, the heads and every projection agree', async () => {
    const result = await verifyLedger();
    expect(result.differences).toEqual([]);
    expect(result).toMatchObject({ accounts: ACCOUNTS, events: ledger.length });
  });

  it('when the whole ledger is replayed into a fresh table, then it holds byte for byte the items the live projections hold', async () => {
    const fresh = `${api().tables.prefix}Rebuilt`;
    const result = await rebuildProjections({ into: fresh, create: true });
    expect(result).toMatchObject({ accounts: ACCOUNTS, events: ledger.length });
    const live = await scanTable(api().runtime.tables.Projections as string);
    const rebuilt = await scanTable(fresh);
    expect(rebuilt.length).toBe(live.length);
    expect(rebuilt).toEqual(live);
  });

  it('a rebuild refuses a table that is not empty, rather than mixing two histories', async () => {
    await expect(rebuildProjections({ into: api().runtime.tables.Projections as string })).rejects.toThrow(/not empty/);
  });
});

describe('the query routes answer what the ledger says', () => {
  const usageOf = (accountId: string) => ledger.filter(isUsageDebit).filter((e) => e.accountId === accountId);
  const busiest = (): string => {
    const counts = new Map<string, number>();
    for (const e of ledger) if (isUsageDebit(e)) counts.set(e.accountId, (counts.get(e.accountId) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] as string;
  };

  it.each<UsageGroupBy>(['day', 'feature', 'model'])('usage by %s over a range that starts and ends inside a day equals the usage records in it', async (groupBy) => {
    const accountId = busiest();
    const from = '2026-11-02T13:30:00.000Z';
    const to = '2027-01-20T06:15:00.000Z';
    const inRange = usageOf(accountId).filter((e) => e.data.usage.occurredAt >= from && e.data.usage.occurredAt < to);
    const expected = groupUsage(
      inRange.map((e) => lineOfRecord(usageRecordOf(e) as NonNullable<ReturnType<typeof usageRecordOf>>)),
      groupBy,
    );

    expect(inRange.length).toBeGreaterThan(10);
    const res = await api().request('GET', `/v1/accounts/${accountId}/usage?from=${from}&to=${to}&groupBy=${groupBy}`, { token: TOKENS.customer(accountId) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accountId, from, to, groupBy });
    expect(res.body.groups).toEqual(expected.groups.map(groupView));
    expect(res.body.totals).toEqual(totalsView(expected.totals));
    expect(res.body.totals.requests).toBe(inRange.length);
  });

  it('a usage report of whole days (dates) counts each day from midnight to midnight UTC, the last day included', async () => {
    const accountId = busiest();
    const inRange = usageOf(accountId).filter((e) => e.data.usage.occurredAt >= '2026-12-01' && e.data.usage.occurredAt < '2027-01-01');
    const res = await api().request('GET', `/v1/accounts/${accountId}/usage?from=2026-12-01&to=2026-12-31&groupBy=day`, { token: TOKENS.finance });
    expect(res.status).toBe(200);
    expect(res.body.totals.requests).toBe(inRange.length);
    expect(res.body.groups.every((g: { key: string }) => g.key >= '2026-12-01' && g.key <= '2026-12-31')).toBe(true);
  });

  it('a CSV export, page by page, has one row per usage record in range, with commas, quotes and newlines in values intact', async () => {
    const accountId = busiest();
    const from = '2026-10-01';
    const to = '2027-02-28';
    const expected = usageOf(accountId).filter((e) => e.data.usage.occurredAt < '2027-03-01');
    const rows: string[][] = [];
    let header: string[] | undefined;
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `from=${from}&to=${to}&format=csv&limit=40${cursor === null ? '' : `&cursor=${cursor}`}`;
      const res: ApiResponse = await api().request('GET', `/v1/accounts/${accountId}/usage/export?${query}`, { token: TOKENS.finance });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="usage-${accountId}-2026-10-01-2027-02-28(-from-v\\d+)?\\.csv"$`));
      const [head, ...body] = parseCsv(res.text);
      header ??= head;
      expect(head).toEqual(header);
      rows.push(...body);
      cursor = res.headers.get('x-next-cursor');
      pages += 1;
    } while (cursor !== null);

    expect(pages).toBeGreaterThan(1);
    expect(rows.length).toBe(expected.length);
    const column = (name: string): number => (header as string[]).indexOf(name);
    expect(rows.map((r) => Number(r[column('version')]))).toEqual(
      [...expected].sort((a, b) => (a.data.usage!.occurredAt < b.data.usage!.occurredAt ? -1 : a.data.usage!.occurredAt > b.data.usage!.occurredAt ? 1 : a.version - b.version)).map((e) => e.version),
    );
    // Each row carries the record's own fields as reported: images have a quality and no model.
    const reported = new Map(expected.map((e) => [e.version, e.data.usage]));
    for (const r of rows) {
      const usage = reported.get(Number(r[column('version')]));
      expect([r[column('feature')], r[column('model')], r[column('quality')]]).toEqual([usage?.feature, usage?.model ?? '', usage?.quality ?? '']);
    }
    expect(rows.some((r) => r[column('feature')] === 'image' && r[column('model')] === '' && r[column('quality')] !== '')).toBe(true);
    const chatbotIds = new Set(rows.map((r) => r[column('chatbotId')]));
    for (const tricky of ['support, EU', 'say "hi"', 'multi\nline']) {
      if (expected.some((e) => e.data.usage?.chatbotId === tricky)) expect(chatbotIds).toContain(tricky);
    }
    expect([...chatbotIds].some((id) => id !== undefined && /[,"\n]/.test(id))).toBe(true);
    const credits = rows.reduce((sum, r) => sum + Math.round(Number(r[column('credits')]) * 1000), 0);
    expect(credits).toBe(expected.reduce((sum, e) => sum + e.data.amount, 0));
  });

  it('a JSONL export has one JSON object per usage record in range', async () => {
    const accountId = busiest();
    const from = '2026-11-15T00:00:00Z';
    const to = '2026-12-15T00:00:00Z';
    const expected = usageOf(accountId).filter((e) => e.data.usage.occurredAt >= '2026-11-15T00:00:00.000Z' && e.data.usage.occurredAt < '2026-12-15T00:00:00.000Z');
    const res = await api().request('GET', `/v1/accounts/${accountId}/usage/export?from=${from}&to=${to}&format=jsonl&limit=10000`, { token: TOKENS.service });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers.get('x-next-cursor')).toBeNull();
    const lines = res.text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { version: number });
    expect(lines.map((l) => l.version).sort((a, b) => a - b)).toEqual(expected.map((e) => e.version).sort((a, b) => a - b));
  });

  it('the finance report of every month equals the fold of the whole ledger', async () => {
    const view = ledger.reduce<FinanceLedgerView | null>((v, e) => evolveFinance(v, e), null) as FinanceLedgerView;
    for (const month of ['2026-10', '2026-11', '2026-12', '2027-01', '2027-02']) {
      const res = await api().request('GET', `/v1/reports/finance?month=${month}`, { token: TOKENS.finance });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(financeReportView(financeReport(month, Object.entries(view.months))));
    }
  });

  it('the balances listing, page by page, lists every account once; filtered, exactly the free accounts below 20%', async () => {
    // Three accounts opened now, so that some balances are low at the time of the listing.
    const local = api();
    for (const [accountId, plan, credits] of [['low-free', 'free', 85], ['half-free', 'free', 50], ['low-pro', 'pro', 4500]] as const) {
      expect((await local.request('POST', '/v1/accounts', { body: { accountId, plan } })).status).toBe(201);
      const spent = await local.request('POST', '/v1/usage', { body: { accountId, feature: 'chat', model: 'standard', inputTokens: credits * 500 } });
      expect(spent.status).toBe(201);
      ledger.push(...(await readEvents(accountId, 1)));
    }
    await sync(local);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: ApiResponse = await api().request('GET', `/v1/reports/balances?limit=7${cursor === null ? '' : `&cursor=${cursor}`}`, { token: TOKENS.finance });
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((i: { accountId: string }) => i.accountId));
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    expect(seen.length).toBe(ACCOUNTS + 3);
    expect(new Set(seen).size).toBe(ACCOUNTS + 3);

    const now = api().clock.now();
    const expected = [...new Set(ledger.map((e) => e.accountId))].filter((accountId) => {
      const view = ledger.filter((e) => e.accountId === accountId).reduce<BalanceView | null>((v, e) => evolveBalance(v, e), null) as BalanceView;
      const balance = balanceAt(view, now, DEFAULT_CATALOG);
      return balance.plan === 'free' && isBelowPercent(balance, 2000);
    });
    const filtered: string[] = [];
    cursor = null;
    do {
      const res: ApiResponse = await api().request('GET', `/v1/reports/balances?plan=free&belowPercent=20&limit=3${cursor === null ? '' : `&cursor=${cursor}`}`, { token: TOKENS.finance });
      expect(res.status).toBe(200);
      for (const item of res.body.items) {
        expect(item.plan).toBe('free');
        expect(item.total * 100).toBeLessThan(item.monthly.allocation * 20);
      }
      filtered.push(...res.body.items.map((i: { accountId: string }) => i.accountId));
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    expect(expected).toContain('low-free');
    expect(expected).not.toContain('half-free');
    expect(filtered.sort()).toEqual(expected.sort());
  });
});

const firstUsage = () => ledger.filter(isUsageDebit)[0];

describe('ledger:verify on a corrupted projection', () => {
  const verifyCli = (tables: Record<string, string>, endpoint: string) =>
    promisify(execFile)('node_modules/.bin/tsx', ['scripts/verify-ledger.ts', '--endpoint', endpoint, '--ledger-table', tables.Ledger as string, '--projections-table', tables.Projections as string], {
      env: { ...process.env },
    });

  it('given clean projections, then the command exits 0', async () => {
    await sync(api());
    const { stdout } = await verifyCli(api().runtime.tables, api().runtime.endpoint);
    expect(stdout).toMatch(/ledger, heads and projections agree/);
  });

  it('given one usage day whose credits were raised by a millicredit, then verify names that item and the command exits non-zero', async () => {
    const usage = ledger.filter(isUsageDebit)[0] as NonNullable<ReturnType<typeof firstUsage>>;
    const key = usageDayKey(usage.accountId, usage.data.usage.occurredAt.slice(0, 10));
    const line = usageLineKey(usage.data.usage.feature, usageModelKey(usage.data.usage));
    await api().tables.client.send(
      new UpdateItemCommand({
        TableName: api().runtime.tables.Projections,
        Key: marshall(key),
        UpdateExpression: 'ADD #lines.#line.#credits :one',
        ExpressionAttributeNames: { '#lines': 'lines', '#line': line, '#credits': 'credits' },
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );

    const result = await verifyLedger();
    expect(result.differences).toEqual([{ kind: 'projection', where: `${key.pk}|${key.sk}`, message: expect.stringContaining(`lines.${line}.credits: the ledger says`) }]);

    const failure = await verifyCli(api().runtime.tables, api().runtime.endpoint).then(
      () => undefined,
      (error: { code?: number; stdout?: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toContain(`${key.pk}|${key.sk}`);
    expect(failure?.stdout).toMatch(/1 difference/);
  });
});
