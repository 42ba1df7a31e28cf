import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * domain/ is the pure decider: it may import zod and itself, nothing else, and it never reads a clock, the
 * environment or randomness (time arrives in the command). This scan keeps it that way.
 */
const DOMAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../domain');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(c|m)?(t|j)sx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every module specifier: static import/export … from, side-effect import, dynamic import(), require(). */
function specifiers(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"`]([^'"`]+)['"`]/g,
    /\bimport\s*['"`]([^'"`]+)['"`]/g,
    /\bimport\s*\(\s*['"`]?([^'"`)]*)['"`]?\s*\)/g,
    /\brequire\s*\(\s*['"`]?([^'"`)]*)['"`]?\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1] ?? ''));
}

function isAllowed(file: string, specifier: string): boolean {
  if (specifier === 'zod' || specifier.startsWith('zod/')) return true;
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return false;
  const target = resolve(dirname(file), specifier);
  return target === DOMAIN || target.startsWith(DOMAIN + sep);
}

const files = sourceFiles(DOMAIN);

describe('domain/ stays pure', () => {
  it('has source files to check (the scan looks in the right place)', () => {
    expect(files.map((f) => relative(DOMAIN, f))).toContain('index.ts');
  });

  it('imports nothing but zod and its own files', () => {
    const offending = files.flatMap((file) =>
      specifiers(readFileSync(file, 'utf8'))
        .filter((specifier) => !isAllowed(file, specifier))
        .map((specifier) => `${relative(DOMAIN, file)} imports "${specifier}"`),
    );
    expect(offending).toEqual([]);
  });

  it('reads no clock, no environment and no randomness', () => {
    const forbidden = [/\bDate\.now\s*\(/, /\bnew\s+Date\s*\(\s*\)/, /\bprocess\./, /\bMath\.random\s*\(/, /\bperformance\.now\s*\(/, /\bcrypto\./];
    const offending = files.flatMap((file) => {
      const source = readFileSync(file, 'utf8');
      return forbidden.filter((pattern) => pattern.test(source)).map((pattern) => `${relative(DOMAIN, file)} matches ${pattern}`);
    });
    expect(offending).toEqual([]);
  });

  describe('the scan itself', () => {
    const file = join(DOMAIN, 'ledger', 'decide.ts');
    const refused = (source: string): string[] => specifiers(source).filter((s) => !isAllowed(file, s));

    it('catches static, side-effect, type-only, re-export, dynamic and require imports from outside', () => {
      expect(refused(`import { DynamoDBClient } from '@aws-sdk/client-dynamodb';`)).toEqual(['@aws-sdk/client-dynamodb']);
      expect(refused(`import 'node:fs';`)).toEqual(['node:fs']);
      expect(refused(`import type { Handler } from 'aws-lambda';`)).toEqual(['aws-lambda']);
      expect(refused(`export * from '../../functions/lib/clock.js';`)).toEqual(['../../functions/lib/clock.js']);
      expect(refused(`const m = await import('node:os');`)).toEqual(['node:os']);
      expect(refused(`const fs = require('fs');`)).toEqual(['fs']);
      expect(refused(`import {\n  a,\n  b,\n} from 'lodash';`)).toEqual(['lodash']);
    });

    it('accepts zod and paths that stay inside domain/', () => {
      expect(refused(`import { z } from 'zod';\nimport { x } from '../money.js';\nimport type { y } from './events.js';`)).toEqual([]);
    });
  });
});
