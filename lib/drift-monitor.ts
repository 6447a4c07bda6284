import { Duration, Size, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_TRAFFIC_DRIFT_THRESHOLDS, type TrafficDriftThresholds } from '../lambdas/core/traffic-drift';
import type { DataLake } from './data-lake';
import type { LineageLedger } from './lineage-ledger';
import type { MonitoredEndpoint } from './endpoint-captures';
import { createAlarmTopic, deadLetterAlarm } from './private/alarm-topic';
import { PROFILES_PREFIX } from './private/defaults';
import { acknowledgeAlarmWithoutAction, unreservedConcurrency } from './private/nag';
import { SecureFunction } from './private/secure-function';
import type { TrainingPipeline } from './training-pipeline';

/** Where drift reports go in the artifacts bucket: `<prefix><endpoint>/<time>.json`. */
export const DRIFT_REPORTS_PREFIX = 'reports/drift/';

export interface DriftMonitorProps {
  /**
   * The endpoint whose captured traffic is watched: an OnnxEndpoint, or a
   * SageMakerEndpoint with data capture whose releases go through the kit
   * (given a `ledger`), or any endpoint that describes its captures.
   */
  readonly endpoint: MonitoredEndpoint;
  readonly dataLake: DataLake;
  /** The serving model and its training data are found through it. */
  readonly ledger: LineageLedger;
  /**
   * The model's input features, as its signature names them: one alarm each.
   * (They are needed at synth time for the alarms; the Lambda reads the serving model's own list.)
   */
  readonly features: readonly string[];
  /**
   * The pipeline retrained when the drift alarm goes into ALARM (through an
   * EventBridge rule to its starter: a drift Incident, then one execution on
   * the newest data, never two in flight).
   * @default - none: the alarm only alarms
   */
  readonly retrain?: TrainingPipeline;
  /**
   * The `pipeline` dimension of the metrics.
   * @default - the `retrain` pipeline's name, else 'none'
   */
  readonly pipelineName?: string;
  /** How often the monitor runs; also the alarms' period. Whole minutes, 1 minute to 1 day. @default Duration.hours(1) */
  readonly interval?: Duration;
  /** The traffic each run reads: the captures of this long before it. @default - the interval */
  readonly window?: Duration;
  /** Captured rows a run needs before it judges drift (fewer: no drift metrics). @default 100 */
  readonly minRows?: number;
  /** Captured rows read at most per run, the newest first. @default 100000 */
  readonly maxRows?: number;
  /** @default psi 0.2, jsDistance 0.1, predictionShift 0.1 */
  readonly thresholds?: TrafficDriftThresholds;
  /** Runs in a row over a threshold before an alarm fires. @default 1 */
  readonly evaluationPeriods?: number;
  /** @default 'cdk-mlops' */
  readonly metricsNamespace?: string;
  /** @default 1 GiB */
  readonly memorySize?: Size;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where the drift alarm and the dead-letter alarm notify (subscribe an operator's e-mail or pager to it).
   * @default - a new SNS topic, TLS-only, encrypted with the data lake's key
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * Watches an endpoint for drift: a scheduled Lambda profiles the traffic the
 * endpoint captured in the last window and compares it with the training data
 * of the model that serves (found through the ledger). Per feature it publishes
 * PSI and Jensen–Shannon distance, and the shift of the mean prediction from the
 * training mean, as CloudWatch metrics (dimensions pipeline, endpoint,
 * feature); one alarm per feature (PSI or JS over its threshold), one on the prediction shift, and a
 * composite `driftAlarm` over them, which retrains the `retrain` pipeline.
 * Each run's report is stored under `reports/drift/<endpoint>/`.
 */
export class DriftMonitor extends Construct {
  readonly function: lambda.IFunction;
  readonly role: iam.IRole;
  readonly schedule: events.Rule;
  readonly endpointName: string;
  readonly pipelineName: string;
  readonly metricsNamespace: string;
  /** One alarm per feature: PSI or Jensen–Shannon distance over its threshold. */
  readonly featureAlarms: Readonly<Record<string, cloudwatch.Alarm>>;
  readonly predictionAlarm: cloudwatch.Alarm;
  /** Any feature, or the predictions, drifted. */
  readonly driftAlarm: cloudwatch.CompositeAlarm;
  /** The rule retraining `retrain` on the drift alarm. */
  readonly retrainRule?: events.Rule;
  /** The topic the drift alarm and the dead-letter alarm notify. */
  readonly alarmTopic: sns.ITopic;
  /** Scheduled runs that failed every retry (Lambda's and EventBridge's). */
  readonly deadLetterQueue: sqs.Queue;
  /** In ALARM while a failed run waits in the dead-letter queue; it notifies `alarmTopic`. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly thresholds: Required<TrafficDriftThresholds>;
  private readonly interval: Duration;

  constructor(scope: Construct, id: string, props: DriftMonitorProps) {
    super(scope, id);
    this.interval = props.interval ?? Duration.hours(1);
    const minutes = this.interval.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60) throw new Error(`DriftMonitor: 'interval' must be whole minutes from 1 minute to 1 day (got ${this.interval.toHumanString()}).`);
    const window = props.window ?? this.interval;
    const windowMinutes = window.toMinutes({ integral: false });
    if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 7 * 24 * 60) throw new Error(`DriftMonitor: 'window' must be whole minutes from 1 minute to 7 days (got ${window.toHumanString()}).`);
    if (props.features.length === 0) throw new Error("DriftMonitor: 'features' must name at least one model input.");
    const seen = new Set<string>();
    for (const f of props.features) {
      if (!Token.isUnresolved(f) && (f === '' || f.length > 255)) throw new Error(`DriftMonitor: 'features' entries must be 1-255 characters (got '${f}').`);
      if (seen.has(f)) throw new Error(`DriftMonitor: feature '${f}' is listed twice in 'features'.`);
      seen.add(f);
    }
    const minRows = props.minRows ?? 100;
    if (!Number.isInteger(minRows) || minRows < 1) throw new Error(`DriftMonitor: 'minRows' must be a whole number >= 1 (got ${minRows}).`);
    const maxRows = props.maxRows ?? 100_000;
    if (!Number.isInteger(maxRows) || maxRows < minRows) throw new Error(`DriftMonitor: 'maxRows' must be a whole number >= minRows ${minRows} (got ${maxRows}).`);
    this.thresholds = { ...DEFAULT_TRAFFIC_DRIFT_THRESHOLDS, ...props.thresholds };
    for (const [name, value] of Object.entries(this.thresholds)) {
      if (!(value > 0 && Number.isFinite(value))) throw new Error(`DriftMonitor: 'thresholds.${name}' must be a positive number (got ${value}).`);
    }
    if (this.thresholds.jsDistance > 1 || this.thresholds.predictionShift > 1) throw new Error("DriftMonitor: 'thresholds.jsDistance' and 'thresholds.predictionShift' must be at most 1 (both are in [0, 1]).");
    const evaluationPeriods = props.evaluationPeriods ?? 1;
    if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1 || evaluationPeriods > 24) throw new Error(`DriftMonitor: 'evaluationPeriods' must be a whole number from 1 to 24 (got ${evaluationPeriods}).`);
    // CloudWatch (PutMetricAlarm): period × evaluation periods at most 7 days, at most 1 day for periods under an hour
    const span = minutes * evaluationPeriods;
    const maxSpan = minutes < 60 ? 24 * 60 : 7 * 24 * 60;
    if (span > maxSpan) throw new Error(`DriftMonitor: 'interval' × 'evaluationPeriods' (${span} minutes) must be at most ${maxSpan / (24 * 60)} day${maxSpan > 24 * 60 ? 's' : ''}, CloudWatch's limit for ${minutes < 60 ? 'periods under an hour' : 'an alarm'}.`);

    this.endpointName = props.endpoint.endpointName;
    const captures = props.endpoint.captures;
    if (!captures) throw new Error(`DriftMonitor: endpoint '${this.endpointName}' captures no traffic; give it a capture share ('captureSampleRate' of an OnnxEndpoint, 'dataCapturePercent' of a SageMakerEndpoint with instances) above 0.`);
    if (props.endpoint.recordsReleases === false) throw new Error(`DriftMonitor: the releases of endpoint '${this.endpointName}' are not recorded in the ledger, so no monitor can tell which model serves; give the endpoint the 'ledger' and release through it.`);
    this.pipelineName = props.pipelineName ?? props.retrain?.pipelineName ?? 'none';
    this.metricsNamespace = props.metricsNamespace ?? 'cdk-mlops';
    const capturePrefix = captures.prefix;
    if (!Token.isUnresolved(capturePrefix) && !capturePrefix.endsWith('/')) throw new Error(`DriftMonitor: the captures prefix of endpoint '${this.endpointName}' must end in '/' (got '${capturePrefix}').`);
    this.alarmTopic = props.alarmTopic ?? createAlarmTopic(this, props.dataLake.encryptionKey, `cdk-mlops drift of endpoint ${this.endpointName}`);
    // a scheduled run that failed every retry (or could not be delivered) is kept, and alarms
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    this.deadLetterAlarm = deadLetterAlarm(this, 'DeadLetterAlarm', this.deadLetterQueue, this.alarmTopic, `cdk-mlops drift of endpoint ${this.endpointName}: a scheduled check failed every retry (its event waits in the dead-letter queue)`, 'the drift monitor and its schedule');
    const fn = new SecureFunction(this, 'Function', {
      logsEncryptionKey: props.dataLake.encryptionKey,
      entry: 'drift-monitor',
      description: `cdk-mlops drift monitor of endpoint ${this.endpointName}: captured traffic vs the serving model's training data`,
      memorySize: props.memorySize ?? Size.gibibytes(1),
      timeout: Duration.minutes(10),
      logRetention: props.logRetention,
      deadLetterQueue: this.deadLetterQueue,
      // Parquet row groups (of a training set it profiles) are decoded in a worker thread, which loads hyparquet from a file of its own
      separateModules: ['hyparquet'],
      unreservedConcurrency: unreservedConcurrency('Invoked by its schedule once per interval (and by operators checking now); two overlapping runs would only write two reports'),
      environment: {
        ENDPOINT_NAME: this.endpointName,
        PIPELINE_NAME: this.pipelineName,
        ARTIFACTS_BUCKET: props.dataLake.artifactsBucket.bucketName,
        CAPTURE_PREFIX: capturePrefix,
        CAPTURE_FORMAT: captures.format,
        PROFILES_PREFIX,
        REPORTS_PREFIX: DRIFT_REPORTS_PREFIX,
        WINDOW_MINUTES: String(windowMinutes),
        MIN_ROWS: String(minRows),
        MAX_ROWS: String(maxRows),
        THRESHOLDS: JSON.stringify(this.thresholds),
        METRICS_NAMESPACE: this.metricsNamespace,
        POWERTOOLS_SERVICE_NAME: `drift-${this.endpointName}`,
      },
    });
    this.function = fn.function;
    this.role = fn.role;
    props.ledger.grantRead(fn.role);
    props.ledger.bindEnvironment(fn.function);
    props.dataLake.grantListArtifacts(fn.role, capturePrefix);
    props.dataLake.grantReadArtifacts(fn.role, `${capturePrefix}*`);
    captures.encryptionKey?.grantDecrypt(fn.role);
    // the training data's profile: read the gate's, or profile the data (and store it)
    props.dataLake.grantReadArtifacts(fn.role, `${PROFILES_PREFIX}*`);
    props.dataLake.grantWriteArtifacts(fn.role, `${PROFILES_PREFIX}*`);
    props.dataLake.grantReadData(fn.role);
    props.dataLake.grantWriteArtifacts(fn.role, `${DRIFT_REPORTS_PREFIX}${this.endpointName}/*`);

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `cdk-mlops: drift of endpoint ${this.endpointName}, every ${this.interval.toHumanString()}`,
      schedule: events.Schedule.rate(this.interval),
      targets: [new targets.LambdaFunction(fn.function, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 2, maxEventAge: this.interval })],
    });

    const alarm = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string): cloudwatch.Alarm =>
      new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods,
        datapointsToAlarm: evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // a run with too few captured rows publishes no drift value: that is not drift
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `cdk-mlops drift of endpoint ${this.endpointName}: ${description}`,
      });
    const featureAlarms: Record<string, cloudwatch.Alarm> = {};
    props.features.forEach((feature, i) => {
      // drifted when PSI or JS passes its threshold: the larger of the two as a share of its threshold, above 1
      const score = new cloudwatch.MathExpression({
        expression: `MAX([psi / ${this.thresholds.psi}, js / ${this.thresholds.jsDistance}])`,
        usingMetrics: { psi: this.metric('FeaturePSI', feature), js: this.metric('FeatureJSDistance', feature) },
        period: this.interval,
        label: `drift of ${feature} (share of its threshold)`,
      });
      featureAlarms[feature] = alarm(`FeatureAlarm${i}`, score, 1, `feature '${feature}' drifted: PSI above ${this.thresholds.psi} or Jensen–Shannon distance above ${this.thresholds.jsDistance}`);
    });
    this.featureAlarms = featureAlarms;
    this.predictionAlarm = alarm('PredictionAlarm', this.metric('PredictionDrift'), this.thresholds.predictionShift, `mean prediction more than ${this.thresholds.predictionShift} from the training mean`);
    this.driftAlarm = new cloudwatch.CompositeAlarm(this, 'DriftAlarm', {
      alarmRule: cloudwatch.AlarmRule.anyOf(...[...Object.values(featureAlarms), this.predictionAlarm].map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM))),
      alarmDescription: `cdk-mlops drift of endpoint ${this.endpointName}: any feature or the predictions drifted${props.retrain ? ` (retrains pipeline ${props.retrain.pipelineName})` : ''}`,
    });
    this.driftAlarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    for (const child of [...Object.values(featureAlarms), this.predictionAlarm]) acknowledgeAlarmWithoutAction(child, 'Its state is acted on by the composite DriftAlarm, which notifies the alarm topic (and retrains, given a pipeline)');
    if (props.retrain) this.retrainRule = props.retrain.retrainOnAlarm(this.driftAlarm, { endpointName: this.endpointName, id: `RetrainOnDrift-${this.endpointName}` });
  }

  /** A drift metric (dimensions pipeline, endpoint, and feature when given). Statistic: Maximum; period: the interval. */
  metric(metricName: string, feature?: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName,
      dimensionsMap: { pipeline: this.pipelineName, endpoint: this.endpointName, ...(feature !== undefined ? { feature } : {}) },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: this.interval,
      ...props,
    });
  }

  /** PSI of one feature, captured traffic vs training data. */
  metricFeaturePsi(feature: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('FeaturePSI', feature, { label: `PSI ${feature}`, ...props });
  }

  /** Jensen–Shannon distance of one feature, in [0, 1]. */
  metricFeatureJsDistance(feature: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('FeatureJSDistance', feature, { label: `JS ${feature}`, ...props });
  }

  /** |mean captured prediction − the model's training mean score|. */
  metricPredictionDrift(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('PredictionDrift', undefined, { label: 'prediction shift', ...props });
  }

  /** Captured rows each run compared. Statistic: Sum. */
  metricCapturedRows(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('CapturedRows', undefined, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /** Lets `grantee` run the monitor now (e.g. after a deliberate traffic change). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.function.grantInvoke(grantee);
  }
}
