import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Duration, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { LedgerFunction } from '../infra/constructs/ledger-function.js';
import { ROUTES, SCHEDULED, STREAM_CONSUMERS } from '../infra/routes.js';
import { median, round } from './lib/stats.js';

const run = promisify(execFile);

/**
 * Each function's bundle exactly as it deploys: built by the house LedgerFunction construct (CDK's NodejsFunction
 * running the local esbuild with the construct's own bundling options) in a scratch CDK app, and read from the
 * cloud assembly. Then the time a fresh Node process takes to load it the way Lambda's Node 22 runtime does
 * (`require` of index.js, `import()` of index.mjs) with the function's own environment variables, NODE_OPTIONS
 * included: the module-loading part of a cold start, which is what our code controls. For comparison, the same
 * with `--enable-source-maps` added: what reading the shipped source map at every start would cost.
 */
export interface BundleResult {
  entry: string;
  /** The file Lambda loads: index.js (CommonJS) or index.mjs (ES module). */
  file: string;
  bytes: number;
  /** The external source map beside it (deployed too; read at start-up only with `--enable-source-maps`). */
  sourceMapBytes: number;
  /** NODE_OPTIONS the function is deployed with ('' when none). */
  nodeOptions: string;
  /** Median, over `samples` fresh processes, of the time from the load called to the module returned, as deployed. */
  coldImportMs: number;
  samples: number[];
  /** The same with `--enable-source-maps` added to NODE_OPTIONS. */
  coldImportWithSourceMapsMs: number;
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

interface DeployedBundle {
  entry: string;
  file: string;
  /** The function's environment variables, as synthesized. */
  environment: Record<string, string>;
}

/** Synthesizes one LedgerFunction per entry (real bundling) and finds each one's code asset in the assembly. */
function buildAsDeployed(root: string, entries: readonly string[], outdir: string): DeployedBundle[] {
  const app = new App({ outdir });
  const stack = new Stack(app, 'BundleBench');
  const functions = entries.map((entry, i) => ({
    entry,
    construct: new LedgerFunction(stack, `Function${i}`, {
      entry,
      projectRoot: root,
      description: `bench bundle of ${entry}`,
      environment: {},
      memorySize: 1024,
      timeout: Duration.seconds(10),
      powertools: { serviceName: 'credits-ledger', metricsNamespace: 'CreditsLedger', logLevel: 'INFO' },
      logRetention: logs.RetentionDays.ONE_DAY,
    }),
  }));
  const template = app.synth().getStackArtifact(stack.artifactId).template as {
    Resources: Record<string, { Properties: { Code: { S3Key?: string }; Handler: string; Environment?: { Variables?: Record<string, unknown> } } }>;
  };
  return functions.map(({ entry, construct }) => {
    const properties = template.Resources[stack.getLogicalId(construct.function.node.defaultChild as lambda.CfnFunction)]!.Properties;
    const key = properties.Code.S3Key;
    if (key === undefined) throw new Error(`${entry}: no code asset`);
    const directory = join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
    const module = properties.Handler.slice(0, properties.Handler.lastIndexOf('.'));
    // Lambda's Node 22 runtime tries `<module>.js` (require) before `<module>.mjs` (import).
    const file = [`${module}.js`, `${module}.mjs`].map((name) => join(directory, name)).find((path) => existsSync(path));
    if (file === undefined) throw new Error(`${entry}: no ${module}.js or ${module}.mjs in ${directory}`);
    const variables = properties.Environment?.Variables ?? {};
    const environment = Object.fromEntries(Object.entries(variables).filter((pair): pair is [string, string] => typeof pair[1] === 'string'));
    return { entry, file, environment };
  });
}

/** Loads the bundle as the runtime does and checks it exports a handler; the milliseconds the load took. */
const LOADER = [
  "import { createRequire } from 'node:module';",
  "import { pathToFileURL } from 'node:url';",
  'const file = process.argv[1];',
  "const load = file.endsWith('.mjs') ? (f) => import(pathToFileURL(f).href) : createRequire(file);",
  'const t0 = performance.now();',
  'const loaded = await load(file);',
  'const ms = performance.now() - t0;',
  "if (typeof loaded.handler !== 'function') throw new Error('no handler export');",
  'process.stdout.write(String(ms));',
].join('\n');

async function coldImportOnce(bundle: DeployedBundle, nodeOptions: string): Promise<number> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', LOADER, bundle.file], {
    // Only what Lambda would set: its region and function name, and the function's own variables.
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', ...bundle.environment, NODE_OPTIONS: nodeOptions },
  });
  return Number(stdout.trim());
}

export async function measureBundles(options: BundleOptions): Promise<BundleResult[]> {
  const { root, samples } = options;
  const out = await mkdtemp(join(tmpdir(), 'credits-bench-bundles-'));
  try {
    const entries = functionEntries(root).filter((e) => options.only === undefined || options.only.includes(e));
    const results: BundleResult[] = [];
    for (const bundle of buildAsDeployed(root, entries, out)) {
      const deployedOptions = bundle.environment.NODE_OPTIONS ?? '';
      const withSourceMaps = deployedOptions.includes('--enable-source-maps') ? deployedOptions : `${deployedOptions} --enable-source-maps`.trim();
      const times: number[] = [];
      const withMaps: number[] = [];
      // Interleaved, so a burst of load on the machine falls on both alike.
      for (let i = 0; i < samples; i += 1) {
        times.push(await coldImportOnce(bundle, deployedOptions));
        withMaps.push(await coldImportOnce(bundle, withSourceMaps));
      }
      const mapFile = `${bundle.file}.map`;
      results.push({
        entry: bundle.entry,
        file: bundle.file.slice(bundle.file.lastIndexOf('/') + 1),
        bytes: (await stat(bundle.file)).size,
        sourceMapBytes: existsSync(mapFile) ? (await stat(mapFile)).size : 0,
        nodeOptions: deployedOptions,
        coldImportMs: round(median(times), 1),
        samples: times.map((t) => round(t, 1)),
        coldImportWithSourceMapsMs: round(median(withMaps), 1),
      });
    }
    return results;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
