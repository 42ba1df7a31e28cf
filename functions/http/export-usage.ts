import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { AccountNotFoundError, millicreditsToCredits } from '../../domain/index.js';
import type { UsageRecordView } from '../../domain/projections/index.js';
import { clock } from '../lib/clock.js';
import { ApiError } from '../lib/errors.js';
import { loadAccount } from '../lib/event-store.js';
import { httpHandler, routeOf, type HttpEvent, type HttpResult } from '../lib/http.js';
import { DynamoProjectionStore } from '../lib/projection-store.js';
import { rangeQuery, resolveRange } from './get-usage-report.js';

/**
 * GET /v1/accounts/{id}/usage/export (service, finance, that customer): one row per usage record (a usage
 * charge) with `from ≤ occurredAt < to`, in the order they occurred, as a download: `format=csv` (RFC 4180, CRLF,
 * a header row; a text cell starting with =, +, -, @, tab or CR is prefixed with a single quote so a spreadsheet
 * shows it rather than runs it) or `format=jsonl` (one JSON object per line, values verbatim).
 *
 * A large range comes in pages of at most `limit` rows (default 5,000, at most 10,000, well under Lambda's 6 MB
 * response): when more rows follow, the response carries `X-Next-Cursor` and a `Link: <…>; rel="next"` header;
 * pass `cursor` to get the next page. Each page is a complete file (CSV pages repeat the header). A page is read
 * from the usage-record projection one DynamoDB page at a time, never the whole range at once.
 */

export const DEFAULT_EXPORT_ROWS = 5000;
export const MAX_EXPORT_ROWS = 10_000;

export const exportQuery = z
  .object({
    ...rangeQuery,
    format: z.enum(['csv', 'jsonl']).default('csv'),
    limit: z
      .string()
      .regex(/^\d+$/, 'a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_EXPORT_ROWS))
      .optional(),
    cursor: z.string().min(1).max(512).optional(),
  })
  .strict();

/** Columns of both formats, in order. Credits are numbers with at most three decimals. */
export const EXPORT_COLUMNS = [
  'occurredAt',
  'recordedAt',
  'version',
  'feature',
  'model',
  'quality',
  'chatbotId',
  'inputTokens',
  'outputTokens',
  'units',
  'quantity',
  'credits',
  'monthlyCredits',
  'purchasedCredits',
  'unlimited',
  'rateCredits',
  'ratePer',
  'rateMeasure',
  'catalogVersion',
] as const;

export type ExportRow = Record<(typeof EXPORT_COLUMNS)[number], string | number | boolean | null>;

export function exportRow(record: UsageRecordView): ExportRow {
  return {
    occurredAt: record.occurredAt,
    recordedAt: record.at,
    version: record.version,
    feature: record.feature,
    // The record's own fields as reported (an image has a quality, no model), not the usage report's model key.
    model: record.model ?? null,
    quality: record.quality ?? null,
    chatbotId: record.chatbotId ?? null,
    inputTokens: record.inputTokens,
    outputTokens: record.outputTokens,
    units: record.units,
    quantity: record.quantity,
    credits: millicreditsToCredits(record.credits),
    monthlyCredits: millicreditsToCredits(record.split.monthly),
    purchasedCredits: millicreditsToCredits(record.split.purchased),
    unlimited: record.unlimited,
    rateCredits: millicreditsToCredits(record.rate.millicredits),
    ratePer: record.rate.per,
    rateMeasure: record.rate.measure,
    catalogVersion: record.catalogVersion,
  };
}

/**
 * The text columns whose values come from the client or the catalog (a chatbot id is any string a product
 * service sent). Only these are neutralised against formula injection: numbers, booleans and the timestamps
 * the ledger writes are never touched.
 */
export const CSV_TEXT_COLUMNS: ReadonlySet<(typeof EXPORT_COLUMNS)[number]> = new Set(['feature', 'model', 'quality', 'chatbotId', 'rateMeasure', 'catalogVersion']);

/** First characters a spreadsheet takes as the start of a formula (OWASP, CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** OWASP's rule for a text cell: one that a spreadsheet would run as a formula is prefixed with a single quote. */
export const neutraliseFormula = (text: string): string => (FORMULA_START.test(text) ? `'${text}` : text);

/** RFC 4180: a field with a comma, a double quote, CR or LF is quoted, and its quotes are doubled. */
export function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvLine = (fields: ReadonlyArray<string | number | boolean | null>): string => `${fields.map(csvField).join(',')}\r\n`;

/** A row's cells in column order, text cells neutralised (then quoted by csvField). */
const csvCells = (row: ExportRow): Array<string | number | boolean | null> =>
  EXPORT_COLUMNS.map((c) => {
    const value = row[c];
    return typeof value === 'string' && CSV_TEXT_COLUMNS.has(c) ? neutraliseFormula(value) : value;
  });

export function toCsv(rows: readonly ExportRow[]): string {
  return csvLine(EXPORT_COLUMNS) + rows.map((row) => csvLine(csvCells(row))).join('');
}

export const toJsonl = (rows: readonly ExportRow[]): string => rows.map((row) => `${JSON.stringify(row)}\n`).join('');

const CURSOR_PREFIX = 'RECORD#';

export function encodeExportCursor(sortKey: string): string {
  return Buffer.from(sortKey, 'utf8').toString('base64url');
}

export function decodeExportCursor(cursor: string): string {
  const sortKey = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!sortKey.startsWith(CURSOR_PREFIX) || encodeExportCursor(sortKey) !== cursor) {
    throw new ApiError(400, 'invalid_cursor', 'The cursor is not one this API returned.', { field: 'cursor' });
  }
  return sortKey;
}

const safeName = (text: string): string => text.replace(/[^A-Za-z0-9._-]/g, '_');

/** The Link header's URL for the next page: the same query with the next cursor. */
function nextLink(event: HttpEvent, cursor: string): string {
  const params = new URLSearchParams(event.rawQueryString ?? '');
  params.set('cursor', cursor);
  return `<${event.rawPath}?${params.toString()}>; rel="next"`;
}

/** The HTTP layer answers JSON; a download's text body is kept aside per request and put back after it. */
const downloads = new WeakMap<HttpEvent, string>();

const rawBody = (): MiddlewareObj<HttpEvent, HttpResult, Error, Context> => ({
  after: async (request) => {
    const body = downloads.get(request.event);
    if (body !== undefined && request.response !== null && typeof request.response === 'object') request.response.body = body;
  },
});

export const handler = httpHandler({
  route: routeOf('GET', '/v1/accounts/{id}/usage/export'),
  query: exportQuery,
  handle: async ({ accountId, query, event }) => {
    const range = resolveRange(query, clock.now());
    const after = query.cursor === undefined ? undefined : decodeExportCursor(query.cursor);
    const account = await loadAccount(accountId);
    if (account.opened === null) throw new AccountNotFoundError(accountId);

    const store = new DynamoProjectionStore();
    const bounds = { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() };
    const page = await store.usageRecordPage(accountId, bounds, { limit: query.limit ?? DEFAULT_EXPORT_ROWS, ...(after === undefined ? {} : { after }) });
    const rows = page.records.map(exportRow);
    const csv = query.format === 'csv';
    downloads.set(event, csv ? toCsv(rows) : toJsonl(rows));

    const filename = `usage-${safeName(accountId)}-${bounds.from.slice(0, 10)}-${new Date(range.to - 1).toISOString().slice(0, 10)}${
      after === undefined ? '' : `-from-v${page.records[0]?.version ?? 0}`
    }.${query.format}`;
    const next = page.next === null ? undefined : encodeExportCursor(page.next);
    return {
      statusCode: 200,
      body: null,
      headers: {
        'content-type': csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
        'content-disposition': `attachment; filename="${filename}"`,
        'x-row-count': String(rows.length),
        ...(next === undefined ? {} : { 'x-next-cursor': next, link: nextLink(event, next) }),
      },
    };
  },
}).use(rawBody());
