import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidParameterException, SNSClient, type MessageAttributeValue, type PublishCommandInput, type SubscribeCommandInput } from '@aws-sdk/client-sns';
import { resetConfig } from '../../functions/lib/config.js';
import { resetSnsClientFactory, setSnsClientFactory } from '../../functions/lib/notifications.js';
import { ENV } from '../keys.js';
import type { LocalContext, LocalRoute, LocalService } from './services.js';

/**
 * The local stand-in for SNS. The warnings handler sends the very same PublishCommand and SubscribeCommand it sends
 * in AWS, through an SNSClient whose transport is this service (a middleware answers in process). Each warning is
 * printed and kept in an outbox, served by `GET /_local/notifications` (`?accountId=` narrows it):
 *
 *   { "items": [ { "accountId", "threshold", "channels": ["email", "sms"], "at", "message", … } ] }
 *
 * One item per warning: the topic publish and the SMS of the same event (same `accountId` and `eventVersion`
 * attributes) are one item with both channels. `email` is a channel when the publish carries an `email` attribute
 * (locally every subscription counts as confirmed); `sms` when a text went to the phone. The outbox is kept in a
 * file beside DynamoDB Local's data, so it survives a restart just as the delivery records in the ledger do.
 */

export const LOCAL_ALERTS_TOPIC_ARN = 'arn:aws:sns:us-east-1:000000000000:credits-alerts';

export type NotificationChannel = 'email' | 'sms';

export interface OutboxItem {
  accountId: string;
  threshold: number;
  channels: NotificationChannel[];
  /** When it was sent, by the local clock. */
  at: string;
  message: string;
  /** Where it went. */
  to: { email?: string; phone?: string };
  /** The ThresholdCrossed event's version. */
  eventVersion: number;
}

export interface LocalSubscription {
  subscriptionArn: string;
  protocol: string;
  endpoint: string;
  filterPolicy: string | undefined;
}

export interface LocalNotifierOptions {
  /** Print each message (default true). */
  print?: boolean;
}

export const OUTBOX_FILE = 'notifications.json';

export class LocalNotifier implements LocalService {
  readonly name = 'notifier';
  readonly routes: readonly LocalRoute[] = [
    {
      method: 'GET',
      path: '/_local/notifications',
      handle: async (request) => {
        const accountId = request.query.accountId;
        return { statusCode: 200, body: { items: accountId === undefined ? this.items : this.items.filter((i) => i.accountId === accountId) } };
      },
    },
  ];

  private items: OutboxItem[] = [];
  private readonly subscriptions = new Map<string, LocalSubscription>();
  private ctx: LocalContext | undefined;
  private file: string | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly options: LocalNotifierOptions = {}) {}

  /** Every warning sent so far, oldest first. */
  get outbox(): readonly OutboxItem[] {
    return this.items;
  }

  get subscribed(): readonly LocalSubscription[] {
    return [...this.subscriptions.values()];
  }

  async start(ctx: LocalContext): Promise<void> {
    this.ctx = ctx;
    process.env[ENV.alertsTopicArn] ??= LOCAL_ALERTS_TOPIC_ARN;
    resetConfig();
    this.file = ctx.dataDir === undefined ? undefined : join(ctx.dataDir, OUTBOX_FILE);
    this.items = await this.load();
    setSnsClientFactory(() => this.client(ctx.region));
  }

  /** Publishing is synchronous (the handler's publish returns once the item is in the outbox): nothing is queued. */
  async sync(): Promise<number> {
    await this.saving;
    return 0;
  }

  async stop(): Promise<void> {
    await this.saving;
    resetSnsClientFactory();
  }

  /** An SNS client that never leaves the process: a middleware answers each command from this service. */
  client(region = 'us-east-1'): SNSClient {
    const client = new SNSClient({ region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    client.middlewareStack.add(
      (_next, context) => async (args) => ({
        output: { ...this.handle(context.commandName ?? '', args.input), $metadata: { httpStatusCode: 200 } },
        response: {},
      }),
      { step: 'initialize', name: 'localNotifierTransport', priority: 'high' },
    );
    return client;
  }

  private handle(commandName: string, input: unknown): Record<string, unknown> {
    switch (commandName) {
      case 'PublishCommand':
        return { MessageId: this.publish(input as PublishCommandInput) };
      case 'SubscribeCommand':
        return { SubscriptionArn: this.subscribe(input as SubscribeCommandInput) };
      default:
        throw new InvalidParameterException({ message: `The local notifier does not implement ${commandName}.`, $metadata: {} });
    }
  }

  private publish(input: PublishCommandInput): string {
    const attributes = input.MessageAttributes ?? {};
    const accountId = text(attributes.accountId) ?? '(unknown)';
    const eventVersion = Number(text(attributes.eventVersion) ?? 0);
    const threshold = Number(text(attributes.threshold) ?? 0);
    const message = input.Message ?? '';
    let item = this.items.find((i) => i.accountId === accountId && i.eventVersion === eventVersion);
    if (item === undefined) {
      item = { accountId, threshold, channels: [], at: this.now(), message, to: {}, eventVersion };
      this.items.push(item);
    }
    if (input.PhoneNumber !== undefined) {
      addChannel(item, 'sms');
      item.to.phone = input.PhoneNumber;
      this.print(`SMS to ${input.PhoneNumber}: ${message}`);
    } else {
      const email = text(attributes.email);
      // The topic's text is the one a person reads by email; an SMS has the product name in front.
      item.message = message;
      if (email !== undefined) {
        addChannel(item, 'email');
        item.to.email = email;
      }
      this.print(`${accountId} (${email === undefined ? 'topic only, no email address' : `email to ${email}`}): ${message}`);
    }
    this.save();
    return `local-${accountId}-${eventVersion}-${input.PhoneNumber === undefined ? 'topic' : 'sms'}`;
  }

  private subscribe(input: SubscribeCommandInput): string {
    const endpoint = input.Endpoint ?? '';
    const protocol = input.Protocol ?? '';
    const subscriptionArn = `${input.TopicArn ?? LOCAL_ALERTS_TOPIC_ARN}:${protocol}:${endpoint}`;
    if (!this.subscriptions.has(subscriptionArn)) {
      this.subscriptions.set(subscriptionArn, { subscriptionArn, protocol, endpoint, filterPolicy: input.Attributes?.FilterPolicy });
      this.print(`subscribed ${protocol} ${endpoint} to the alerts topic (locally confirmed at once)`);
    }
    return subscriptionArn;
  }

  private now(): string {
    return (this.ctx?.clock.now() ?? new Date()).toISOString();
  }

  private print(line: string): void {
    if (this.options.print === false) return;
    (this.ctx?.log ?? console.log)(line);
  }

  private async load(): Promise<OutboxItem[]> {
    if (this.file === undefined) return [];
    try {
      const stored = JSON.parse(await readFile(this.file, 'utf8')) as { items?: OutboxItem[] };
      return stored.items ?? [];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Writes the outbox after every change, one write at a time, through a temporary file (never half written). */
  private save(): void {
    const file = this.file;
    if (file === undefined) return;
    const snapshot = JSON.stringify({ items: this.items }, null, 2);
    this.saving = this.saving
      .then(async () => {
        await mkdir(join(file, '..'), { recursive: true });
        await writeFile(`${file}.tmp`, snapshot);
        await rename(`${file}.tmp`, file);
      })
      .catch((error: unknown) => this.ctx?.log(`could not save the outbox: ${(error as Error).message}`));
  }
}

function text(value: MessageAttributeValue | undefined): string | undefined {
  return value?.StringValue;
}

function addChannel(item: OutboxItem, channel: NotificationChannel): void {
  if (!item.channels.includes(channel)) item.channels.push(channel);
  item.channels.sort();
}
