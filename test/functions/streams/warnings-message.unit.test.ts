import { describe, expect, it } from 'vitest';
import {
  emailSubscriptionInput,
  formatCredits,
  formatResetDate,
  smsPublishInput,
  topicPublishInput,
  warningMessage,
} from '../../../functions/lib/notifications.js';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:alerts';

describe('the words of a warning', () => {
  it('given a free account at 4.2 credits after a debit, it reads like the policy: credits left, the threshold, the allocation and the reset day', () => {
    expect(warningMessage({ threshold: 5, balance: 4200, allocation: 100_000, cycleEnd: '2026-12-26T10:00:00.000Z' })).toBe(
      'You have 4.2 credits left, below 5% of your 100 monthly credits. Buy a pack or wait for your reset on 26 Dec.',
    );
  });

  it('given a pro account at 999.999 credits, amounts keep their three decimals and thousands are grouped', () => {
    expect(warningMessage({ threshold: 20, balance: 999_999, allocation: 5_000_000, cycleEnd: '2027-01-31T00:30:00.000Z' })).toBe(
      'You have 999.999 credits left, below 20% of your 5,000 monthly credits. Buy a pack or wait for your reset on 31 Jan.',
    );
  });

  it('one credit is singular, nothing left is "0 credits"', () => {
    expect(warningMessage({ threshold: 5, balance: 1000, allocation: 100_000, cycleEnd: '2026-12-26T10:00:00.000Z' })).toMatch(/^You have 1 credit left,/);
    expect(warningMessage({ threshold: 5, balance: 0, allocation: 100_000, cycleEnd: '2026-12-26T10:00:00.000Z' })).toMatch(/^You have 0 credits left,/);
  });

  it('the reset day is the UTC calendar day, whatever the server time zone', () => {
    expect(formatResetDate('2026-03-01T00:00:00.000Z')).toBe('1 Mar');
    expect(formatResetDate('2026-02-28T23:59:59.999Z')).toBe('28 Feb');
    expect(formatCredits(19_999)).toBe('19.999');
    expect(formatCredits(12_345_678)).toBe('12,345.678');
  });
});

describe('the SNS requests of a warning', () => {
  const facts = { threshold: 5 as const, balance: 4200, allocation: 100_000, cycleEnd: '2026-12-26T10:00:00.000Z' };

  it('the topic publish carries the account, threshold, plan, event version and email as attributes subscriptions can filter on', () => {
    const input = topicPublishInput(TOPIC, { accountId: 'acme', plan: 'free', contact: { email: 'ops@acme.test' }, eventVersion: 7 }, facts);
    expect(input).toEqual({
      TopicArn: TOPIC,
      Subject: 'CleverAI: your credits are below 5%',
      Message: 'You have 4.2 credits left, below 5% of your 100 monthly credits. Buy a pack or wait for your reset on 26 Dec.',
      MessageAttributes: {
        accountId: { DataType: 'String', StringValue: 'acme' },
        threshold: { DataType: 'Number', StringValue: '5' },
        plan: { DataType: 'String', StringValue: 'free' },
        eventVersion: { DataType: 'Number', StringValue: '7' },
        email: { DataType: 'String', StringValue: 'ops@acme.test' },
      },
    });
  });

  it('without an email address the attribute is absent, so no email subscription matches', () => {
    const input = topicPublishInput(TOPIC, { accountId: 'acme', plan: 'free', contact: {}, eventVersion: 7 }, facts);
    expect(input.MessageAttributes).not.toHaveProperty('email');
  });

  it('the SMS goes to the phone number, transactional, with the product name in front', () => {
    const input = smsPublishInput('+14155550123', { accountId: 'acme', plan: 'free', contact: { phone: '+14155550123' }, eventVersion: 7 }, facts);
    expect(input.PhoneNumber).toBe('+14155550123');
    expect(input.TopicArn).toBeUndefined();
    expect(input.Message).toBe('CleverAI: You have 4.2 credits left, below 5% of your 100 monthly credits. Buy a pack or wait for your reset on 26 Dec.');
    expect(input.MessageAttributes?.['AWS.SNS.SMS.SMSType']).toEqual({ DataType: 'String', StringValue: 'Transactional' });
  });

  it('an email address is subscribed with a filter policy on its own address', () => {
    expect(emailSubscriptionInput(TOPIC, 'ops@acme.test')).toEqual({
      TopicArn: TOPIC,
      Protocol: 'email',
      Endpoint: 'ops@acme.test',
      Attributes: { FilterPolicy: '{"email":["ops@acme.test"]}', FilterPolicyScope: 'MessageAttributes' },
      ReturnSubscriptionArn: true,
    });
  });
});
