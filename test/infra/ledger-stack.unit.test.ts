import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { InvalidContextError, settingsFromContext, UNCONFIGURED_JWT_ISSUER } from '../../infra/constructs/ledger-stack.js';
import { synthesize, SYNTH_TIMEOUT_MS } from './synth.js';

const settingsOf = (context: Record<string, unknown>) => settingsFromContext(new App({ context }).node);
const ISSUER = { jwtIssuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc', jwtAudience: 'dashboard' };

describe('deployment settings from CDK context', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('given a fresh clone (only cdk.json), synth works and the customer API refuses every token until an issuer is set', () => {
    const { settings, warnings } = settingsOf({ stage: 'dev' });
    expect(settings).toMatchObject({ stage: 'dev', jwtIssuer: UNCONFIGURED_JWT_ISSUER, financePrincipalArns: [] });
    expect(new URL(UNCONFIGURED_JWT_ISSUER).hostname.endsWith('.invalid')).toBe(true);
    expect(warnings.join('\n')).toMatch(/jwtIssuer/);
    expect(warnings.join('\n')).toMatch(/financePrincipalArns/);

    const { stack, template } = synthesize({ stage: 'dev' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { JwtConfiguration: { Issuer: UNCONFIGURED_JWT_ISSUER } });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('No jwtIssuer in context'));
  });

  it('reads lists as comma-separated strings (-c key=a,b) or JSON arrays (cdk.json)', () => {
    expect(settingsOf({ ...ISSUER, jwtAudience: 'web, mobile', financePrincipalArns: 'arn:aws:iam::123456789012:role/Finance,Controllers' }).settings).toMatchObject({
      jwtAudience: ['web', 'mobile'],
      financePrincipalArns: ['arn:aws:iam::123456789012:role/Finance', 'Controllers'],
    });
    expect(settingsOf({ ...ISSUER, jwtAudience: ['web', 'mobile'] }).settings.jwtAudience).toEqual(['web', 'mobile']);
    expect(settingsOf({ ...ISSUER, jwtAudience: '["web","mobile"]' }).settings.jwtAudience).toEqual(['web', 'mobile']);
  });

  it('requires an audience once an issuer is given', () => {
    expect(() => settingsOf({ jwtIssuer: ISSUER.jwtIssuer })).toThrow(InvalidContextError);
  });

  it('refuses an issuer that is not https, a malformed stage, alarm email, finance principal, log level or retention', () => {
    expect(() => settingsOf({ ...ISSUER, jwtIssuer: 'http://auth.example.com/' })).toThrow(/https/);
    expect(() => settingsOf({ ...ISSUER, stage: 'Prod_1' })).toThrow(/stage/);
    expect(() => settingsOf({ ...ISSUER, alarmEmail: 'ops-at-example' })).toThrow(/alarmEmail/);
    expect(() => settingsOf({ ...ISSUER, financePrincipalArns: 'arn:aws:s3:::bucket' })).toThrow(/financePrincipalArns/);
    expect(() => settingsOf({ ...ISSUER, logLevel: 'LOUD' })).toThrow(/logLevel/);
    expect(() => settingsOf({ ...ISSUER, logRetentionDays: '10' })).toThrow(/logRetentionDays/);
  });

  it('passes the optional settings through', () => {
    expect(
      settingsOf({ ...ISSUER, stage: 'prod', alarmEmail: 'ops@example.com', logLevel: 'debug', logRetentionDays: '365', customerAccountClaim: 'custom:account', customerCorsOrigins: 'https://app.example.com' }).settings,
    ).toMatchObject({
      stage: 'prod',
      alarmEmail: 'ops@example.com',
      logLevel: 'DEBUG',
      logRetention: 365,
      customerAccountClaim: 'custom:account',
      customerCorsOrigins: ['https://app.example.com'],
    });
  });

  it('given a customer account claim and CORS origins, the functions read that claim and the customer API allows those origins', () => {
    const { template } = synthesize({ ...ISSUER, customerAccountClaim: 'custom:account', customerCorsOrigins: 'https://app.example.com', logRetentionDays: '365' });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ CUSTOMER_ACCOUNT_CLAIM: 'custom:account' }) } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      Description: Match.stringLikeRegexp('customers'),
      CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://app.example.com'] }),
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });
});
