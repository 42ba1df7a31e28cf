import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { acknowledgeNag } from './nag.js';

export interface NotificationsProps {
  /** Where alarms are emailed; without it the operations topic has no subscription (add one yourself). */
  alarmEmail?: string;
}

/**
 * The two SNS topics: `alerts` carries customers' low-balance warnings (email subscriptions filtered on the
 * address; SMS is published straight to phone numbers), `operations` carries alarms to the people who run the
 * system. Both are encrypted with one customer managed key, because CloudWatch can publish to an encrypted topic
 * only through a key whose policy lets it (the AWS managed SNS key's policy cannot be changed).
 */
export class Notifications extends Construct {
  readonly key: kms.Key;
  readonly alertsTopic: sns.Topic;
  readonly operationsTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    const account = Stack.of(this).account;

    // Why: customers' warnings (addresses, balances) and alarms are encrypted at rest with a key we control.
    this.key = new kms.Key(this, 'TopicsKey', {
      description: 'Encrypts the credits ledger alerts and operations topics',
      enableKeyRotation: true,
    });
    // Why: SNS itself uses the key to encrypt and decrypt messages of these topics on this account's behalf.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'LetSnsUseTheKeyForThisAccountsTopics',
        principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, "*" means this key
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    // Why: CloudWatch alarms publish to the (encrypted) operations topic with their own service identity.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'LetCloudWatchAlarmsPublishToEncryptedTopics',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    // Why: one publish per warning reaches every email subscription whose filter policy matches the address.
    this.alertsTopic = new sns.Topic(this, 'AlertsTopic', {
      displayName: 'CleverAI credits',
      masterKey: this.key,
      enforceSSL: true,
    });

    // Why: alarms need one place people subscribe to.
    this.operationsTopic = new sns.Topic(this, 'OperationsTopic', {
      displayName: 'Credits ledger operations',
      masterKey: this.key,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) {
      // Why: the address from context gets the alarms (after it confirms the subscription email).
      this.operationsTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
  }

  /** The warnings consumer: one publish per warning to the topic (the emails), and SMS straight to phones. */
  grantSendWarnings(role: iam.Role): void {
    this.alertsTopic.grantPublish(role);
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: ['sns:Publish'],
      // AWS requires "*" here: a Publish with PhoneNumber has no resource ARN to name.
      resourceArns: ['*'],
    });
    acknowledgeNag(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'AWS requires Resource "*" for SMS: sns:Publish straight to a phone number (Publish with PhoneNumber) has no resource ARN to name. Publishing to the topic is a separate statement scoped to the alerts topic.',
    );
    acknowledgeNag(
      role,
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      'Publishing to a KMS-encrypted topic needs kms:GenerateDataKey* (the grant CDK makes for topic.grantPublish), on the topics key only.',
    );
  }

  /** The warnings consumer subscribes a customer's email address to the alerts topic, filtered on that address. */
  grantSubscribeEmails(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['sns:Subscribe'], resourceArns: [this.alertsTopic.topicArn] });
  }
}
