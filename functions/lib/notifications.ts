import { PublishCommand, SNSClient, SubscribeCommand, type MessageAttributeValue, type PublishCommandInput, type SubscribeCommandInput } from '@aws-sdk/client-sns';
import * as z from 'zod';
import { millicreditsToCredits, type Contact, type Millicredits, type Threshold } from '../../domain/index.js';
import { ENV } from '../../infra/keys.js';
import { env } from './config.js';

/**
 * Low-balance warnings: the text a person reads and the exact SNS requests that carry it. Everything here but the
 * client factory and the two send functions is pure.
 *
 * Channels: every warning is published once to the alerts topic, with message attributes a subscription can
 * filter on; a customer's email address is subscribed to that topic with a filter policy on the `email`
 * attribute (see `emailSubscriptionInput`), so the topic publish is the email. SMS goes straight to the phone
 * number (Publish with PhoneNumber), because SNS delivers SMS from topics only to subscribed numbers.
 */

export const PRODUCT_NAME = 'CleverAI';

/** What a warning says: the numbers of the ThresholdCrossed event, not of the account now. */
export interface WarningFacts {
  threshold: Threshold;
  /** Whole available balance (monthly + purchased) right after the debit that crossed. */
  balance: Millicredits;
  /** The monthly allocation the threshold is a percentage of. */
  allocation: Millicredits;
  /** ISO instant of the next reset. */
  cycleEnd: string;
}

const credits = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** 4200 mc → "4.2", 5,000,000 mc → "5,000". */
export function formatCredits(mc: Millicredits): string {
  return credits.format(millicreditsToCredits(mc));
}

/** "2026-12-26T10:00:00.000Z" → "26 Dec" (UTC: cycles are UTC). */
export function formatResetDate(iso: string): string {
  const date = new Date(iso);
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]}`;
}

/** "You have 4.2 credits left, below 5% of your 100 monthly credits. Buy a pack or wait for your reset on 26 Dec." */
export function warningMessage(facts: WarningFacts): string {
  const unit = facts.balance === 1000 ? 'credit' : 'credits';
  return (
    `You have ${formatCredits(facts.balance)} ${unit} left, below ${facts.threshold}% of your ` +
    `${formatCredits(facts.allocation)} monthly credits. Buy a pack or wait for your reset on ${formatResetDate(facts.cycleEnd)}.`
  );
}

/** The email subject (SMS has none). */
export function warningSubject(facts: Pick<WarningFacts, 'threshold'>): string {
  return `${PRODUCT_NAME}: your credits are below ${facts.threshold}%`;
}

/** Who a warning is about, beyond its numbers: read from the account's state when it is delivered. */
export interface WarningRecipient {
  accountId: string;
  plan: string;
  contact: Contact;
  /** The version of the ThresholdCrossed event: subscribers can drop SNS's own rare duplicates by it. */
  eventVersion: number;
}

const str = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
const num = (value: number): MessageAttributeValue => ({ DataType: 'Number', StringValue: String(value) });

/** Attributes of the topic publish: what subscriptions filter on (`email`) and what consumers route by. */
export function warningAttributes(recipient: WarningRecipient, facts: Pick<WarningFacts, 'threshold'>): Record<string, MessageAttributeValue> {
  return {
    accountId: str(recipient.accountId),
    threshold: num(facts.threshold),
    plan: str(recipient.plan),
    eventVersion: num(recipient.eventVersion),
    ...(recipient.contact.email === undefined ? {} : { email: str(recipient.contact.email) }),
  };
}

/** The one publish of a warning to the alerts topic. */
export function topicPublishInput(topicArn: string, recipient: WarningRecipient, facts: WarningFacts): PublishCommandInput {
  return {
    TopicArn: topicArn,
    Subject: warningSubject(facts),
    Message: warningMessage(facts),
    MessageAttributes: warningAttributes(recipient, facts),
  };
}

/**
 * The SMS of a warning, straight to the phone. Transactional: SNS then favours delivery over cost, which is what
 * an alert needs. `accountId`, `threshold` and `eventVersion` ride along (not part of the text) so the local outbox can
 * put the SMS with its topic publish.
 */
export function smsPublishInput(phone: string, recipient: WarningRecipient, facts: WarningFacts): PublishCommandInput {
  return {
    PhoneNumber: phone,
    Message: `${PRODUCT_NAME}: ${warningMessage(facts)}`,
    MessageAttributes: {
      'AWS.SNS.SMS.SMSType': str('Transactional'),
      accountId: str(recipient.accountId),
      threshold: num(facts.threshold),
      eventVersion: num(recipient.eventVersion),
    },
  };
}

/**
 * An email address's subscription to the alerts topic: it receives the warnings whose `email` attribute is that
 * address. Filtering on the address (not the account id) means a contact change needs no unsubscribe to stop
 * mail to the old address, and one address shared by two accounts is one subscription. Subscribing again with
 * the same attributes returns the same subscription.
 */
export function emailSubscriptionInput(topicArn: string, email: string): SubscribeCommandInput {
  // debt: subscriptions of addresses no account uses any more are never removed; they receive nothing but count
  // against the filter-policy quotas. A periodic clean-up (drop subscriptions of unused addresses) is left to do.
  return {
    TopicArn: topicArn,
    Protocol: 'email',
    Endpoint: email,
    Attributes: { FilterPolicy: JSON.stringify({ email: [email] }), FilterPolicyScope: 'MessageAttributes' },
    ReturnSubscriptionArn: true,
  };
}

const alertsSchema = z.object({ [ENV.alertsTopicArn]: z.string().trim().min(1) });

export function alertsTopicArn(): string {
  return env(alertsSchema)[ENV.alertsTopicArn];
}

let factory: () => SNSClient = () => new SNSClient({});
let client: SNSClient | undefined;

/** The SNS client the handlers use: created once per cold start. */
export function snsClient(): SNSClient {
  client ??= factory();
  return client;
}

/** Replaces how the SNS client is made: the local runtime's notifier installs one whose transport is itself. */
export function setSnsClientFactory(next: () => SNSClient): void {
  factory = next;
  client = undefined;
}

export function resetSnsClientFactory(): void {
  setSnsClientFactory(() => new SNSClient({}));
}

export async function publish(input: PublishCommandInput): Promise<string | undefined> {
  const output = await snsClient().send(new PublishCommand(input));
  return output.MessageId;
}

export async function subscribe(input: SubscribeCommandInput): Promise<string | undefined> {
  const output = await snsClient().send(new SubscribeCommand(input));
  return output.SubscriptionArn;
}
