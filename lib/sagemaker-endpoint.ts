import { Annotations, ArnFormat, Duration, Size, Stack, Token } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { DataLake } from './data-lake';
import type { EndpointCaptures } from './endpoint-captures';
import type { LineageLedger } from './lineage-ledger';
import { createAlarmTopic } from './private/alarm-topic';
import { DEFAULT_MODELS_PREFIX } from './private/defaults';
import { createReleaseStateMachine } from './private/release';
import { SecureFunction } from './private/secure-function';
import { acknowledgeControl, acknowledgeInlinePolicies, acknowledgeWildcards, unreservedConcurrency } from './private/nag';

/** Hosting instance types by family (SageMaker names). */
export const HostingInstanceType = {
  CPU_C6I_XLARGE: 'ml.c6i.xlarge',
  CPU_M5_XLARGE: 'ml.m5.xlarge',
  /** NVIDIA A10G */
  GPU_G5_XLARGE: 'ml.g5.xlarge',
  GPU_G5_2XLARGE: 'ml.g5.2xlarge',
  /** NVIDIA L4 */
  GPU_G6_XLARGE: 'ml.g6.xlarge',
  /** AWS Inferentia2: serves models compiled with SageMaker Neo for ml_inf2 */
  INFERENTIA_INF2_XLARGE: 'ml.inf2.xlarge',
  INFERENTIA_INF2_8XLARGE: 'ml.inf2.8xlarge',
} as const;

const HOSTING_FAMILIES = /^ml\.(t2|t3|m5|m5d|m6i|m7i|c5|c5d|c6i|c7i|r5|r5d|g4dn|g5|g6|g6e|p3|p4d|p5|inf1|inf2|trn1)\.[a-z0-9]+$/;
/**
 * Families with local NVMe instance storage: SageMaker refuses a storage KMS key
 * for them (the instance store is encrypted by the hardware).
 */
const INSTANCE_STORE_FAMILIES = /^ml\.(m5d|c5d|r5d|g4dn|g5|g6|g6e|p4d|p5)\./;

/** Traffic shifting of a blue/green update (SageMaker deployment guardrails). */
export interface TrafficShifting {
  /** 'CANARY': `size`% first, then the rest; 'LINEAR': `size`% per step; 'ALL_AT_ONCE'. @default 'CANARY' */
  readonly type?: 'CANARY' | 'LINEAR' | 'ALL_AT_ONCE';
  /** Percent of capacity per step. @default 10 */
  readonly size?: number;
  /** The baking time after each step, watched by the alarms. @default Duration.minutes(5) */
  readonly waitInterval?: Duration;
  /** How long the old fleet is kept after the last step. @default Duration.minutes(5) */
  readonly terminationWait?: Duration;
}

export interface SageMakerEndpointProps {
  /** Models are read from its artifacts bucket; captured data goes there. */
  readonly dataLake: DataLake;
  /**
   * Releases of ledger model versions (a deployer and a release state machine),
   * recorded in `endpoint/<name>`.
   * @default - no releases through the kit (update the endpoint yourself)
   */
  readonly ledger?: LineageLedger;
  /** Release only models with a passed 'approval' GateReport (a compiled model: its source's). @default true */
  readonly requireApproval?: boolean;
  /** How often a release is checked. @default Duration.minutes(1) */
  readonly releasePollInterval?: Duration;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where the error-rate and latency alarms notify (subscribe an operator's e-mail or pager to it).
   * @default - a new SNS topic, TLS-only, encrypted with the data lake's key
   */
  readonly alarmTopic?: sns.ITopic;
  /** @default - the construct's id, lower-cased */
  readonly endpointName?: string;
  /** The inference container image URI (ECR). */
  readonly imageUri: string;
  /** The image's ECR repository, so the execution role may pull it. @default - the image is public or the role is granted elsewhere */
  readonly imageRepository?: ecr.IRepository;
  /** The model archive served when the endpoint is created (a model.tar.gz, or Neo's compiled archive for Inferentia); releases replace it. */
  readonly initialModelDataUrl: string;
  /** Environment of the container. @default {} */
  readonly environment?: Readonly<Record<string, string>>;
  /** GPU (ml.g5, ml.g6), Inferentia (ml.inf2) or CPU. Not with `serverless`. @default HostingInstanceType.CPU_C6I_XLARGE */
  readonly instanceType?: string;
  /** @default 1 */
  readonly initialInstanceCount?: number;
  /** Target tracking on SageMakerVariantInvocationsPerInstance. @default - a fixed instance count */
  readonly autoscaling?: { readonly minCapacity?: number; readonly maxCapacity: number; readonly targetInvocationsPerInstance: number };
  /** Serverless inference (CPU only, scales to zero; no data capture, VPC or network isolation). @default - instances */
  readonly serverless?: { readonly memorySize: Size; readonly maxConcurrency: number; readonly provisionedConcurrency?: number };
  /** Share of requests captured to `captures/<name>/` in the artifacts bucket, 0 to 100. Not with `serverless`. @default 5 */
  readonly dataCapturePercent?: number;
  /** How releases shift traffic. @default canary 10%, 5 minutes baking */
  readonly trafficShifting?: TrafficShifting;
  /** Alarm thresholds that roll an update back. */
  readonly alarmThresholds?: { readonly maxErrorRate?: number; readonly maxP99Latency?: Duration };
  /** Run the model in your VPC (its private subnets). @default - no VPC */
  readonly vpc?: ec2.IVpc;
  /** @default - one security group with no inbound and no outbound rules (with network isolation nothing leaves anyway) */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** @default true: the container has no network access (not with `serverless`) */
  readonly networkIsolation?: boolean;
  /** Key of the endpoint's storage volume and the captured data. @default - the data lake's key (no storage key on instance-store families) */
  readonly encryptionKey?: kms.IKey;
}

/**
 * A SageMaker real-time (or serverless) endpoint: the model, an endpoint
 * configuration on GPU, Inferentia or CPU instances, data capture to the
 * artifacts bucket, target-tracking autoscaling on invocations per instance,
 * and blue/green updates with canary or linear traffic shifting that the
 * endpoint's alarms roll back (SageMaker deployment guardrails).
 */
export class SageMakerEndpoint extends Construct {
  readonly endpointName: string;
  readonly role: iam.Role;
  readonly model: sagemaker.CfnModel;
  readonly endpointConfig: sagemaker.CfnEndpointConfig;
  readonly endpoint: sagemaker.CfnEndpoint;
  readonly variantName = 'AllTraffic';
  /** True for a serverless endpoint (no instances: no instance metrics, no data capture). */
  readonly serverless: boolean;
  /** The variant's instance type (undefined when serverless). */
  readonly instanceType?: string;
  /** On Inferentia, the Neo target device of the models it serves ('ml_inf2' on ml.inf2); else undefined. */
  readonly neoTargetDevice?: 'ml_inf1' | 'ml_inf2';
  readonly alarms: { readonly errorRate: cloudwatch.Alarm; readonly latency: cloudwatch.Alarm };
  /** The topic the alarms notify. */
  readonly alarmTopic: sns.ITopic;
  readonly scalableTarget?: appscaling.ScalableTarget;
  /** Releases ledger model versions (operations release, check, rollback), when `ledger` is given. */
  readonly deployer?: lambda.IFunction;
  /** `{ "modelVersionId": "mv-..." }` in: the model released with the endpoint's guardrails, recorded in the ledger. */
  readonly releaseStateMachine?: sfn.StateMachine;
  /**
   * Where SageMaker's data capture writes (`captures/<name>/<name>/<variant>/yyyy/mm/dd/hh/`),
   * undefined when nothing is captured (serverless, or `dataCapturePercent` 0): what a DriftMonitor reads.
   */
  readonly captures?: EndpointCaptures;
  /** True when releases go through the kit and are recorded in the ledger (`ledger` given): a DriftMonitor needs that. */
  readonly recordsReleases: boolean;

  constructor(scope: Construct, id: string, props: SageMakerEndpointProps) {
    super(scope, id);
    this.endpointName = props.endpointName ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    if (!Token.isUnresolved(this.endpointName) && !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(this.endpointName)) throw new Error(`SageMakerEndpoint: 'endpointName' must be 1-63 letters, digits and single hyphens (got '${this.endpointName}').`);
    const serverless = props.serverless;
    this.serverless = serverless !== undefined;
    if (serverless && props.instanceType) throw new Error("SageMakerEndpoint: give 'instanceType' or 'serverless', not both.");
    if (serverless && props.autoscaling) throw new Error("SageMakerEndpoint: 'autoscaling' is for instances; serverless endpoints scale by 'serverless.maxConcurrency'.");
    if (serverless && props.dataCapturePercent !== undefined) throw new Error("SageMakerEndpoint: serverless endpoints do not support data capture; remove 'dataCapturePercent'.");
    if (serverless && (props.vpc || props.networkIsolation === true)) throw new Error("SageMakerEndpoint: serverless endpoints support neither a VPC nor network isolation; remove 'vpc'/'networkIsolation'.");
    if (serverless) {
      const mb = serverless.memorySize.toMebibytes();
      if (![1024, 2048, 3072, 4096, 5120, 6144].includes(mb)) throw new Error(`SageMakerEndpoint: 'serverless.memorySize' must be 1, 2, 3, 4, 5 or 6 GiB (got ${mb} MiB).`);
      if (!Number.isInteger(serverless.maxConcurrency) || serverless.maxConcurrency < 1 || serverless.maxConcurrency > 200) throw new Error(`SageMakerEndpoint: 'serverless.maxConcurrency' must be a whole number from 1 to 200 (got ${serverless.maxConcurrency}).`);
    }
    const instanceType = props.instanceType ?? HostingInstanceType.CPU_C6I_XLARGE;
    if (!serverless) this.instanceType = instanceType;
    if (!serverless && !Token.isUnresolved(instanceType) && !HOSTING_FAMILIES.test(instanceType)) throw new Error(`SageMakerEndpoint: 'instanceType' must be a SageMaker hosting instance like ml.g5.xlarge, ml.inf2.xlarge or ml.c6i.xlarge (got '${instanceType}').`);
    const count = props.initialInstanceCount ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error(`SageMakerEndpoint: 'initialInstanceCount' must be a whole number >= 1 (got ${count}).`);
    const a = props.autoscaling;
    if (a && (!Number.isInteger(a.maxCapacity) || a.maxCapacity < (a.minCapacity ?? count) || !(a.targetInvocationsPerInstance > 0))) throw new Error(`SageMakerEndpoint: 'autoscaling' needs maxCapacity >= minCapacity (${a.minCapacity ?? count}) and targetInvocationsPerInstance > 0.`);
    const capture = props.dataCapturePercent ?? 5;
    if (!serverless && !(Number.isInteger(capture) && capture >= 0 && capture <= 100)) throw new Error(`SageMakerEndpoint: 'dataCapturePercent' must be a whole number from 0 to 100 (got ${capture}).`);
    const shifting = props.trafficShifting ?? {};
    const stepSize = shifting.size ?? 10;
    if (!(Number.isInteger(stepSize) && stepSize >= 1 && stepSize <= 99)) throw new Error(`SageMakerEndpoint: 'trafficShifting.size' must be a whole percent from 1 to 99 (got ${stepSize}).`);
    const family = serverless ? undefined : /^ml\.(inf[12])\./.exec(instanceType)?.[1];
    if (family) this.neoTargetDevice = `ml_${family}` as 'ml_inf1' | 'ml_inf2';
    if (this.neoTargetDevice) Annotations.of(this).addInfo(`SageMakerEndpoint: ${instanceType} serves models compiled for ${this.neoTargetDevice} (TrainingPipeline 'compileForInferentia'), with a Neuron inference image.`);
    if (this.neoTargetDevice === 'ml_inf1' && (shifting.type ?? 'CANARY') !== 'ALL_AT_ONCE') Annotations.of(this).addWarningV2('cdk-mlops:inf1NoGuardrails', 'SageMakerEndpoint: SageMaker deployment guardrails do not support Inf1 instances; updates fall back to all-at-once blue/green with no baking period.');
    if (props.networkIsolation === false) Annotations.of(this).addWarningV2('cdk-mlops:endpointNetworkAccess', "SageMakerEndpoint: 'networkIsolation' is off: the model container can reach the network.");

    const key = props.encryptionKey ?? props.dataLake.encryptionKey;
    const capturePrefix = `captures/${this.endpointName}/`;
    // SageMaker appends <endpoint>/<variant>/ to the destination
    if (!serverless && capture > 0) this.captures = { prefix: `${capturePrefix}${this.endpointName}/${this.variantName}/`, format: 'sagemaker', ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}) };
    this.recordsReleases = props.ledger !== undefined;
    this.role = new iam.Role(this, 'ExecutionRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'), description: `cdk-mlops endpoint ${this.endpointName}: SageMaker hosting` });
    props.dataLake.grantReadArtifacts(this.role, `${DEFAULT_MODELS_PREFIX}*`);
    props.dataLake.grantReadArtifacts(this.role, 'training/*');
    if (!serverless && capture > 0) props.dataLake.grantWriteArtifacts(this.role, `${capturePrefix}*`);
    props.imageRepository?.grantPull(this.role);
    key.grant(this.role, 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:DescribeKey');
    const stack = Stack.of(this);
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], resources: [stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/sagemaker/Endpoints/*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })] }));
    // CloudWatch PutMetricData has no resource-level permissions; it is limited to SageMaker's namespaces.
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/*', 'AWS/SageMaker'] } } }));

    const securityGroups = props.vpc ? (props.securityGroups ?? [new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, allowAllOutbound: false, description: `cdk-mlops endpoint ${this.endpointName}` })]) : [];
    if (props.vpc) {
      // SageMaker attaches the model's network interfaces in the VPC; these EC2 calls have no resource-level permissions.
      this.role.addToPolicy(new iam.PolicyStatement({ actions: ['ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface', 'ec2:DeleteNetworkInterfacePermission', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'], resources: ['*'] }));
    }
    acknowledgeInlinePolicies(this.role);
    acknowledgeWildcards(this.role, [
      { resource: /:logs:.+:log-group:\/aws\/sagemaker\/Endpoints\/\*$/, reason: 'SageMaker writes each endpoint variant instance to its own log group and stream under /aws/sagemaker/Endpoints/, named at run time.' },
      { resource: /^\*$/, reason: "cloudwatch:PutMetricData has no resource-level permissions (it is conditioned on SageMaker's namespaces); in a VPC, the EC2 network-interface calls SageMaker makes for the model have none either." },
    ]);
    this.model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      primaryContainer: { image: props.imageUri, modelDataUrl: props.initialModelDataUrl, environment: { ...props.environment } },
      enableNetworkIsolation: serverless ? undefined : (props.networkIsolation ?? true),
      vpcConfig: props.vpc ? { subnets: props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds, securityGroupIds: securityGroups.map((g) => g.securityGroupId) } : undefined,
    });
    this.model.node.addDependency(this.role);
    const storageKey = !serverless && !INSTANCE_STORE_FAMILIES.test(instanceType);
    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: [
        {
          variantName: this.variantName,
          modelName: this.model.attrModelName,
          ...(serverless
            ? { serverlessConfig: { memorySizeInMb: serverless.memorySize.toMebibytes(), maxConcurrency: serverless.maxConcurrency, ...(serverless.provisionedConcurrency ? { provisionedConcurrency: serverless.provisionedConcurrency } : {}) } }
            : { instanceType, initialInstanceCount: count, initialVariantWeight: 1 }),
        },
      ],
      ...(storageKey ? { kmsKeyId: key.keyArn } : {}),
      ...(!serverless && capture > 0
        ? {
            dataCaptureConfig: {
              enableCapture: true,
              initialSamplingPercentage: capture,
              destinationS3Uri: props.dataLake.artifactsBucket.s3UrlForObject(capturePrefix.slice(0, -1)),
              kmsKeyId: key.keyArn,
              captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
              captureContentTypeHeader: { jsonContentTypes: ['application/json'], csvContentTypes: ['text/csv'] },
            },
          }
        : {}),
    });
    if (!storageKey) {
      acknowledgeControl(this.endpointConfig, 'SageMakerEndpointConfigurationKMSKeyConfigured', serverless
          ? 'Serverless endpoints attach no storage volume, and SageMaker refuses a KmsKeyId for them.'
          : `${instanceType} has NVMe instance storage, which the hardware encrypts and for which SageMaker refuses a KmsKeyId; data capture, when on, is encrypted with the endpoint's key.`);
    }

    // The alarms an update is rolled back by (SageMaker's own metrics of the variant).
    const minute = Duration.minutes(1);
    const dims = { EndpointName: this.endpointName, VariantName: this.variantName };
    const sm = (metricName: string, statistic: string): cloudwatch.Metric => new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName, dimensionsMap: dims, statistic, period: minute });
    const maxErrorRate = props.alarmThresholds?.maxErrorRate ?? 0.05;
    const maxP99 = props.alarmThresholds?.maxP99Latency ?? Duration.seconds(1);
    this.alarms = {
      errorRate: new cloudwatch.Alarm(this, 'ErrorRateAlarm', {
        metric: new cloudwatch.MathExpression({ expression: 'FILL(errors, 0) / invocations', usingMetrics: { errors: sm('Invocation5XXErrors', 'Sum'), invocations: sm('Invocations', 'Sum') }, period: minute }),
        threshold: maxErrorRate,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `cdk-mlops endpoint ${this.endpointName}: more than ${maxErrorRate * 100}% 5xx in a minute (rolls an update back)`,
      }),
      // ModelLatency is in microseconds
      latency: new cloudwatch.Alarm(this, 'LatencyAlarm', {
        metric: sm('ModelLatency', 'p99'),
        threshold: maxP99.toMilliseconds() * 1000,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `cdk-mlops endpoint ${this.endpointName}: p99 model latency above ${maxP99.toMilliseconds()} ms (rolls an update back)`,
      }),
    };
    this.alarmTopic = props.alarmTopic ?? createAlarmTopic(this, props.dataLake.encryptionKey, `cdk-mlops endpoint ${this.endpointName}`);
    for (const alarm of Object.values(this.alarms)) alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));

    const type = shifting.type ?? 'CANARY';
    const wait = (shifting.waitInterval ?? Duration.minutes(5)).toSeconds();
    const step = { Type: 'CAPACITY_PERCENT', Value: stepSize };
    // The guardrails, in the API's shape (UpdateEndpoint's DeploymentConfig): the stack's and every release's.
    const guardrails = {
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: type, ...(type === 'CANARY' ? { CanarySize: step, WaitIntervalInSeconds: wait } : {}), ...(type === 'LINEAR' ? { LinearStepSize: step, WaitIntervalInSeconds: wait } : {}) },
        TerminationWaitInSeconds: (shifting.terminationWait ?? Duration.minutes(5)).toSeconds(),
      },
      AutoRollbackConfiguration: { Alarms: [{ AlarmName: this.alarms.errorRate.alarmName }, { AlarmName: this.alarms.latency.alarmName }] },
    };
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Resource', {
      endpointName: this.endpointName,
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
      deploymentConfig: {
        blueGreenUpdatePolicy: {
          trafficRoutingConfiguration: {
            type,
            ...(type === 'CANARY' ? { canarySize: { type: 'CAPACITY_PERCENT', value: stepSize }, waitIntervalInSeconds: wait } : {}),
            ...(type === 'LINEAR' ? { linearStepSize: { type: 'CAPACITY_PERCENT', value: stepSize }, waitIntervalInSeconds: wait } : {}),
          },
          terminationWaitInSeconds: guardrails.BlueGreenUpdatePolicy.TerminationWaitInSeconds,
        },
        autoRollbackConfiguration: { alarms: guardrails.AutoRollbackConfiguration.Alarms.map((a) => ({ alarmName: a.AlarmName })) },
      },
    });
    if (props.ledger) {
      const deployer = this.createDeployer(props, props.ledger, guardrails, stack);
      this.deployer = deployer;
      this.releaseStateMachine = createReleaseStateMachine(this, { deployer, endpointName: this.endpointName, pollInterval: props.releasePollInterval ?? Duration.minutes(1), logRetention: props.logRetention, logsEncryptionKey: props.dataLake.encryptionKey });
    }

    if (a && !serverless) {
      this.scalableTarget = new appscaling.ScalableTarget(this, 'Scaling', {
        serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
        resourceId: `endpoint/${this.endpointName}/variant/${this.variantName}`,
        scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        minCapacity: a.minCapacity ?? count,
        maxCapacity: a.maxCapacity,
      });
      this.scalableTarget.node.addDependency(this.endpoint);
      this.scalableTarget.scaleToTrackMetric('InvocationsPerInstance', { targetValue: a.targetInvocationsPerInstance, predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE, scaleInCooldown: Duration.minutes(5), scaleOutCooldown: Duration.minutes(1) });
    }
  }

  /** The deployer: new SageMaker models and endpoint configs named `<endpoint>-<model version>`, UpdateEndpoint with the guardrails. */
  private createDeployer(props: SageMakerEndpointProps, ledger: LineageLedger, guardrails: Record<string, unknown>, stack: Stack): lambda.IFunction {
    const fn = new SecureFunction(this, 'Deployer', {
      logsEncryptionKey: props.dataLake.encryptionKey,
      entry: 'endpoint-deployer',
      description: `cdk-mlops endpoint ${this.endpointName}: releases models to the SageMaker endpoint and rolls back`,
      memorySize: Size.mebibytes(512),
      timeout: Duration.minutes(5),
      logRetention: props.logRetention,
      synchronousCaller: "this endpoint's release state machine (its Lambda tasks)",
      unreservedConcurrency: unreservedConcurrency("Invoked by this endpoint's release state machine, one task per running release"),
      environment: {
        ENDPOINT_KIND: 'sagemaker',
        ENDPOINT_NAME: this.endpointName,
        REQUIRE_APPROVAL: String(props.requireApproval ?? true),
        DEPLOYMENT_CONFIG: stack.toJsonString(guardrails),
        POWERTOOLS_SERVICE_NAME: `endpoint-${this.endpointName}-deployer`,
        POWERTOOLS_METRICS_NAMESPACE: 'cdk-mlops',
      },
    });
    ledger.grantRead(fn.role);
    ledger.grantAppend(fn.role);
    ledger.bindEnvironment(fn.function);
    // the archives it checks against the ledger's hash: job outputs and Neo's compiled models
    props.dataLake.grantReadArtifacts(fn.role, 'training/*');
    const arn = (resource: string, name: string): string => stack.formatArn({ service: 'sagemaker', resource, resourceName: name, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const lower = this.endpointName.toLowerCase(); // SageMaker ARNs name resources in lower case
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeEndpoint', 'sagemaker:UpdateEndpoint'], resources: [arn('endpoint', lower)] }));
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:CreateModel', 'sagemaker:AddTags'], resources: [arn('model', `${lower}-*`)] }));
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:CreateEndpointConfig'], resources: [arn('endpoint-config', `${lower}-*`)] }));
    // the serving model and config are copied; the stack's first ones are named by CloudFormation
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeModel', 'sagemaker:DescribeEndpointConfig'], resources: [arn('model', '*'), arn('endpoint-config', '*')] }));
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [this.role.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } } }));
    acknowledgeWildcards(fn.role, [
      { resource: /:sagemaker:.+:(model|endpoint-config)\/[a-z0-9-]+-\*$/, reason: "A release creates the model and endpoint config of a model version, named <endpoint>-<model version> at run time; the role may create only this endpoint's." },
      { resource: /:sagemaker:.+:(model|endpoint-config)\/\*$/, reason: 'DescribeModel and DescribeEndpointConfig (read only) of the serving ones, which a release copies: the first were named by CloudFormation, so their names are not known at synth.' },
    ]);
    return fn.function;
  }

  /** Lets `grantee` release models (start the release state machine). */
  grantRelease(grantee: iam.IGrantable): iam.Grant {
    if (!this.releaseStateMachine) throw new Error("SageMakerEndpoint: releases need 'ledger'; give the endpoint the ledger to release through the kit.");
    return this.releaseStateMachine.grantStartExecution(grantee);
  }

  /** The endpoint's ARN. */
  get endpointArn(): string {
    return Stack.of(this).formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: this.endpointName.toLowerCase(), arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  }

  /** Lets `grantee` call the endpoint (sagemaker:InvokeEndpoint). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:InvokeEndpoint'], resourceArns: [this.endpointArn] });
  }

  /** A metric of the variant (AWS/SageMaker). Statistic: Sum; period: 5 minutes. */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.variantMetric('AWS/SageMaker', metricName, cloudwatch.Stats.SUM, props);
  }

  /** Invocations. Statistic: Sum; period: 5 minutes. */
  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocations', props);
  }

  /** Model latency (µs). Statistic: p99; period: 5 minutes. */
  metricModelLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ModelLatency', { statistic: cloudwatch.Stats.p(99), ...props });
  }

  /** Invocations answered 4xx (`'4XX'`) or 5xx (`'5XX'`). Statistic: Sum; period: 5 minutes. */
  metricInvocationErrors(kind: '4XX' | '5XX', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(`Invocation${kind}Errors`, props);
  }

  /**
   * An instance metric of the variant (namespace `/aws/sagemaker/Endpoints`):
   * CPUUtilization, MemoryUtilization, DiskUtilization, GPUUtilization,
   * GPUMemoryUtilization (percent; CPU and GPU summed over cores). None on
   * serverless endpoints. Statistic: Average; period: 5 minutes.
   */
  metricInstanceUtilization(metricName: 'CPUUtilization' | 'MemoryUtilization' | 'DiskUtilization' | 'GPUUtilization' | 'GPUMemoryUtilization', props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.variantMetric('/aws/sagemaker/Endpoints', metricName, cloudwatch.Stats.AVERAGE, props);
  }

  private variantMetric(namespace: string, metricName: string, statistic: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace, metricName, dimensionsMap: { EndpointName: this.endpointName, VariantName: this.variantName }, statistic, period: Duration.minutes(5), ...props });
  }
}
