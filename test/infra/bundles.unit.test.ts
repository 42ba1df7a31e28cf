import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { LedgerFunction } from '../../infra/constructs/ledger-function.js';
import { REPOSITORY_ROOT } from '../../infra/credits-ledger.js';
import { ENV } from '../../infra/keys.js';
import { INLINE_CODE, synthesize, TEST_CONTEXT } from './synth.js';

/**
 * Real bundling, with the local esbuild exactly as `cdk synth` runs it: every function's bundle is one CommonJS
 * file (index.js, which Lambda's Node 22 runtime `require`s) that carries the AWS SDK inside, imports no Node
 * built-in with `import` (an ES module import of `node:http` loads undici at start-up), has a source map beside
 * it, and loads in Node 22 with a `handler` export. Bundle sizes go to test/infra/__output__/bundle-sizes.json
 * (gitignored).
 */
const BUNDLING_TIMEOUT_MS = 900_000;
const OUTPUT_DIR = path.join(REPOSITORY_ROOT, 'test/infra/__output__');

interface Bundle {
  directory: string;
  code: string;
  bytes: number;
  sourceMapBytes: number;
}

function readBundle(directory: string): Bundle {
  const file = path.join(directory, 'index.js');
  const code = fs.readFileSync(file, 'utf8');
  return { directory, code, bytes: fs.statSync(file).size, sourceMapBytes: fs.statSync(`${file}.map`).size };
}

/**
 * Requires of the AWS SDK left outside the bundle (Lambda would use the runtime's copy instead), as esbuild writes
 * them: after `=`, `(`, `,` and the like. The SDK's error messages mention `[require("@aws-sdk/…")]` in plain
 * text, which does not count; loading the bundle where no node_modules exist (loadInNode) catches any other
 * unbundled import.
 */
function externalSdkRequires(code: string): string[] {
  return [...code.matchAll(/(?<=[=(,:;{}?&|!]\s*)require\(\s*["'](@aws-sdk\/[^"']+)["']\s*\)/g)].map((match) => match[1]!);
}

/** ES module syntax at the top level (`import … from`, `export`): a CommonJS bundle has none. */
function moduleSyntax(code: string): string[] {
  return [...code.matchAll(/(?:^|[;}\n])\s*(import\s*[\w*{$][^;'"]*?\bfrom\s*["'][^"']+["']|export\s*[{*])/g)].map((match) => match[1]!.slice(0, 60));
}

/** True when no directory from `directory` up to the root has a node_modules: imports can resolve only inside. */
function isolatedFromNodeModules(directory: string): boolean {
  for (let current = path.resolve(directory); ; current = path.dirname(current)) {
    if (fs.existsSync(path.join(current, 'node_modules'))) return false;
    if (path.dirname(current) === current) return true;
  }
}

/**
 * Loads a bundle in a fresh Node (the one running the tests: Node 22) as Lambda's runtime does (`require`), from a
 * directory with no node_modules above it, so every import must be inside the bundle; optionally calls the handler.
 */
function loadInNode(bundle: Bundle, invoke: boolean): { status: number | null; stdout: string; stderr: string } {
  expect(isolatedFromNodeModules(bundle.directory), bundle.directory).toBe(true);
  const script = [
    "import { createRequire } from 'node:module';",
    'const mod = createRequire(process.argv[1])(process.argv[1]);',
    "if (typeof mod.handler !== 'function') { console.error('no handler export'); process.exit(2); }",
    "if (process.argv[2] === 'invoke') console.log(JSON.stringify(await mod.handler({}, {})));",
  ].join('\n');
  const dummyEnvironment = Object.fromEntries(Object.values(ENV).filter((name) => name !== ENV.dynamodbEndpoint).map((name) => [name, `test-${name}`]));
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', script, path.join(bundle.directory, 'index.js'), invoke ? 'invoke' : 'load'],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', ...dummyEnvironment }, timeout: 60_000 },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function assetDirectory(outdir: string, template: Template, logicalId: string): string {
  const code = (template.toJSON().Resources as Record<string, { Properties: { Code: { S3Key?: string } } }>)[logicalId]!.Properties.Code;
  if (code.S3Key === undefined) throw new Error(`${logicalId} has no asset`);
  return path.join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
}

describe('bundles built by the house function (local esbuild, no Docker)', { timeout: BUNDLING_TIMEOUT_MS }, () => {
  it('given a handler using the AWS SDK, zod and a CommonJS dependency that requires a built-in, it runs as one CommonJS file', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-ledger-bundle-'));
    try {
      const stack = new Stack(new App({ outdir }), 'Fixture');
      const fixture = new LedgerFunction(stack, 'Fixture', {
        entry: 'test/infra/fixtures/bundled-handler.ts',
        projectRoot: REPOSITORY_ROOT,
        description: 'bundling fixture',
        environment: {},
        memorySize: 128,
        timeout: Duration.seconds(3),
        powertools: { serviceName: 'fixture', metricsNamespace: 'Fixture', logLevel: 'INFO' },
        logRetention: logs.RetentionDays.ONE_DAY,
      });
      expect(fixture.function).toBeInstanceOf(lambda.Function);
      const template = Template.fromStack(stack);
      const logicalId = stack.getLogicalId(fixture.function.node.defaultChild as lambda.CfnFunction);
      expect(template.toJSON().Resources[logicalId].Properties.Handler).toBe('index.handler');

      const bundle = readBundle(assetDirectory(outdir, template, logicalId));
      expect(moduleSyntax(bundle.code)).toEqual([]);
      expect(externalSdkRequires(bundle.code)).toEqual([]);
      expect(bundle.code).toContain('require("node:os")');
      expect(bundle.code.trimEnd().endsWith('//# sourceMappingURL=index.js.map')).toBe(true);
      expect(bundle.sourceMapBytes).toBeGreaterThan(0);
      const run = loadInNode(bundle, true);
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({ sdk: 'function', endianness: os.endianness() });
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('every function of the stack whose entry exists bundles, loads in Node 22 with a handler, and its size is recorded', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-ledger-bundles-'));
    try {
      const entryExists = (entry: string) => fs.existsSync(path.join(REPOSITORY_ROOT, entry));
      const { stack, template } = synthesize(TEST_CONTEXT, {
        outdir,
        // Real bundling for every entry that exists; a stand-in only for entries not written yet.
        codeOverride: (entry) => (entryExists(entry) ? undefined : INLINE_CODE(entry)),
      });
      const sizes: Record<string, { bundleBytes: number; sourceMapBytes: number }> = {};
      const notYetWritten: string[] = [];
      for (const [entry, fn] of stack.ledger.functions) {
        if (!entryExists(entry)) {
          notYetWritten.push(entry);
          continue;
        }
        const bundle = readBundle(assetDirectory(outdir, template, stack.getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction)));
        expect(moduleSyntax(bundle.code), entry).toEqual([]);
        expect(externalSdkRequires(bundle.code), entry).toEqual([]);
        expect(bundle.sourceMapBytes, entry).toBeGreaterThan(0);
        const load = loadInNode(bundle, false);
        expect({ status: load.status, stderr: load.stderr.slice(0, 2000) }, entry).toEqual({ status: 0, stderr: '' });
        sizes[entry] = { bundleBytes: bundle.bytes, sourceMapBytes: bundle.sourceMapBytes };
      }
      fs.mkdirSync(OUTPUT_DIR, { recursive: true });
      fs.writeFileSync(path.join(OUTPUT_DIR, 'bundle-sizes.json'), `${JSON.stringify({ bundles: sizes, notYetWritten }, null, 2)}\n`);
      console.table(Object.fromEntries(Object.entries(sizes).map(([entry, size]) => [entry, { 'bundle KiB': Math.round(size.bundleBytes / 1024), 'map KiB': Math.round(size.sourceMapBytes / 1024) }])));
      if (notYetWritten.length > 0) console.log(`not bundled (entry not written yet): ${notYetWritten.join(', ')}`);
      expect(Object.keys(sizes).length + notYetWritten.length).toBe(stack.ledger.functions.size);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
