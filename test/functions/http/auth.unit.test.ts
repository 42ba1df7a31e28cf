import { describe, expect, it } from 'vitest';
import { authSettingsFromEnv, authorize, isFinanceCaller, principalOf, type AuthSettings, type Principal } from '../../../functions/lib/auth.js';
import { ApiError } from '../../../functions/lib/errors.js';
import type { Access } from '../../../infra/routes.js';

/** The principal comes only from what API Gateway's authorizers put in the request context (SPEC §6). */
const settings: AuthSettings = {
  financePrincipals: ['arn:aws:iam::111122223333:role/finance-readers', 'LedgerAuditors'],
  customerAccountClaim: 'account_id',
};

const assumed = (account: string, role: string, session = 'session-1'): string => `arn:aws:sts::${account}:assumed-role/${role}/${session}`;
const iam = (userArn: string) => ({ authorizer: { iam: { userArn } } });
const jwt = (claims: Record<string, unknown>) => ({ authorizer: { jwt: { claims } } });

describe('principalOf', () => {
  it('given an IAM caller that assumed a listed finance role, then it is finance', () => {
    expect(principalOf(iam(assumed('111122223333', 'finance-readers')), settings)).toEqual({
      kind: 'finance',
      arn: assumed('111122223333', 'finance-readers'),
    });
  });

  it('given an IAM caller that assumed a role listed by name only, then it is finance in any account', () => {
    expect(principalOf(iam(assumed('444455556666', 'LedgerAuditors')), settings)?.kind).toBe('finance');
  });

  it('given an IAM caller with any other role, then it is a service', () => {
    expect(principalOf(iam(assumed('111122223333', 'chat-service')), settings)).toEqual({
      kind: 'service',
      arn: assumed('111122223333', 'chat-service'),
    });
  });

  it('given the finance role name in another AWS account than the listed ARN, then it is only a service', () => {
    expect(principalOf(iam(assumed('999999999999', 'finance-readers')), settings)?.kind).toBe('service');
  });

  it('given JWT claims with the account claim, then it is that account’s customer', () => {
    expect(principalOf(jwt({ account_id: 'acme', sub: 'u-1' }), settings)).toEqual({ kind: 'customer', accountId: 'acme' });
  });

  it('given a configured claim name, then the account id is read from that claim only', () => {
    const custom = { ...settings, customerAccountClaim: 'custom:tenant' };
    expect(principalOf(jwt({ 'custom:tenant': 'globex', account_id: 'acme' }), custom)).toEqual({ kind: 'customer', accountId: 'globex' });
    expect(principalOf(jwt({ account_id: 'acme' }), custom)).toBeUndefined();
  });

  it('given no authorizer, an empty IAM ARN, or a JWT without the claim, then there is no principal', () => {
    expect(principalOf(undefined, settings)).toBeUndefined();
    expect(principalOf({}, settings)).toBeUndefined();
    expect(principalOf(iam(''), settings)).toBeUndefined();
    expect(principalOf(jwt({ sub: 'u-1' }), settings)).toBeUndefined();
    expect(principalOf(jwt({ account_id: '  ' }), settings)).toBeUndefined();
    expect(principalOf(jwt({ account_id: ['a', 'b'] }), settings)).toBeUndefined();
  });
});

describe('isFinanceCaller', () => {
  it('matches a role ARN with a path by its name and account', () => {
    expect(isFinanceCaller(assumed('111122223333', 'finance'), ['arn:aws:iam::111122223333:role/teams/finance'])).toBe(true);
  });

  it('matches an IAM user only by its exact ARN', () => {
    const user = 'arn:aws:iam::111122223333:user/alice';
    expect(isFinanceCaller(user, [user])).toBe(true);
    expect(isFinanceCaller(user, ['alice'])).toBe(false);
  });

  it('matches nothing when no finance principal is configured', () => {
    expect(isFinanceCaller(assumed('111122223333', 'finance-readers'), [])).toBe(false);
  });
});

describe('authSettingsFromEnv', () => {
  it('reads a comma list of finance principals, ignoring blanks, and defaults the claim to account_id', () => {
    expect(authSettingsFromEnv({ FINANCE_PRINCIPAL_ARNS: ' arn:aws:iam::1:role/a , ,b ' })).toEqual({
      financePrincipals: ['arn:aws:iam::1:role/a', 'b'],
      customerAccountClaim: 'account_id',
    });
    expect(authSettingsFromEnv({ CUSTOMER_ACCOUNT_CLAIM: 'tenant' }).customerAccountClaim).toBe('tenant');
  });
});

describe('authorize', () => {
  const SERVICE: Access = { service: true, finance: false, ownCustomer: false };
  const FINANCE: Access = { service: false, finance: true, ownCustomer: false };
  const READERS: Access = { service: true, finance: true, ownCustomer: true };
  const service: Principal = { kind: 'service', arn: 'arn' };
  const finance: Principal = { kind: 'finance', arn: 'arn' };
  const acme: Principal = { kind: 'customer', accountId: 'acme' };

  const status = (principal: Principal | undefined, access: Access, accountId: string | undefined): number => {
    try {
      authorize(principal, access, accountId);
      return 200;
    } catch (error) {
      return (error as ApiError).statusCode;
    }
  };

  it('refuses a request without a principal with 401 unauthorized', () => {
    expect(() => authorize(undefined, READERS, 'acme')).toThrow(expect.objectContaining({ statusCode: 401, code: 'unauthorized' }));
  });

  it('admits each kind of caller only where the route says so, and customers only to their own account', () => {
    expect([status(service, SERVICE, 'acme'), status(finance, SERVICE, 'acme'), status(acme, SERVICE, 'acme')]).toEqual([200, 403, 403]);
    expect([status(service, FINANCE, 'acme'), status(finance, FINANCE, 'acme'), status(acme, FINANCE, 'acme')]).toEqual([403, 200, 403]);
    expect([status(service, READERS, 'acme'), status(finance, READERS, 'acme'), status(acme, READERS, 'acme')]).toEqual([200, 200, 200]);
    expect(status(acme, READERS, 'globex')).toBe(403);
  });

  it('admits any customer to a readers route about no account (the catalog)', () => {
    expect(status(acme, READERS, undefined)).toBe(200);
  });

  it('refuses with 403 forbidden and a stable code', () => {
    expect(() => authorize(acme, READERS, 'globex')).toThrow(expect.objectContaining({ statusCode: 403, code: 'forbidden' }));
  });
});
