import type { AlarmEvaluation, LocalCloudWatch } from './cloudwatch';
import { startJsonApi } from './json-api';
import { functionIdOf, type LocalLambda } from './lambda-service';
import type { LocalStack } from './local-stack';

/*
 * CodeDeploy, locally, for the Lambda deployment groups of the synthesized
 * stack: CreateDeployment shifts the alias by the group's configuration
 * (canary, linear or all at once), and the group's alarms (the template's
 * definitions, evaluated by LocalCloudWatch on what the traffic emitted) stop
 * it and roll the alias back, as `autoRollback: deploymentInAlarm` does.
 *
 * Time is compressed: each GetDeployment is one interval of the configuration.
 * It first lets the traffic of that interval happen (the `traffic` hook: the
 * runner or a test sends requests while the alias is split), then evaluates
 * the alarms over it, then rolls back or shifts on.
 */

export interface LocalDeployment {
  readonly deploymentId: string;
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  readonly deploymentConfigName: string;
  readonly functionId: string;
  readonly alias: string;
  readonly currentVersion: string;
  readonly targetVersion: string;
  readonly description?: string;
  /** Traffic shares of the target version, step by step (e.g. [0.1, 1]). */
  readonly steps: readonly number[];
  status: 'InProgress' | 'Succeeded' | 'Stopped' | 'Failed';
  step: number;
  readonly createTime: Date;
  completeTime?: Date;
  errorInformation?: { code: string; message: string };
  rollbackInfo?: { rollbackDeploymentId: string; rollbackMessage: string };
  /** The alarm evaluations of each interval, in order. */
  readonly evaluations: AlarmEvaluation[][];
}

export class CodeDeployApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** The traffic shares of a Lambda deployment configuration, step by step. */
export function trafficSteps(configName: string): number[] {
  const canary = /^CodeDeployDefault\.LambdaCanary(\d+)Percent\d+Minutes$/.exec(configName);
  if (canary) return [Number(canary[1]) / 100, 1];
  const linear = /^CodeDeployDefault\.LambdaLinear(\d+)PercentEvery\d+Minutes?$/.exec(configName);
  if (linear) {
    const share = Number(linear[1]) / 100;
    const steps: number[] = [];
    for (let s = share; s < 1 - 1e-9; s += share) steps.push(Math.round(s * 1000) / 1000);
    return [...steps, 1];
  }
  if (configName === 'CodeDeployDefault.LambdaAllAtOnce') return [1];
  throw new CodeDeployApiError('DeploymentConfigDoesNotExistException', `deployment configuration '${configName}' is not run locally`);
}

export interface LocalCodeDeployOptions {
  /** Runs the traffic of one interval while the alias is split (`share` to the target version). */
  traffic?: (deployment: LocalDeployment, share: number) => Promise<void>;
}

export class LocalCodeDeploy {
  readonly deployments: LocalDeployment[] = [];

  constructor(
    private readonly stack: LocalStack,
    private readonly lambda: LocalLambda,
    private readonly cloudwatch: LocalCloudWatch,
    readonly options: LocalCodeDeployOptions = {},
  ) {}

  /** The template's deployment group with that name (a Ref resolves to its logical id locally). */
  private group(applicationName: string, groupName: string): { alarms: string[]; configName: string } {
    const r = this.stack.template.Resources[groupName];
    if (r?.Type !== 'AWS::CodeDeploy::DeploymentGroup') throw new CodeDeployApiError('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${groupName}`);
    const props = this.stack.resolver.resolve(r.Properties ?? {}) as { ApplicationName?: string; DeploymentConfigName?: string; AlarmConfiguration?: { Enabled?: boolean; Alarms?: { Name: string }[] } };
    if (props.ApplicationName !== applicationName) throw new CodeDeployApiError('ApplicationDoesNotExistException', `deployment group ${groupName} belongs to ${props.ApplicationName}, not ${applicationName}`);
    return { alarms: props.AlarmConfiguration?.Enabled ? (props.AlarmConfiguration.Alarms ?? []).map((a) => a.Name) : [], configName: props.DeploymentConfigName ?? 'CodeDeployDefault.LambdaAllAtOnce' };
  }

  create(input: { applicationName?: string; deploymentGroupName?: string; deploymentConfigName?: string; description?: string; revision?: { revisionType?: string; appSpecContent?: { content?: string } } }): { deploymentId: string } {
    const group = this.group(input.applicationName ?? '', input.deploymentGroupName ?? '');
    if (input.revision?.revisionType !== 'AppSpecContent' || !input.revision.appSpecContent?.content) throw new CodeDeployApiError('InvalidRevisionException', 'revision: expected an AppSpecContent revision');
    const spec = JSON.parse(input.revision.appSpecContent.content) as { Resources?: Record<string, { Type: string; Properties: { Name: string; Alias: string; CurrentVersion: string; TargetVersion: string } }>[] };
    const target = Object.values(spec.Resources?.[0] ?? {})[0];
    if (target?.Type !== 'AWS::Lambda::Function') throw new CodeDeployApiError('InvalidRevisionException', 'AppSpec: expected one AWS::Lambda::Function resource');
    const { Name, Alias, CurrentVersion, TargetVersion } = target.Properties;
    const alias = this.lambda.getAlias(Name, Alias);
    if (alias.FunctionVersion !== CurrentVersion) throw new CodeDeployApiError('InvalidRevisionException', `AppSpec: the alias ${Alias} points at version ${alias.FunctionVersion}, not CurrentVersion ${CurrentVersion}`);
    if (this.deployments.some((d) => d.deploymentGroupName === input.deploymentGroupName && d.status === 'InProgress')) throw new CodeDeployApiError('DeploymentLimitExceededException', `The deployment group ${input.deploymentGroupName} already has an active deployment`);
    const deployment: LocalDeployment = {
      deploymentId: `d-LOCAL${String(this.deployments.length + 1).padStart(5, '0')}`,
      applicationName: input.applicationName!,
      deploymentGroupName: input.deploymentGroupName!,
      deploymentConfigName: input.deploymentConfigName ?? group.configName,
      functionId: functionIdOf(Name),
      alias: Alias,
      currentVersion: CurrentVersion,
      targetVersion: TargetVersion,
      ...(input.description ? { description: input.description } : {}),
      steps: trafficSteps(input.deploymentConfigName ?? group.configName),
      status: 'InProgress',
      step: 0,
      createTime: new Date(),
      evaluations: [],
    };
    this.deployments.push(deployment);
    this.shift(deployment);
    return { deploymentId: deployment.deploymentId };
  }

  private shift(d: LocalDeployment): void {
    const share = d.steps[d.step]!;
    if (share >= 1) this.lambda.updateAlias(d.functionId, d.alias, d.targetVersion, {});
    else this.lambda.updateAlias(d.functionId, d.alias, d.currentVersion, { [d.targetVersion]: share });
  }

  /** One interval: its traffic, then the alarms, then roll back or shift on. */
  private async advance(d: LocalDeployment): Promise<void> {
    if (d.status !== 'InProgress') return;
    const since = Date.now();
    await this.options.traffic?.(d, d.steps[d.step]!);
    const { alarms } = this.group(d.applicationName, d.deploymentGroupName);
    const evaluations = alarms.map((a) => this.cloudwatch.evaluate(a, since));
    d.evaluations.push(evaluations);
    const firing = evaluations.filter((e) => e.state === 'ALARM');
    if (firing.length > 0) {
      this.lambda.updateAlias(d.functionId, d.alias, d.currentVersion, {});
      d.status = 'Stopped';
      d.completeTime = new Date();
      d.errorInformation = {
        code: 'ALARM_ACTIVE',
        message: `One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <${firing.map((e) => e.alarmId).join(', ')}> (${firing.map((e) => e.reason).join('; ')})`,
      };
      d.rollbackInfo = { rollbackDeploymentId: `${d.deploymentId}-R`, rollbackMessage: `Deployment ${d.deploymentId} was rolled back: traffic is back on version ${d.currentVersion}` };
      return;
    }
    d.step++;
    if (d.step >= d.steps.length) {
      d.status = 'Succeeded';
      d.completeTime = new Date();
      return;
    }
    this.shift(d);
    if (d.steps[d.step]! >= 1) {
      d.status = 'Succeeded';
      d.completeTime = new Date();
    }
  }

  async get(deploymentId: string): Promise<{ deploymentInfo: Record<string, unknown> }> {
    const d = this.deployments.find((x) => x.deploymentId === deploymentId);
    if (!d) throw new CodeDeployApiError('DeploymentDoesNotExistException', `Deployment ${deploymentId} does not exist`);
    await this.advance(d);
    return {
      deploymentInfo: {
        deploymentId: d.deploymentId,
        applicationName: d.applicationName,
        deploymentGroupName: d.deploymentGroupName,
        deploymentConfigName: d.deploymentConfigName,
        status: d.status,
        computePlatform: 'Lambda',
        createTime: d.createTime.getTime() / 1000,
        ...(d.completeTime ? { completeTime: d.completeTime.getTime() / 1000 } : {}),
        ...(d.description ? { description: d.description } : {}),
        ...(d.errorInformation ? { errorInformation: d.errorInformation } : {}),
        ...(d.rollbackInfo ? { rollbackInfo: d.rollbackInfo } : {}),
      },
    };
  }
}

/** The CodeDeploy API (JSON 1.1) over LocalCodeDeploy, for SDK clients with AWS_ENDPOINT_URL_CODEDEPLOY. */
export function startCodeDeployApi(codedeploy: LocalCodeDeploy): Promise<{ endpoint: string; close(): Promise<void> }> {
  return startJsonApi(async (target, input) => {
    if (target === 'CodeDeploy_20141006.CreateDeployment') return codedeploy.create(input);
    if (target === 'CodeDeploy_20141006.GetDeployment') return codedeploy.get(String(input.deploymentId));
    throw new Error(`${target} is not run locally`);
  }, 'UnknownOperationException');
}
