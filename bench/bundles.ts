import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { ROUTES, SCHEDULED, STREAM_CONSUMERS } from '../infra/routes.js';
import { median, round } from './lib/stats.js';

const run = promisify(execFile);

/**
 * Each function's bundle as the CDK's NodejsFunction builds it (esbuild, one file, Node 22, ESM, the AWS SDK left
 * to the Lambda runtime) and the time a fresh Node process takes to import it: the module-loading part of a cold
 * start, which is what our code controls. The SDK is resolved from node_modules, as the runtime resolves its own.
 */
export interface BundleResult {
  entry: string;
  bytes: number;
  /** Median, over `samples` fresh processes, of the time from `import()` called to resolved. */
  coldImportMs: number;
  samples: number[];
}

export interface BundleOptions {
  root: string;
  samples: number;
  /** Passed through to esbuild; defaults mirror the construct's NodejsFunction settings. */
  external?: string[];
  minify?: boolean;
}

export function functionEntries(root: string): string[] {
  const entries = [...new Set([...ROUTES.map((r) => r.entry), ...Object.values(STREAM_CONSUMERS), ...Object.values(SCHEDULED)])];
  return entries.filter((e) => existsSync(join(root, e)));
}

export function missingEntries(root: string): string[] {
  const entries = [...new Set([...ROUTES.map((r) => r.entry), ...Object.values(STREAM_CONSUMERS), ...Object.values(SCHEDULED)])];
  return entries.filter((e) => !existsSync(join(root, e)));
}

async function coldImportOnce(file: string): Promise<number> {
  const script = `const t0 = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t0));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' } });
  return Number(stdout.trim());
}

export async function measureBundles(options: BundleOptions): Promise<BundleResult[]> {
  const { root, samples } = options;
  const out = await mkdtemp(join(tmpdir(), 'credits-bench-bundles-'));
  try {
    // Bare imports left external (the SDK) resolve from the project's node_modules, as from the runtime's.
    await symlink(resolve(root, 'node_modules'), join(out, 'node_modules'), 'dir');
    const results: BundleResult[] = [];
    for (const entry of functionEntries(root)) {
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
        minify: options.minify ?? false,
        external: options.external ?? ['@aws-sdk/*'],
        // ESM bundles of CommonJS dependencies need `require`; the construct adds the same banner.
        banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
        logLevel: 'silent',
      });
      const bytes = (await stat(outfile)).size;
      const times: number[] = [];
      for (let i = 0; i < samples; i += 1) times.push(await coldImportOnce(outfile));
      results.push({ entry, bytes, coldImportMs: round(median(times), 1), samples: times.map((t) => round(t, 1)) });
    }
    return results;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
