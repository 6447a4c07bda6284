import {
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DescribeEndpointCommand,
  type DescribeEndpointCommandOutput,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  UpdateEndpointCommand,
  type DeploymentConfig,
  type ProductionVariant,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { endpointSubject, servingDeployment } from '../core/deployment';
import type { LedgerRecord } from '../core/lineage';
import { approvedModel, NothingToRollBackError, recordOutcome, recordRollbackIncident, ReleaseRefusedError, rollbackPlan, startedRelease, text, type ReleaseLedger, type ReleaseOutcome, type StartedRelease } from './records';

/*
 * Releases of a SageMaker endpoint: a model version goes live as a new
 * SageMaker model and endpoint config (copies of the serving ones but for the
 * model archive), through UpdateEndpoint with the endpoint's deployment
 * guardrails (blue/green canary or linear, rolled back by its alarms).
 *
 *   release  checks the model (approved; an archive SageMaker can serve: the
 *            training job's model.tar.gz, or Neo's compiled archive; its bytes
 *            = the ledger's hash) and starts the update.
 *   check    reads the endpoint: updating, or done. InService on the new
 *            config: succeeded; on another: SageMaker rolled it back; Failed:
 *            failed. Recorded as for ONNX endpoints (Deployment, Incident).
 *   rollback updates the endpoint back to the config that served the previous
 *            model, all at once; the Incident is recorded at once, the
 *            rollback Deployment by `check` when the endpoint is InService.
 */

export interface SageMakerReleaseConfig {
  /** The SageMaker endpoint's name (also its ledger subject `endpoint/<name>`). */
  readonly endpoint: string;
  readonly requireApproval: boolean;
  /** UpdateEndpoint's DeploymentConfig: the endpoint's guardrails. */
  readonly deploymentConfig: DeploymentConfig;
}

export interface SageMakerReleaseDeps {
  readonly ledger: ReleaseLedger;
  readonly sagemaker: Pick<SageMakerClient, 'send'>;
  /** Hex SHA-256 of an S3 object, streamed. */
  hashObject(uri: string): Promise<string>;
}

/** The archive a SageMaker model of this model version serves, and the hash the ledger recorded for it. */
function archiveOf(model: LedgerRecord<'ModelVersion'>): { uri: string; sha256: string } {
  if (model.data.format.startsWith('neo:')) return model.data.artifact; // Neo's compiled archive
  if (model.data.archive) return model.data.archive; // the training job's model.tar.gz
  throw new ReleaseRefusedError(`model ${model.id} (${model.data.format}) has no SageMaker model archive recorded`);
}

async function releasable(deps: SageMakerReleaseDeps, config: SageMakerReleaseConfig, id: string): Promise<{ model: LedgerRecord<'ModelVersion'>; archive: string }> {
  const model = await approvedModel(deps.ledger, id, config.requireApproval);
  const archive = archiveOf(model);
  const actual = await deps.hashObject(archive.uri);
  if (actual !== archive.sha256) throw new ReleaseRefusedError(`model ${id}: ${archive.uri} has SHA-256 ${actual}, but the ledger recorded ${archive.sha256}; refusing to release it`);
  return { model, archive: archive.uri };
}

/** A name SageMaker accepts (63 characters, letters, digits, hyphens), unique per endpoint and model version. */
export function releaseName(endpoint: string, modelVersionId: string): string {
  const suffix = modelVersionId.replace(/^mv-/, '').slice(0, 16);
  return `${endpoint.slice(0, 63 - suffix.length - 1)}-${suffix}`;
}

const alreadyExists = (err: unknown): boolean => (err as Error).name === 'ValidationException' && /already exist/i.test((err as Error).message);

export async function release(event: Record<string, unknown>, deps: SageMakerReleaseDeps, config: SageMakerReleaseConfig): Promise<StartedRelease> {
  const id = text(event, 'modelVersionId');
  const { archive } = await releasable(deps, config, id);
  const serving = servingDeployment(await deps.ledger.history(endpointSubject(config.endpoint)));
  const reason = !serving ? 'initial' : event.reason === 'manual' ? 'manual' : 'retrain';
  const endpoint = await deps.sagemaker.send(new DescribeEndpointCommand({ EndpointName: config.endpoint }));
  if (endpoint.EndpointStatus !== 'InService') throw new ReleaseRefusedError(`endpoint ${config.endpoint} is ${endpoint.EndpointStatus}; a release starts from InService`);
  const currentVersion = endpoint.EndpointConfigName!;
  const base = { modelVersionId: id, previousModelVersionId: serving?.data.modelVersionId ?? null, reason, currentVersion } as const;
  if (serving?.data.modelVersionId === id) return { ...base, done: true, targetVersion: currentVersion, deploymentId: null, unchanged: true };

  // A copy of what serves, but for the model archive: same image, role, environment, network and capture.
  const current = await deps.sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: currentVersion }));
  const variants = current.ProductionVariants ?? [];
  if (variants.length !== 1) throw new ReleaseRefusedError(`endpoint ${config.endpoint} has ${variants.length} variants; releases replace the model of a single-variant endpoint`);
  const servingModel = await deps.sagemaker.send(new DescribeModelCommand({ ModelName: variants[0]!.ModelName }));
  const name = releaseName(config.endpoint, id);
  const container = servingModel.PrimaryContainer ?? {};
  try {
    await deps.sagemaker.send(
      new CreateModelCommand({
        ModelName: name,
        ExecutionRoleArn: servingModel.ExecutionRoleArn,
        PrimaryContainer: { Image: container.Image, Environment: container.Environment, ModelDataUrl: archive },
        EnableNetworkIsolation: servingModel.EnableNetworkIsolation,
        VpcConfig: servingModel.VpcConfig,
        Tags: [{ Key: 'cdk-mlops:modelVersionId', Value: id }],
      }),
    );
  } catch (err) {
    if (!alreadyExists(err)) throw err; // a retried step: the model is there
  }
  const v = variants[0]!;
  const variant: ProductionVariant = { VariantName: v.VariantName, ModelName: name, InstanceType: v.InstanceType, InitialInstanceCount: v.InitialInstanceCount, InitialVariantWeight: v.InitialVariantWeight, ServerlessConfig: v.ServerlessConfig };
  try {
    await deps.sagemaker.send(new CreateEndpointConfigCommand({ EndpointConfigName: name, ProductionVariants: [variant], DataCaptureConfig: current.DataCaptureConfig, KmsKeyId: current.KmsKeyId }));
  } catch (err) {
    if (!alreadyExists(err)) throw err;
  }
  await deps.sagemaker.send(new UpdateEndpointCommand({ EndpointName: config.endpoint, EndpointConfigName: name, DeploymentConfig: config.deploymentConfig }));
  return { ...base, done: false, targetVersion: name, deploymentId: name };
}

/** The images the endpoint runs, as SageMaker resolved them (DescribeEndpoint's DeployedImages). */
export function deployedImages(endpoint: Pick<DescribeEndpointCommandOutput, 'ProductionVariants'>): { specified: string; resolved: string }[] {
  return (endpoint.ProductionVariants ?? [])
    .flatMap((v) => v.DeployedImages ?? [])
    .flatMap((i) => (i.SpecifiedImage && i.ResolvedImage ? [{ specified: i.SpecifiedImage, resolved: i.ResolvedImage }] : []));
}

export async function check(event: Record<string, unknown>, deps: SageMakerReleaseDeps, config: SageMakerReleaseConfig): Promise<ReleaseOutcome> {
  const r = startedRelease(event.release);
  if (r.unchanged || !r.deploymentId) return { done: true, status: 'Unchanged', succeeded: true, reason: `model ${r.modelVersionId} already serves` };
  const endpoint = await deps.sagemaker.send(new DescribeEndpointCommand({ EndpointName: config.endpoint }));
  const status = endpoint.EndpointStatus ?? 'Unknown';
  if (status !== 'InService' && status !== 'Failed') return { done: false, status };
  const live = endpoint.EndpointConfigName === r.targetVersion;
  const serves = live && status === 'InService';
  const strategy = `sagemaker:${config.deploymentConfig.BlueGreenUpdatePolicy?.TrafficRoutingConfiguration?.Type ?? 'update'}`;
  return recordOutcome(deps.ledger, config.endpoint, r, {
    status: serves ? 'Succeeded' : status === 'Failed' ? 'Failed' : 'RolledBack',
    succeeded: serves,
    rolledBack: status === 'InService' && !live,
    strategy,
    why: endpoint.FailureReason ?? (live ? undefined : `SageMaker kept endpoint config ${endpoint.EndpointConfigName} (an alarm of the update's guardrails fired)`),
    // what serves now, by digest: only when the release is what serves
    ...(serves ? { images: deployedImages(endpoint) } : {}),
  });
}

/** Updates the endpoint back to the config that served the previous model, all at once, and records why. */
export async function rollback(event: Record<string, unknown>, deps: SageMakerReleaseDeps, config: SageMakerReleaseConfig): Promise<StartedRelease & { incidentId: string }> {
  const { why, serving, previous } = await rollbackPlan(deps.ledger, config.endpoint, event);
  const previousConfig = previous.data.deploymentId;
  if (!previousConfig) throw new NothingToRollBackError(`the Deployment ${previous.id} of model ${previous.data.modelVersionId} names no endpoint config to return to`);
  await releasable(deps, { ...config, requireApproval: false }, previous.data.modelVersionId);
  await deps.sagemaker.send(
    new UpdateEndpointCommand({ EndpointName: config.endpoint, EndpointConfigName: previousConfig, DeploymentConfig: { BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 }, TerminationWaitInSeconds: 0 } } }),
  );
  const incidentId = await recordRollbackIncident(deps.ledger, config.endpoint, serving, previous, why, { fromConfig: serving.data.deploymentId ?? null, toConfig: previousConfig });
  // `check` records the rollback Deployment once the endpoint is InService on the previous config.
  return { done: false, modelVersionId: previous.data.modelVersionId, previousModelVersionId: serving.data.modelVersionId, reason: 'rollback', currentVersion: serving.data.deploymentId ?? 'unknown', targetVersion: previousConfig, deploymentId: previousConfig, key: `${previousConfig}#rollback#${serving.id}`, incidentId };
}
