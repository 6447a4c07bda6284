import { Duration, Names, Size, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DataLake } from './data-lake';
import type { LineageLedger } from './lineage-ledger';
import { createAlarmTopic, deadLetterAlarm } from './private/alarm-topic';
import { serviceMetric } from './private/metrics';
import { unreservedConcurrency } from './private/nag';
import { SecureFunction } from './private/secure-function';

export interface DatasetIngestProps {
  /** The data lake whose uploads are ingested (its data bucket must send EventBridge notifications). */
  readonly dataLake: DataLake;
  /** The ledger DatasetVersions are appended to. */
  readonly ledger: LineageLedger;
  /**
   * Memory of the ingest function; hashing throughput grows with it (more vCPU).
   * @default Size.gibibytes(1)
   */
  readonly memorySize?: Size;
  /**
   * Longest time one file may take to hash (at ~500 MB/s, 15 minutes is ~400 GB).
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * CloudWatch namespace of the ingest metrics.
   * @default 'cdk-mlops'
   */
  readonly metricsNamespace?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where the dead-letter alarm notifies (subscribe an operator's e-mail or pager to it).
   * @default - a new SNS topic, TLS-only, encrypted with the data lake's key
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Caps how many uploads are ingested at once (reserved concurrency, taken
   * from the account's pool). A burst beyond it waits in EventBridge's retries
   * (up to 24 hours), then in the dead-letter queue: nothing is lost.
   * @default - none (Lambda refuses a reservation that leaves under 100 unreserved)
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Event-driven ingest: every object created under the data prefix becomes a
 * DatasetVersion in the ledger (SHA-256, size, content type, schema
 * fingerprint), or a rejected one with its reason. Events that cannot be
 * delivered or processed after retries land in a dead-letter queue, which has
 * an alarm.
 */
export class DatasetIngest extends Construct {
  readonly function: lambda.IFunction;
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;
  /** In ALARM when any event is in the dead-letter queue; it notifies `alarmTopic`. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** The topic the dead-letter alarm notifies. */
  readonly alarmTopic: sns.ITopic;
  readonly metricsNamespace: string;
  /** Value of the `service` dimension of the ingest metrics. */
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: DatasetIngestProps) {
    super(scope, id);
    const memory = props.memorySize ?? Size.gibibytes(1);
    const timeout = props.timeout ?? Duration.minutes(15);
    if (!Token.isUnresolved(memory.toMebibytes()) && (memory.toMebibytes() < 256 || memory.toMebibytes() > 10240)) {
      throw new Error(`DatasetIngest: 'memorySize' must be between 256 MiB and 10240 MiB (got ${memory.toMebibytes()} MiB).`);
    }
    if (!timeout.isUnresolved() && (timeout.toSeconds() < 30 || timeout.toSeconds() > 900)) {
      throw new Error(`DatasetIngest: 'timeout' must be between 30 seconds and 15 minutes (got ${timeout.toHumanString()}).`);
    }
    this.metricsNamespace = props.metricsNamespace ?? 'cdk-mlops';
    this.serviceName = Names.uniqueResourceName(this, { maxLength: 64 });

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const fn = new SecureFunction(this, 'Function', {
      logsEncryptionKey: props.dataLake.encryptionKey,
      entry: 'ingest',
      description: 'cdk-mlops: records each uploaded dataset file as a DatasetVersion in the lineage ledger',
      memorySize: memory,
      timeout,
      logRetention: props.logRetention,
      deadLetterQueue: this.deadLetterQueue,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      unreservedConcurrency: unreservedConcurrency('Invoked asynchronously by EventBridge, once per object created under the data prefix', 'DatasetIngestProps.reservedConcurrentExecutions'),
      environment: {
        DATA_PREFIX: props.dataLake.dataPrefix,
        POWERTOOLS_SERVICE_NAME: this.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
      },
    });
    this.function = fn.function;
    props.dataLake.grantReadData(fn.role);
    props.ledger.grantAppend(fn.role);
    props.ledger.bindEnvironment(fn.function);

    this.rule = new events.Rule(this, 'ObjectCreatedRule', {
      description: `Ingest objects created under ${props.dataLake.dataPrefix}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.dataLake.dataBucket.bucketName] },
          object: { key: [{ prefix: props.dataLake.dataPrefix }] },
        },
      },
      targets: [new targets.LambdaFunction(fn.function, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });

    this.alarmTopic = props.alarmTopic ?? createAlarmTopic(this, props.dataLake.encryptionKey, 'cdk-mlops dataset ingest alarms');
    this.deadLetterAlarm = deadLetterAlarm(this, 'DeadLetterAlarm', this.deadLetterQueue, this.alarmTopic, 'Dataset uploads that could not be ingested after retries are waiting in the dead-letter queue.', 'the ingest function and its EventBridge rule');
  }

  /** Dataset versions accepted. Statistic: Sum; period: 5 minutes. */
  metricAccepted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DatasetVersionsAccepted', props);
  }

  /** Dataset versions rejected (empty, not UTF-8, unreadable...). Statistic: Sum; period: 5 minutes. */
  metricRejected(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DatasetVersionsRejected', props);
  }

  /** Repeated events for an already recorded object version. Statistic: Sum; period: 5 minutes. */
  metricDuplicateEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DuplicateEvents', props);
  }

  /** Bytes hashed. Statistic: Sum; period: 5 minutes. */
  metricBytesIngested(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BytesIngested', props);
  }

  private metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return serviceMetric(this.metricsNamespace, this.serviceName, metricName, props);
  }
}
