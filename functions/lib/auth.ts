import * as z from 'zod';
import type { Access } from '../../infra/routes.js';
import { ENV } from '../../infra/keys.js';
import { ApiError } from './errors.js';

/**
 * Who is calling, taken only from the request context that API Gateway's authorizers fill (HTTP API, payload 2.0):
 * IAM for product services and finance, a JWT for customers. Headers, bodies and query strings are never trusted.
 */
export type Principal =
  | { kind: 'service'; arn: string }
  | { kind: 'finance'; arn: string }
  | { kind: 'customer'; accountId: string };

export interface AuthSettings {
  /** Role ARNs (`arn:aws:iam::<account>:role/<name>`) or bare role names whose IAM callers act as finance. */
  financePrincipals: readonly string[];
  /** The JWT claim that holds a customer's account id. */
  customerAccountClaim: string;
}

export const DEFAULT_CUSTOMER_ACCOUNT_CLAIM = 'account_id';

export function authSettingsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): AuthSettings {
  const financePrincipals = (env[ENV.financePrincipals] ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const claim = env[ENV.customerAccountClaim]?.trim();
  return { financePrincipals, customerAccountClaim: claim === undefined || claim === '' ? DEFAULT_CUSTOMER_ACCOUNT_CLAIM : claim };
}

/** The settings as functions/lib/config.ts reads them from the environment. */
export const authEnvSchema = z
  .object({ [ENV.financePrincipals]: z.string().optional(), [ENV.customerAccountClaim]: z.string().optional() })
  .transform((values) => authSettingsFromEnv(values));

/** The parts of an HTTP API request context the principal comes from. */
export interface AuthorizerContext {
  authorizer?: {
    iam?: { userArn?: string | null } | null;
    jwt?: { claims?: Record<string, unknown> | null } | null;
  } | null;
}

/** `arn:aws:sts::<acct>:assumed-role/<name>/<session>` or `arn:aws:iam::<acct>:role/<path/><name>` → name. */
function roleNameOf(arn: string): string | undefined {
  const resource = arn.split(':').slice(5).join(':');
  if (resource.startsWith('assumed-role/')) return resource.split('/')[1] || undefined;
  if (resource.startsWith('role/')) return resource.split('/').at(-1) || undefined;
  return undefined;
}

const accountOfArn = (arn: string): string | undefined => arn.split(':')[4];

/**
 * An IAM caller acts as finance when its ARN is listed, or when it assumed a listed role: API Gateway reports
 * the session ARN (`assumed-role/<name>/<session>`), so a role ARN matches on account and role name.
 */
export function isFinanceCaller(userArn: string, financePrincipals: readonly string[]): boolean {
  const callerRole = roleNameOf(userArn);
  return financePrincipals.some((entry) => {
    if (entry === userArn) return true;
    if (callerRole === undefined) return false;
    if (!entry.startsWith('arn:')) return entry === callerRole;
    return roleNameOf(entry) === callerRole && accountOfArn(entry) === accountOfArn(userArn);
  });
}

/** The principal of a request, or undefined when no authorizer vouched for one. */
export function principalOf(requestContext: AuthorizerContext | undefined, settings: AuthSettings): Principal | undefined {
  const authorizer = requestContext?.authorizer;
  if (authorizer === undefined || authorizer === null) return undefined;
  const iam = authorizer.iam;
  if (iam !== undefined && iam !== null) {
    const arn = typeof iam.userArn === 'string' ? iam.userArn : '';
    if (arn === '') return undefined;
    return isFinanceCaller(arn, settings.financePrincipals) ? { kind: 'finance', arn } : { kind: 'service', arn };
  }
  const claim = authorizer.jwt?.claims?.[settings.customerAccountClaim];
  const accountId = typeof claim === 'string' ? claim.trim() : typeof claim === 'number' ? String(claim) : '';
  return accountId === '' ? undefined : { kind: 'customer', accountId };
}

/**
 * Throws 401 without a principal and 403 when the route's access does not admit it. A customer is admitted only
 * for its own account: `accountId` is the account the request is about (undefined on routes about no account,
 * like the catalog).
 */
export function authorize(principal: Principal | undefined, access: Access, accountId: string | undefined): asserts principal is Principal {
  if (principal === undefined) {
    throw new ApiError(401, 'unauthorized', 'Send a valid token: Authorization: Bearer <token>.');
  }
  switch (principal.kind) {
    case 'service':
      if (access.service) return;
      break;
    case 'finance':
      if (access.finance) return;
      break;
    case 'customer':
      if (access.ownCustomer && (accountId === undefined || accountId === principal.accountId)) return;
      if (access.ownCustomer) throw new ApiError(403, 'forbidden', 'A customer token may only use its own account.');
      break;
  }
  throw new ApiError(403, 'forbidden', `This route is not open to ${principal.kind} callers.`, { principal: principal.kind });
}
