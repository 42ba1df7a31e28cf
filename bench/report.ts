import type { BenchReport } from './main.js';

/** The bench's markdown: machine and date, the targets (ratios first), then the measurements behind them. */
const fmt = (n: number | undefined, digits = 1): string =>
  n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const ratio = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '–' : `${n.toFixed(2)}×`);
const met = (m: boolean | undefined): string => (m === undefined ? '–' : m ? 'met' : '**missed**');

export function markdown(report: BenchReport): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(`Run ${report.date} (${report.mode}) on ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${m.os}; DynamoDB Local ${m.dynamodbLocal} in memory, same machine; load average ${m.loadAverageAtStart} at start, ${m.loadAverageAtEnd ?? '–'} at end.`);
  out.push('');
  out.push('| target | measured | target | result |');
  out.push('|---|---|---|---|');
  for (const t of report.targets) out.push(`| ${t.name} | ${t.measured} | ${t.target} | ${met(t.met)} |`);
  out.push('');
  out.push('| debits | accounts | concurrency | ratio to ceiling | debits/s | p50 ms | p99 ms | conflicts retried | transactions per debit | answers |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of report.ceiling) {
    out.push(`| ceiling: GetItem + TransactWriteItems(3) | ${fmt(c.accounts, 0)} | ${c.concurrency} | 1.00× | ${fmt(c.result.opsPerSecond)} | ${fmt(c.result.latency.p50Ms)} | ${fmt(c.result.latency.p99Ms)} | – | 1.00 | – |`);
  }
  for (const d of report.debits) {
    const answers = Object.entries(d.statuses)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    out.push(
      `| ${d.path} | ${d.accounts === 1 ? '1 (hot)' : fmt(d.accounts, 0)} | ${d.concurrency} | ${ratio(d.ratioToCeiling)} | ${fmt(d.result.opsPerSecond)} | ${fmt(d.result.latency.p50Ms)} | ${fmt(d.result.latency.p99Ms)} | ${fmt(d.conflictRetries, 0)} | ${(d.transactionsPerDebit ?? 1).toFixed(2)} | ${answers} |`,
    );
  }
  out.push('');
  if (report.batches.length > 0) {
    out.push('| batches of 100 | concurrency | ratio to single debits | records/s | batches/s | p50 ms per batch | p99 ms per batch | answers |');
    out.push('|---|---|---|---|---|---|---|---|');
    for (const b of report.batches) {
      const answers = Object.entries(b.statuses)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ');
      out.push(
        `| ${b.path} | ${b.concurrency} | ${ratio(b.ratioToSingle)} | ${fmt(b.recordsPerSecond)} | ${fmt(b.result.opsPerSecond)} | ${fmt(b.result.latency.p50Ms)} | ${fmt(b.result.latency.p99Ms)} | ${answers} |`,
      );
    }
    out.push('');
  }
  if (report.projections !== undefined) {
    const p = report.projections;
    out.push('| projections | value |');
    out.push('|---|---|');
    if (p.lag !== undefined) out.push(`| lag from append to projected, p50 / p99 (${fmt(p.lag.count, 0)} debits at ${p.lag.ratePerSecond}/s) | ${fmt(p.lag.p50Ms)} ms / ${fmt(p.lag.p99Ms)} ms |`);
    if (p.rebuild !== undefined) out.push(`| rebuild: ${fmt(p.rebuild.events, 0)} events of ${fmt(p.rebuild.accounts, 0)} accounts into an empty table | ${fmt(p.rebuild.eventsPerSecond, 0)} events/s (${fmt(p.rebuild.seconds, 1)} s) |`);
    for (const [name, c] of Object.entries(p.consumers ?? {})) {
      out.push(`| ${name}: records per invocation, ms per invocation | ${fmt(c.records / Math.max(1, c.invocations), 1)}, ${fmt(c.handlerMs / Math.max(1, c.invocations), 1)} |`);
    }
    out.push('');
  }
  if (report.io !== undefined) {
    out.push('| per unit of work | requests | read units | write units | bytes written |');
    out.push('|---|---|---|---|---|');
    for (const io of report.io) {
      const requests = Object.entries(io.requests)
        .map(([c, n]) => `${fmt(n, 2)} ${c.replace(/Command$/, '')}`)
        .join(' + ');
      out.push(`| ${io.what} | ${requests} | ${fmt(io.readUnits, 2)} | ${fmt(io.writeUnits, 2)} | ${fmt(io.bytesWritten, 0)} |`);
    }
    out.push('');
  }
  for (const c of report.cost) {
    out.push(`| cost per million ${c.what} | USD |`);
    out.push('|---|---|');
    for (const l of c.lines) out.push(`| ${l.what} | ${fmt(l.usdPerMillion, 4)} |`);
    out.push(`| **total** | **${fmt(c.totalUsdPerMillion, 3)}** |`);
    out.push('');
  }
  if (report.bundles.length > 0) {
    out.push('| function bundle | size KB | cold import ms (median, as deployed) | with --enable-source-maps |');
    out.push('|---|---|---|---|');
    for (const b of report.bundles) out.push(`| ${b.entry} | ${fmt(b.bytes / 1024)} | ${fmt(b.coldImportMs)} | ${fmt(b.coldImportWithSourceMapsMs)} |`);
    out.push('');
  }
  if (report.notMeasured.length > 0) {
    out.push(`Not measured: ${report.notMeasured.join('; ')}.`);
    out.push('');
  }
  return out.join('\n');
}
