import { ArnFormat, Duration, Names, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { INITIAL_DEPLOYMENT_CONFIG } from '../lambdas/core/deployment';
import type { DataLake } from './data-lake';
import type { EndpointCaptures } from './endpoint-captures';
import type { LineageLedger } from './lineage-ledger';
import { alarmActionRule } from './private/alarm-rule';
import { DEFAULT_MODELS_PREFIX } from './private/defaults';
import { serviceMetric } from './private/metrics';
import { createReleaseStateMachine } from './private/release';
import { createAlarmTopic, deadLetterAlarm } from './private/alarm-topic';
import { acknowledgeAlarmWithoutAction, unreservedConcurrency } from './private/nag';
import { SecureFunction } from './private/secure-function';

/** Provisioned concurrency on the `live` alias, scaled by Application Auto Scaling on its utilization. */
export interface ProvisionedConcurrencyScaling {
  /** @default 1 */
  readonly minCapacity?: number;
  readonly maxCapacity: number;
  /** Target ProvisionedConcurrencyUtilization, 0.1 to 0.9. @default 0.7 */
  readonly utilizationTarget?: number;
}

/** When a release is rolled back: any one of these over one minute. */
export interface EndpointAlarmThresholds {
  /** Share of requests that failed (Lambda errors and 5xx answers) over a minute. @default 0.05 */
  readonly maxErrorRate?: number;
  /** p99 of the function's duration over a minute. @default Duration.seconds(1) */
  readonly maxP99Latency?: Duration;
  /**
   * The largest |mean score of a container − the model's training mean score|
   * in a minute (each container reports once it scored `predictionShiftMinRows`
   * rows; during a canary the new version's containers are apart, so the worst
   * container is the release's).
   * @default 0.25
   */
  readonly maxPredictionShift?: number;
}

export interface OnnxEndpointProps {
  /** Models are read from its artifacts bucket; captures go there. */
  readonly dataLake: DataLake;
  /** Model versions are read from it; releases, rollbacks and their Incidents appended. */
  readonly ledger: LineageLedger;
  /**
   * The endpoint's name: ledger subject `endpoint/<name>`, captures under `captures/<name>/`. Unique per account.
   * @default - the construct's id, lower-cased
   */
  readonly endpointName?: string;
  /** @default Size.gibibytes(2) (about 1.2 vCPU) */
  readonly memorySize?: Size;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** Rows per request. @default 10000 */
  readonly maxRows?: number;
  /** Request body size, at most Lambda's 6 MB. @default Size.mebibytes(6) */
  readonly maxRequestSize?: Size;
  /** Share of requests captured (inputs and predictions) to the artifacts bucket for the drift monitor, 0 to 1. @default 0.05 */
  readonly captureSampleRate?: number;
  /**
   * Check request values against the dataset contract of the model's training data: the
   * deployer fixes `contracts/<dataset>.yaml` as it is at release (write-once, content-addressed),
   * and the function applies exactly that one, refusing to serve (503, the integrity alarm) when
   * it is missing or altered. @default true
   */
  readonly checkContract?: boolean;
  /** Scores above it count as positive (metric PositiveRate). @default 0.5 */
  readonly predictionThreshold?: number;
  /** Rows a container scores before it reports its prediction shift. @default 100 */
  readonly predictionShiftMinRows?: number;
  /** An IAM-authenticated Function URL on the `live` alias. @default true */
  readonly functionUrl?: boolean;
  /** @default - none: no idle compute cost; cold starts on first requests */
  readonly provisionedConcurrency?: ProvisionedConcurrencyScaling;
  /** How CodeDeploy shifts traffic to a new model. @default LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES */
  readonly deploymentConfig?: codedeploy.ILambdaDeploymentConfig;
  /** @default - see EndpointAlarmThresholds */
  readonly alarmThresholds?: EndpointAlarmThresholds;
  /** Release only models with a passed 'approval' GateReport. @default true */
  readonly requireApproval?: boolean;
  /**
   * Roll back to the previous model when the health alarm goes into ALARM
   * within `rollbackWindow` of a release that finished (during a release,
   * CodeDeploy rolls back on the same alarms). An EventBridge rule sends the
   * alarm to the deployer's 'alarm-rollback' operation.
   * @default true
   */
  readonly rollbackOnHealthAlarm?: boolean;
  /** How long after a release its health alarm rolls it back. 1 minute to 1 day. @default Duration.hours(1) */
  readonly rollbackWindow?: Duration;
  /** How often a release is checked. @default Duration.seconds(30) */
  readonly releasePollInterval?: Duration;
  /** @default 'cdk-mlops' */
  readonly metricsNamespace?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Caps how many requests the inference function serves at once (reserved
   * concurrency, taken from the account's pool); requests beyond it get 429
   * (Function URL) or a throttling error. Also bounds what a flood of requests can cost.
   * @default - none (Lambda refuses a reservation that leaves under 100 unreserved)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Where the health alarm and the rollback dead-letter alarm notify (subscribe an operator's e-mail or pager to it).
   * @default - a new SNS topic, TLS-only, encrypted with the data lake's key
   */
  readonly alarmTopic?: sns.ITopic;
}

/** The alarms a release is watched by (and a rollback can be triggered by). */
export interface EndpointAlarms {
  readonly errorRate: cloudwatch.Alarm;
  readonly latency: cloudwatch.Alarm;
  readonly predictionShift: cloudwatch.Alarm;
  /** A model whose bytes differ from the ledger was refused. */
  readonly integrity: cloudwatch.Alarm;
}

/**
 * A serverless ONNX endpoint: a Lambda running onnxruntime-node (arm64, only
 * its Linux binaries shipped) behind an IAM-authenticated Function URL on the
 * `live` alias. Each container loads its model once, checked against the
 * ledger's SHA-256, and checks every request against the model's signature and
 * the dataset contract. Models are released by the deployer: a new Lambda
 * version per model and a CodeDeploy canary (or linear) shift that the
 * endpoint's alarms roll back. Provisioned concurrency is optional (zero by
 * default, so idle compute costs nothing) and autoscaled on utilization.
 */
export class OnnxEndpoint extends Construct {
  readonly endpointName: string;
  readonly function: lambda.Function;
  readonly role: iam.IRole;
  /** The alias that serves: traffic, the Function URL and provisioned concurrency are on it. */
  readonly alias: lambda.Alias;
  readonly functionUrl?: lambda.FunctionUrl;
  readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  readonly alarms: EndpointAlarms;
  /** Any of the alarms: what a rollback watches after a release. */
  readonly healthAlarm: cloudwatch.CompositeAlarm;
  /** Releases a model (operation 'release', then 'check') and rolls back (operation 'rollback'). */
  readonly deployer: lambda.IFunction;
  /** `{ "modelVersionId": "mv-..." }` in: the model released through CodeDeploy, recorded in the ledger. */
  readonly releaseStateMachine: sfn.StateMachine;
  readonly scalableTarget?: lambda.IScalableFunctionAttribute;
  /** The rule rolling back on the health alarm (unless `rollbackOnHealthAlarm` is false). */
  readonly rollbackRule?: events.Rule;
  /** Where a health-alarm event the deployer could not take goes, after the retries. */
  readonly rollbackDeadLetterQueue?: sqs.Queue;
  /** In ALARM while a rollback waits in the dead-letter queue; it notifies `alarmTopic`. */
  readonly rollbackDeadLetterAlarm?: cloudwatch.Alarm;
  /** The topic the health alarm and the rollback dead-letter alarm notify. */
  readonly alarmTopic: sns.ITopic;
  readonly metricsNamespace: string;
  readonly serviceName: string;
  /** Where sampled requests and their predictions go (undefined with `captureSampleRate` 0): what a DriftMonitor reads. */
  readonly captures?: EndpointCaptures;

  constructor(scope: Construct, id: string, props: OnnxEndpointProps) {
    super(scope, id);
    this.endpointName = props.endpointName ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    if (!Token.isUnresolved(this.endpointName) && !/^[a-z0-9][a-z0-9-]{0,39}$/.test(this.endpointName)) throw new Error(`OnnxEndpoint: 'endpointName' must be 1-40 lower-case letters, digits and hyphens (got '${this.endpointName}').`);
    const maxRows = props.maxRows ?? 10_000;
    if (!Number.isInteger(maxRows) || maxRows < 1 || maxRows > 1_000_000) throw new Error(`OnnxEndpoint: 'maxRows' must be a whole number from 1 to 1000000 (got ${maxRows}).`);
    const maxBytes = (props.maxRequestSize ?? Size.mebibytes(6)).toBytes();
    if (maxBytes < 1 || maxBytes > 6 * 1024 * 1024) throw new Error(`OnnxEndpoint: 'maxRequestSize' must be at most 6 MiB, Lambda's request payload limit (got ${maxBytes} bytes).`);
    const captureSampleRate = props.captureSampleRate ?? 0.05;
    if (!(captureSampleRate >= 0 && captureSampleRate <= 1)) throw new Error(`OnnxEndpoint: 'captureSampleRate' must be from 0 to 1 (got ${captureSampleRate}).`);
    const threshold = props.predictionThreshold ?? 0.5;
    if (!(threshold >= 0 && threshold <= 1)) throw new Error(`OnnxEndpoint: 'predictionThreshold' must be from 0 to 1 (got ${threshold}).`);
    const shiftMinRows = props.predictionShiftMinRows ?? 100;
    if (!Number.isInteger(shiftMinRows) || shiftMinRows < 1) throw new Error(`OnnxEndpoint: 'predictionShiftMinRows' must be a whole number >= 1 (got ${shiftMinRows}).`);
    const pc = props.provisionedConcurrency;
    const pcMin = pc?.minCapacity ?? 1;
    if (pc) {
      if (!Number.isInteger(pcMin) || pcMin < 1) throw new Error(`OnnxEndpoint: 'provisionedConcurrency.minCapacity' must be a whole number >= 1 (got ${pcMin}); leave 'provisionedConcurrency' out for none.`);
      if (!Number.isInteger(pc.maxCapacity) || pc.maxCapacity < pcMin) throw new Error(`OnnxEndpoint: 'provisionedConcurrency.maxCapacity' must be a whole number >= minCapacity ${pcMin} (got ${pc.maxCapacity}).`);
      const reserved = props.reservedConcurrentExecutions;
      if (reserved !== undefined && !Token.isUnresolved(reserved) && pc.maxCapacity > reserved) throw new Error(`OnnxEndpoint: 'provisionedConcurrency.maxCapacity' (${pc.maxCapacity}) must be at most 'reservedConcurrentExecutions' (${reserved}).`);
      const target = pc.utilizationTarget ?? 0.7;
      if (!(target >= 0.1 && target <= 0.9)) throw new Error(`OnnxEndpoint: 'provisionedConcurrency.utilizationTarget' must be from 0.1 to 0.9 (got ${target}).`);
    }
    const t = props.alarmThresholds ?? {};
    const maxErrorRate = t.maxErrorRate ?? 0.05;
    if (!(maxErrorRate > 0 && maxErrorRate <= 1)) throw new Error(`OnnxEndpoint: 'alarmThresholds.maxErrorRate' must be above 0 and at most 1 (got ${maxErrorRate}).`);
    const maxShift = t.maxPredictionShift ?? 0.25;
    if (!(maxShift > 0 && maxShift <= 1)) throw new Error(`OnnxEndpoint: 'alarmThresholds.maxPredictionShift' must be above 0 and at most 1 (got ${maxShift}).`);
    const maxP99 = t.maxP99Latency ?? Duration.seconds(1);
    const timeout = props.timeout ?? Duration.seconds(30);
    const rollbackWindow = props.rollbackWindow ?? Duration.hours(1);
    const windowMinutes = rollbackWindow.toMinutes({ integral: false });
    if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 24 * 60) throw new Error(`OnnxEndpoint: 'rollbackWindow' must be whole minutes from 1 minute to 1 day (got ${rollbackWindow.toHumanString()}).`);
    if (maxP99.toMilliseconds() >= timeout.toMilliseconds()) throw new Error(`OnnxEndpoint: 'alarmThresholds.maxP99Latency' (${maxP99.toHumanString()}) must be below 'timeout' (${timeout.toHumanString()}).`);

    this.metricsNamespace = props.metricsNamespace ?? 'cdk-mlops';
    this.serviceName = `endpoint-${this.endpointName}`;
    const capturePrefix = `captures/${this.endpointName}/`;
    if (Token.isUnresolved(captureSampleRate) || captureSampleRate > 0) this.captures = { prefix: capturePrefix, format: 'cdk-mlops' };
    const fn = new SecureFunction(this, 'Function', {
      logsEncryptionKey: props.dataLake.encryptionKey,
      entry: 'onnx-endpoint',
      description: `cdk-mlops endpoint ${this.endpointName}: ONNX model inference (onnxruntime-node)`,
      sourceMaps: false, // about 20 ms of every cold start
      memorySize: props.memorySize ?? Size.gibibytes(2),
      timeout,
      logRetention: props.logRetention,
      onnxRuntime: true,
      synchronousCaller: 'its Function URL and the callers granted invoke on the live alias (each request is answered)',
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      unreservedConcurrency: unreservedConcurrency('Invoked once per request by callers this endpoint grants invoke (SigV4, IAM)', 'OnnxEndpointProps.reservedConcurrentExecutions'),
      // The YAML parser (116 KB) only reads contracts of versions no release pinned one for: a file of its own.
      separateModules: ['yaml'],
      environment: {
        ENDPOINT_NAME: this.endpointName,
        ARTIFACTS_BUCKET: props.dataLake.artifactsBucket.bucketName,
        CAPTURE_PREFIX: capturePrefix,
        CAPTURE_SAMPLE_RATE: String(captureSampleRate),
        ...(props.checkContract === false ? {} : { CONTRACTS_PREFIX: 'contracts/' }),
        MAX_ROWS: String(maxRows),
        MAX_BODY_BYTES: String(maxBytes),
        PREDICTION_THRESHOLD: String(threshold),
        SHIFT_MIN_ROWS: String(shiftMinRows),
        POWERTOOLS_SERVICE_NAME: this.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
      },
    });
    this.function = fn.function;
    this.role = fn.role;
    props.ledger.grantRead(fn.role);
    props.ledger.bindEnvironment(fn.function);
    props.dataLake.grantReadArtifacts(fn.role, `${DEFAULT_MODELS_PREFIX}*`);
    // Released contracts: written by the deployer, read by the function (its cold start reads one JSON, no ledger walk).
    const releasesPrefix = `releases/${this.endpointName}/contracts/`;
    props.dataLake.grantWriteArtifacts(fn.role, `${capturePrefix}*`);

    this.alias = new lambda.Alias(this, 'Live', {
      aliasName: 'live',
      version: fn.function.currentVersion,
      ...(pc ? { provisionedConcurrentExecutions: pcMin } : {}),
    });
    if (pc) {
      this.scalableTarget = this.alias.addAutoScaling({ minCapacity: pcMin, maxCapacity: pc.maxCapacity });
      this.scalableTarget.scaleOnUtilization({ utilizationTarget: pc.utilizationTarget ?? 0.7 });
    }
    if (props.functionUrl !== false) this.functionUrl = this.alias.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });

    // The alarms a release is watched by.
    const minute = Duration.minutes(1);
    const errorRate = new cloudwatch.MathExpression({
      // ServerErrors has datapoints only when a request failed: FILL makes a quiet minute 0, not missing
      expression: '(errors + FILL(serverErrors, 0)) / invocations',
      usingMetrics: {
        errors: this.alias.metricErrors({ period: minute, statistic: cloudwatch.Stats.SUM }),
        serverErrors: this.metric('ServerErrors', { period: minute, statistic: cloudwatch.Stats.SUM }),
        invocations: this.alias.metricInvocations({ period: minute, statistic: cloudwatch.Stats.SUM }),
      },
      period: minute,
      label: 'error rate',
    });
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string, operator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD): cloudwatch.Alarm =>
      new cloudwatch.Alarm(this, alarmId, { metric, threshold, evaluationPeriods: 1, datapointsToAlarm: 1, comparisonOperator: operator, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: `cdk-mlops endpoint ${this.endpointName}: ${description}` });
    this.alarms = {
      errorRate: alarm('ErrorRateAlarm', errorRate, maxErrorRate, `more than ${maxErrorRate * 100}% of requests failed in a minute (rolls a release back)`),
      latency: alarm('LatencyAlarm', this.alias.metricDuration({ period: minute, statistic: cloudwatch.Stats.p(99) }), maxP99.toMilliseconds(), `p99 duration above ${maxP99.toMilliseconds()} ms in a minute (rolls a release back)`),
      predictionShift: alarm('PredictionShiftAlarm', this.metricPredictionShift({ period: minute }), maxShift, `a container's mean prediction moved more than ${maxShift} from its model's training mean (rolls a release back)`),
      integrity: alarm('IntegrityAlarm', this.metric('ModelIntegrityFailures', { period: minute, statistic: cloudwatch.Stats.SUM }), 1, "a model whose bytes differ from the ledger's hash was refused", cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD),
    };
    const alarms: cloudwatch.Alarm[] = [this.alarms.errorRate, this.alarms.latency, this.alarms.predictionShift, this.alarms.integrity];
    this.healthAlarm = new cloudwatch.CompositeAlarm(this, 'HealthAlarm', {
      alarmRule: cloudwatch.AlarmRule.anyOf(...alarms.map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM))),
      alarmDescription: `cdk-mlops endpoint ${this.endpointName}: any health alarm (errors, latency, prediction shift, integrity)`,
    });
    this.alarmTopic = props.alarmTopic ?? createAlarmTopic(this, props.dataLake.encryptionKey, `cdk-mlops endpoint ${this.endpointName}`);
    this.healthAlarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    for (const child of alarms) acknowledgeAlarmWithoutAction(child, "Its state is acted on by the release's CodeDeploy deployment group (which rolls a release back) and by the composite HealthAlarm, which notifies the alarm topic");

    const application = new codedeploy.LambdaApplication(this, 'Application', { applicationName: Names.uniqueResourceName(this, { maxLength: 100 }) });
    this.deploymentGroup = new codedeploy.LambdaDeploymentGroup(this, 'DeploymentGroup', {
      application,
      alias: this.alias,
      deploymentConfig: props.deploymentConfig ?? codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
      alarms,
      autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
    });
    Validations.of(this.deploymentGroup.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      reason: "CDK's Lambda deployment group attaches AWS's minimal CodeDeploy policy for Lambda (alias updates, alarm reads, CodeDeploy hooks named CodeDeployHook_*); it reaches no model data.",
    });

    if (props.rollbackOnHealthAlarm !== false) {
      // a rollback that could not be delivered, or that failed every retry, is kept and alarms: never lost
      this.rollbackDeadLetterQueue = new sqs.Queue(this, 'RollbackDeadLetterQueue', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
      this.rollbackDeadLetterAlarm = deadLetterAlarm(this, 'RollbackDeadLetterAlarm', this.rollbackDeadLetterQueue, this.alarmTopic, `cdk-mlops endpoint ${this.endpointName}: a rollback the health alarm asked for failed every retry (its event waits in the dead-letter queue)`, "the deployer's rollbacks (its EventBridge rule and the function's asynchronous invocations)");
    }

    // The deployer: publishes a version per model and starts/reads CodeDeploy deployments.
    const deployer = new SecureFunction(this, 'Deployer', {
      logsEncryptionKey: props.dataLake.encryptionKey,
      entry: 'endpoint-deployer',
      description: `cdk-mlops endpoint ${this.endpointName}: releases models through CodeDeploy and rolls back`,
      memorySize: Size.mebibytes(512),
      timeout: Duration.minutes(5),
      logRetention: props.logRetention,
      // the rollback rule invokes it asynchronously; the release state machine synchronously
      ...(this.rollbackDeadLetterQueue ? { deadLetterQueue: this.rollbackDeadLetterQueue } : { synchronousCaller: "this endpoint's release state machine (its Lambda tasks)" }),
      unreservedConcurrency: unreservedConcurrency("Invoked by this endpoint's release state machine (one task per running release) and its rollback rule (one per health alarm)"),
      environment: {
        ENDPOINT_KIND: 'onnx',
        ENDPOINT_NAME: this.endpointName,
        FUNCTION_NAME: fn.function.functionName,
        ALIAS_NAME: this.alias.aliasName,
        CODEDEPLOY_APPLICATION: application.applicationName,
        CODEDEPLOY_DEPLOYMENT_GROUP: this.deploymentGroup.deploymentGroupName,
        REQUIRE_APPROVAL: String(props.requireApproval ?? true),
        ROLLBACK_WINDOW_MINUTES: String(windowMinutes),
        // A release fixes the contract its requests are checked against (JSON under releases/<endpoint>/contracts/).
        ...(props.checkContract === false ? {} : { CONTRACTS_PREFIX: 'contracts/', ARTIFACTS_BUCKET: props.dataLake.artifactsBucket.bucketName }),
        POWERTOOLS_SERVICE_NAME: `${this.serviceName}-deployer`,
        POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
      },
    });
    this.deployer = deployer.function;
    props.ledger.grantRead(deployer.role);
    props.ledger.grantAppend(deployer.role);
    props.ledger.bindEnvironment(deployer.function);
    props.dataLake.grantReadArtifacts(deployer.role, `${DEFAULT_MODELS_PREFIX}*`);
    if (props.checkContract !== false) {
      props.dataLake.grantReadArtifacts(deployer.role, 'contracts/*');
      props.dataLake.grantWriteArtifacts(deployer.role, `${releasesPrefix}*`);
      props.dataLake.grantReadArtifacts(fn.role, `${releasesPrefix}*`);
    }
    const stack = Stack.of(this);
    deployer.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:GetFunctionConfiguration', 'lambda:UpdateFunctionConfiguration', 'lambda:PublishVersion'], resources: [fn.function.functionArn] }));
    deployer.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:GetAlias', 'lambda:UpdateAlias'], resources: [this.alias.functionArn] }));
    deployer.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['codedeploy:CreateDeployment', 'codedeploy:GetDeployment'], resources: [this.deploymentGroup.deploymentGroupArn] }),
    );
    // the group's configuration, and all-at-once for an endpoint's first model (nothing serves yet)
    const configArn = (name: string): string => stack.formatArn({ service: 'codedeploy', resource: 'deploymentconfig', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    deployer.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['codedeploy:GetDeploymentConfig'], resources: [configArn(this.deploymentGroup.deploymentConfig.deploymentConfigName), configArn(INITIAL_DEPLOYMENT_CONFIG)] }));
    deployer.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['codedeploy:RegisterApplicationRevision', 'codedeploy:GetApplicationRevision'], resources: [stack.formatArn({ service: 'codedeploy', resource: 'application', resourceName: application.applicationName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })] }));

    if (this.rollbackDeadLetterQueue) {
      this.rollbackRule = alarmActionRule(this, 'RollbackOnHealthAlarm', {
        alarm: this.healthAlarm,
        description: `cdk-mlops endpoint ${this.endpointName}: roll back to the previous model when the health alarm fires within ${rollbackWindow.toHumanString()} of a release`,
        handler: this.deployer,
        input: { operation: 'alarm-rollback' },
        deadLetterQueue: this.rollbackDeadLetterQueue,
        retryAttempts: 4,
        maxEventAge: Duration.minutes(30),
      });
    }

    this.releaseStateMachine = createReleaseStateMachine(this, { deployer: this.deployer, endpointName: this.endpointName, pollInterval: props.releasePollInterval, logRetention: props.logRetention, logsEncryptionKey: props.dataLake.encryptionKey });
  }

  /** Lets `grantee` call the endpoint (the Function URL, or the live alias directly). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    const url = this.functionUrl ? this.alias.grantInvokeUrl(grantee) : undefined;
    const invoke = this.alias.grantInvoke(grantee);
    return url ? url.combine(invoke) : invoke;
  }

  /** Lets `grantee` release models (start the release state machine). */
  grantRelease(grantee: iam.IGrantable): iam.Grant {
    return this.releaseStateMachine.grantStartExecution(grantee);
  }

  /** A metric the endpoint emits (EMF, dimension `service`). Statistic: Sum; period: 5 minutes. */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return serviceMetric(this.metricsNamespace, this.serviceName, metricName, props);
  }

  /** Scoring time per request, ms. Statistic: p99; period: 5 minutes. */
  metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Latency', { statistic: cloudwatch.Stats.p(99), ...props });
  }

  /** Rows per request. Statistic: Average; period: 5 minutes. */
  metricBatchSize(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BatchSize', { statistic: cloudwatch.Stats.AVERAGE, ...props });
  }

  /** Mean score per request. Statistic: Average; period: 5 minutes. */
  metricPredictionMean(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('PredictionMean', { statistic: cloudwatch.Stats.AVERAGE, ...props });
  }

  /** |a container's mean score − its model's training mean score|, the worst container. Statistic: Maximum; period: 5 minutes. */
  metricPredictionShift(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('PredictionShift', { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /** Requests refused as malformed (4xx). Statistic: Sum; period: 5 minutes. */
  metricBadRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BadRequests', props);
  }

  /** Invocations of the live alias. Statistic: Sum; period: 5 minutes. */
  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metricInvocations({ period: Duration.minutes(5), ...props });
  }
}
