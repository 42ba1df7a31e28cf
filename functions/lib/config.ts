import * as z from 'zod';
import { ENV } from '../../infra/keys.js';

/**
 * The one place that reads configuration. Each schema is parsed against `process.env` on its first use (not at
 * import), so tests and the local runtime can set the environment first; the parsed value is then kept.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

const parsed = new Map<z.ZodType, unknown>();

export function env<T>(schema: z.ZodType<T>): T {
  if (parsed.has(schema)) return parsed.get(schema) as T;
  const result = schema.safeParse(process.env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`).join('; ');
    throw new ConfigurationError(`Invalid configuration: ${problems}`);
  }
  parsed.set(schema, result.data);
  return result.data;
}

/** Forgets every parsed value, so the next read sees the current environment (tests, the local runtime). */
export function resetConfig(): void {
  parsed.clear();
}

const nonEmpty = z.string().trim().min(1);

const ledgerTableSchema = z.object({ [ENV.ledgerTable]: nonEmpty });

export function ledgerTableName(): string {
  return env(ledgerTableSchema)[ENV.ledgerTable];
}

const dynamoSchema = z.object({
  /** Set locally (DynamoDB Local); unset in AWS. */
  [ENV.dynamodbEndpoint]: z.preprocess((v) => (v === '' ? undefined : v), z.url().optional()),
  AWS_REGION: nonEmpty.default('us-east-1'),
});

export interface DynamoSettings {
  endpoint: string | undefined;
  region: string;
}

export function dynamoSettings(): DynamoSettings {
  const values = env(dynamoSchema);
  return { endpoint: values[ENV.dynamodbEndpoint], region: values.AWS_REGION };
}
