import { GetDeploymentCommand, CreateDeploymentCommand, type CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { GetAliasCommand, GetFunctionConfigurationCommand, PublishVersionCommand, UpdateAliasCommand, UpdateFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { endpointSubject, INITIAL_DEPLOYMENT_CONFIG, servingDeployment } from '../core/deployment';
import { InvalidContractError } from '../core/constraints';
import { CdkMlopsError, ModelError } from '../core/errors';
import { deterministicId, type LedgerRecord } from '../core/lineage';
import { checkModelSignature } from '../core/model-signature';
import { loadContract, releasedContractObject, type ContractSource } from '../shared/contracts';
import type { ModelArtifactReader } from '../shared/model-artifacts';
import { trainingDataOf } from '../shared/serving-lineage';
import { approvedModel, NothingToRollBackError, recordOutcome, recordRollbackIncident, ReleaseRefusedError, rollbackPlan, startedRelease, text, type ReleaseLedger, type ReleaseOutcome, type StartedRelease } from './records';

/*
 * Releases of an ONNX endpoint: a model version goes live through a new Lambda
 * version and a CodeDeploy deployment of the `live` alias (canary or linear,
 * watched by the endpoint's alarms, rolled back by CodeDeploy when one fires).
 *
 *   release  checks the model (ONNX, signature, approved, bytes = the ledger's
 *            hash), fixes the contract it will be checked against (stored as
 *            JSON), pins all three on $LATEST (MODEL_VERSION_ID,
 *            MODEL_ARTIFACT_URI, MODEL_CONTRACT_KEY), publishes a version and
 *            starts the deployment from the alias's version to it.
 *   check    reads the deployment: in progress, or done. Done, it records a
 *            Deployment in the endpoint's chain (succeeded, or rolled-back with
 *            an Incident saying why).
 *   rollback points the alias straight back at the version serving the
 *            previous model (the ledger says which), and records the Incident
 *            and the rollback Deployment.
 *
 * Every record's id is derived from what it records, so a retried step writes
 * nothing twice.
 */

export interface ReleaseConfig {
  readonly endpoint: string;
  readonly functionName: string;
  /** @default 'live' */
  readonly alias: string;
  readonly application: string;
  readonly deploymentGroup: string;
  /** Release only models an 'approval' GateReport passed. @default true */
  readonly requireApproval: boolean;
  /** Where dataset contracts are, when the endpoint checks requests against them: a release fixes the one it applies. */
  readonly contractsPrefix?: string;
}

export { NothingToRollBackError, ReleaseRefusedError, type ReleaseOutcome, type StartedRelease } from './records';

export interface ReleaseDeps {
  readonly ledger: ReleaseLedger;
  readonly models: ModelArtifactReader;
  /** The artifacts bucket: contracts read, released contracts written (with `contractsPrefix`). */
  readonly artifacts?: ContractSource & { putOnce(key: string, body: string, contentType: string): Promise<string> };
  readonly lambda: Pick<LambdaClient, 'send'>;
  readonly codedeploy: Pick<CodeDeployClient, 'send'>;
  sleep(ms: number): Promise<void>;
}

/** Checks the model can be served, as the endpoint will check it: ONNX, a signature, approved, bytes as recorded. */
async function releasable(deps: ReleaseDeps, config: ReleaseConfig, id: string): Promise<LedgerRecord<'ModelVersion'>> {
  const model = await approvedModel(deps.ledger, id, config.requireApproval);
  if (model.data.format !== 'onnx') throw new ReleaseRefusedError(`model ${id} is '${model.data.format}'; the ONNX endpoint serves ONNX models`);
  try {
    checkModelSignature(model.data.signature);
    await deps.models.read(model);
  } catch (err) {
    if (err instanceof ModelError) throw new ReleaseRefusedError(`model ${id}: ${err.message}`, { cause: err });
    throw err;
  }
  return model;
}

/**
 * Fixes the contract a release applies: the dataset's contract now, stored write-once as JSON
 * under `releases/<endpoint>/contracts/` (content-addressed). Returns its key, or undefined when
 * the endpoint checks no contract. A contract that does not parse refuses the release.
 */
async function releaseContract(deps: ReleaseDeps, config: ReleaseConfig, model: LedgerRecord<'ModelVersion'>): Promise<string | undefined> {
  if (config.contractsPrefix === undefined || !deps.artifacts) return undefined;
  const dataset = (await trainingDataOf(deps.ledger, model.data.trainingRunId))?.data.dataset ?? null;
  let contract;
  try {
    contract = dataset === null ? undefined : await loadContract(deps.artifacts, config.contractsPrefix, dataset);
  } catch (err) {
    if (err instanceof InvalidContractError) throw new ReleaseRefusedError(`model ${model.id}: the contract of dataset '${dataset}' is invalid: ${err.message}`, { cause: err });
    throw err;
  }
  const { key, body } = releasedContractObject(config.endpoint, { dataset, contract: contract ?? null });
  await deps.artifacts.putOnce(key, body, 'application/json');
  return key;
}

async function waitForUpdate(deps: ReleaseDeps, functionName: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const c = await deps.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    if (c.LastUpdateStatus === 'Failed') throw new CdkMlopsError(`updating ${functionName} failed: ${c.LastUpdateStatusReason ?? 'no reason given'}`);
    if (c.LastUpdateStatus !== 'InProgress') return;
    await deps.sleep(1000);
  }
  throw new CdkMlopsError(`updating ${functionName} did not finish in 2 minutes`);
}

export async function release(event: Record<string, unknown>, deps: ReleaseDeps, config: ReleaseConfig): Promise<StartedRelease> {
  const id = text(event, 'modelVersionId');
  const model = await releasable(deps, config, id);
  const serving = servingDeployment(await deps.ledger.history(endpointSubject(config.endpoint)));
  const reason = !serving ? 'initial' : event.reason === 'manual' ? 'manual' : 'retrain';
  const alias = await deps.lambda.send(new GetAliasCommand({ FunctionName: config.functionName, Name: config.alias }));
  const currentVersion = alias.FunctionVersion!;
  const base = { modelVersionId: id, previousModelVersionId: serving?.data.modelVersionId ?? null, reason, currentVersion } as const;
  if (serving?.data.modelVersionId === id) return { ...base, done: true, targetVersion: currentVersion, deploymentId: null, unchanged: true };

  // Pin the model on $LATEST, then publish: the new version serves exactly this model. Its artifact's location
  // is pinned too, so a cold start downloads it while reading the ledger (which still decides: location and hash),
  // and the contract its requests are checked against, fixed now.
  const contractKey = await releaseContract(deps, config, model);
  const latest = await deps.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: config.functionName }));
  const variables: Record<string, string> = { ...(latest.Environment?.Variables ?? {}), MODEL_VERSION_ID: id, MODEL_ARTIFACT_URI: model.data.artifact.uri };
  if (model.data.artifact.versionId) variables.MODEL_ARTIFACT_VERSION_ID = model.data.artifact.versionId;
  else delete variables.MODEL_ARTIFACT_VERSION_ID; // the previous model's
  if (contractKey) variables.MODEL_CONTRACT_KEY = contractKey;
  else delete variables.MODEL_CONTRACT_KEY;
  await deps.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: config.functionName, Environment: { Variables: variables }, RevisionId: latest.RevisionId }));
  await waitForUpdate(deps, config.functionName);
  const published = await deps.lambda.send(new PublishVersionCommand({ FunctionName: config.functionName, Description: `cdk-mlops ${config.endpoint}: model ${id}`.slice(0, 256) }));
  const targetVersion = published.Version!;
  const appSpec = {
    version: 0.0,
    Resources: [{ [config.endpoint]: { Type: 'AWS::Lambda::Function', Properties: { Name: config.functionName, Alias: config.alias, CurrentVersion: currentVersion, TargetVersion: targetVersion } } }],
  };
  const created = await deps.codedeploy.send(
    new CreateDeploymentCommand({
      applicationName: config.application,
      deploymentGroupName: config.deploymentGroup,
      description: `cdk-mlops ${config.endpoint}: model ${id} (${reason}), version ${currentVersion} -> ${targetVersion}`.slice(0, 256),
      // The first model has nothing to protect (the version before it serves no model): it goes live at once.
      ...(serving ? {} : { deploymentConfigName: INITIAL_DEPLOYMENT_CONFIG }),
      revision: { revisionType: 'AppSpecContent', appSpecContent: { content: JSON.stringify(appSpec) } },
    }),
  );
  // what the version pins, for its Deployment: versions without pins (published by `cdk deploy`) read them there
  const modelArtifact = { uri: model.data.artifact.uri, ...(model.data.artifact.versionId ? { versionId: model.data.artifact.versionId } : {}) };
  return { ...base, done: false, targetVersion, deploymentId: created.deploymentId!, modelArtifact, ...(contractKey ? { contractKey } : {}) };
}

export async function check(event: Record<string, unknown>, deps: ReleaseDeps, config: ReleaseConfig): Promise<ReleaseOutcome> {
  const r = startedRelease(event.release);
  if (r.unchanged || !r.deploymentId) return { done: true, status: 'Unchanged', succeeded: true, reason: `model ${r.modelVersionId} already serves` };
  const { deploymentInfo: info } = await deps.codedeploy.send(new GetDeploymentCommand({ deploymentId: r.deploymentId }));
  const status = info?.status ?? 'Unknown';
  if (!['Succeeded', 'Failed', 'Stopped'].includes(status)) return { done: false, status };
  return recordOutcome(deps.ledger, config.endpoint, r, {
    status,
    succeeded: status === 'Succeeded',
    rolledBack: info?.rollbackInfo?.rollbackDeploymentId !== undefined || status === 'Stopped',
    strategy: `codedeploy:${info?.deploymentConfigName ?? 'unknown'}`,
    why: info?.errorInformation?.message ?? info?.rollbackInfo?.rollbackMessage,
    functionVersion: r.targetVersion,
    errorCode: info?.errorInformation?.code ?? null,
  });
}

/**
 * Rolls the endpoint back to the previous model at once (a health alarm after a
 * release, an operator): the alias points at the version that served it, with
 * no canary. Records an Incident with the reason and the rollback Deployment.
 */
export async function rollback(event: Record<string, unknown>, deps: ReleaseDeps, config: ReleaseConfig): Promise<{ modelVersionId: string; functionVersion: string; deploymentRecordId: string; incidentId: string }> {
  const { why, serving, previous } = await rollbackPlan(deps.ledger, config.endpoint, event);
  const version = previous.data.functionVersion;
  if (!version) throw new NothingToRollBackError(`the Deployment ${previous.id} of model ${previous.data.modelVersionId} names no Lambda version to return to`);
  await releasable(deps, { ...config, requireApproval: false }, previous.data.modelVersionId); // its bytes must still be what the ledger recorded
  await deps.lambda.send(new UpdateAliasCommand({ FunctionName: config.functionName, Name: config.alias, FunctionVersion: version, RoutingConfig: { AdditionalVersionWeights: {} } }));
  const incidentId = await recordRollbackIncident(deps.ledger, config.endpoint, serving, previous, why, { fromVersion: serving.data.functionVersion ?? null, toVersion: version });
  const { record } = await deps.ledger.append({
    kind: 'Deployment',
    id: deterministicId('dp', config.endpoint, 'rollback', serving.id),
    subject: endpointSubject(config.endpoint),
    parents: [previous.data.modelVersionId, incidentId],
    // what the version returned to pins (its model's artifact, the contract its release fixed), for unpinned readers
    data: { endpoint: config.endpoint, modelVersionId: previous.data.modelVersionId, previousModelVersionId: serving.data.modelVersionId, strategy: 'alias-revert', reason: 'rollback', status: 'succeeded', functionVersion: version, detail: why.slice(0, 2000), ...(previous.data.contractKey ? { contractKey: previous.data.contractKey } : {}), ...(previous.data.modelArtifact ? { modelArtifact: previous.data.modelArtifact } : {}) },
  });
  return { modelVersionId: previous.data.modelVersionId, functionVersion: version, deploymentRecordId: record.id, incidentId };
}

/** Why a health alarm did not roll the endpoint back. */
export type AlarmRollbackSkip = 'release-in-progress' | 'no-release' | 'after-a-rollback' | 'not-right-after-release' | 'alias-moved' | 'nothing-to-roll-back';

/**
 * A health alarm went into ALARM (EventBridge, `{ alarmName, time, reason }`):
 * roll back to the previous model, but only when that is what the alarm means.
 * - During a CodeDeploy deployment (the alias splits traffic) CodeDeploy watches
 *   the same alarms and rolls back itself.
 * - Only within `windowMs` of the serving release: later, errors or a shifted
 *   prediction are not the release's doing (drift is the monitor's business).
 * - Only when the alias still serves the release the ledger names.
 * - Never after a rollback: that would return to the model just rolled back from.
 */
export async function rollbackOnAlarm(
  event: Record<string, unknown>,
  deps: ReleaseDeps,
  config: ReleaseConfig & { readonly windowMs: number; readonly now: () => Date },
): Promise<{ rolledBack: true; modelVersionId: string; incidentId: string } | { rolledBack: false; skipped: AlarmRollbackSkip; detail: string }> {
  const alarm = text(event, 'alarmName');
  const alias = await deps.lambda.send(new GetAliasCommand({ FunctionName: config.functionName, Name: config.alias }));
  const weights = alias.RoutingConfig?.AdditionalVersionWeights ?? {};
  if (Object.keys(weights).length > 0) return { rolledBack: false, skipped: 'release-in-progress', detail: `the alias splits traffic with version ${Object.keys(weights).join(', ')}: CodeDeploy is releasing and rolls back on the same alarms` };
  const serving = servingDeployment(await deps.ledger.history(endpointSubject(config.endpoint)));
  if (!serving) return { rolledBack: false, skipped: 'no-release', detail: `no release of ${config.endpoint} in the ledger` };
  // what serves came back by a rollback: rolling back again would return to the model just rolled back from
  if (serving.data.reason === 'rollback') return { rolledBack: false, skipped: 'after-a-rollback', detail: `what serves (${serving.data.modelVersionId}) is a rollback (${serving.id}); a health alarm does not roll back a rollback` };
  const age = config.now().getTime() - Date.parse(serving.createdAt);
  if (age > config.windowMs) return { rolledBack: false, skipped: 'not-right-after-release', detail: `the serving release ${serving.id} is ${Math.round(age / 60_000)} min old, past the ${Math.round(config.windowMs / 60_000)} min rollback window` };
  if (serving.data.functionVersion && alias.FunctionVersion !== serving.data.functionVersion) return { rolledBack: false, skipped: 'alias-moved', detail: `the alias serves version ${alias.FunctionVersion}, not the release's ${serving.data.functionVersion}` };
  const reason = typeof event.reason === 'string' && event.reason !== '' ? event.reason : 'no reason given';
  try {
    const done = await rollback({ reason: `health alarm ${alarm} right after release ${serving.id}: ${reason}` }, deps, config);
    return { rolledBack: true, modelVersionId: done.modelVersionId, incidentId: done.incidentId };
  } catch (err) {
    if (err instanceof NothingToRollBackError) return { rolledBack: false, skipped: 'nothing-to-roll-back', detail: err.message };
    throw err;
  }
}
