import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { ESM_REQUIRE_BANNER } from '../infra/constructs/ledger-function.js';
import { ROUTES, SCHEDULED, STREAM_CONSUMERS } from '../infra/routes.js';
import { median, round } from './lib/stats.js';

const run = promisify(execFile);

/**
 * Each function's bundle as the house LedgerFunction (infra/constructs/ledger-function.ts) has NodejsFunction build
 * it: esbuild, one ESM file for Node 22, the AWS SDK bundled, minified with names kept, an external source map. And
 * the time a fresh Node process (run with `--enable-source-maps`, as the functions are) takes to import it: the
 * module-loading part of a cold start, which is what our code controls.
 */
export interface BundleResult {
  entry: string;
  bytes: number;
  /** The external source map beside it (deployed too, read only when a stack trace is printed). */
  sourceMapBytes: number;
  /** Median, over `samples` fresh processes, of the time from `import()` called to resolved. */
  coldImportMs: number;
  samples: number[];
  /** The same without `--enable-source-maps`: what the source maps cost at import. */
  coldImportWithoutSourceMapsMs: number;
}

export interface BundleOptions {
  root: string;
  samples: number;
  /** Only these entries (a smoke run); default every function's. */
  only?: readonly string[];
}

export function functionEntries(root: string): string[] {
  const entries = [...new Set([...ROUTES.map((r) => r.entry), ...Object.values(STREAM_CONSUMERS), ...Object.values(SCHEDULED)])];
  return entries.filter((e) => existsSync(join(root, e)));
}

export function missingEntries(root: string): string[] {
  const entries = [...new Set([...ROUTES.map((r) => r.entry), ...Object.values(STREAM_CONSUMERS), ...Object.values(SCHEDULED)])];
  return entries.filter((e) => !existsSync(join(root, e)));
}

async function coldImportOnce(file: string, sourceMaps: boolean): Promise<number> {
  const script = `const t0 = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t0));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NODE_OPTIONS: sourceMaps ? '--enable-source-maps' : '' },
  });
  return Number(stdout.trim());
}

export async function measureBundles(options: BundleOptions): Promise<BundleResult[]> {
  const { root, samples } = options;
  const out = await mkdtemp(join(tmpdir(), 'credits-bench-bundles-'));
  try {
    const results: BundleResult[] = [];
    for (const entry of functionEntries(root).filter((e) => options.only === undefined || options.only.includes(e))) {
      const dir = join(out, entry.replace(/[/.]/g, '_'));
      await mkdir(dir, { recursive: true });
      const outfile = join(dir, 'index.mjs');
      await build({
        entryPoints: [join(root, entry)],
        outfile,
        bundle: true,
        platform: 'node',
        target: 'node22',
        format: 'esm',
        mainFields: ['module', 'main'],
        banner: { js: ESM_REQUIRE_BANNER },
        minify: true,
        keepNames: true,
        sourcemap: true,
        sourcesContent: false,
        logLevel: 'silent',
      });
      const bytes = (await stat(outfile)).size;
      const sourceMapBytes = (await stat(`${outfile}.map`)).size;
      const times: number[] = [];
      const withoutMaps: number[] = [];
      for (let i = 0; i < samples; i += 1) {
        times.push(await coldImportOnce(outfile, true));
        withoutMaps.push(await coldImportOnce(outfile, false));
      }
      results.push({
        entry,
        bytes,
        sourceMapBytes,
        coldImportMs: round(median(times), 1),
        samples: times.map((t) => round(t, 1)),
        coldImportWithoutSourceMapsMs: round(median(withoutMaps), 1),
      });
    }
    return results;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
