import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { findLogicalIdByPath, logicalIdByPath } from '../../bin/local/cloud-assembly';
import { startEmulators, type Emulators } from '../../bin/local/emulators';
import { LocalStack } from '../../bin/local/local-stack';
import { startMoto } from '../../bin/local/moto';
import { startLocalServing, type LocalServing } from '../../bin/local/serving';
import { synthesize } from '../../bin/local/synth';
import { dynamoDocumentClient, s3Client } from '../../lambdas/shared/clients';
import { LedgerStore } from '../../lambdas/shared/ledger-store';
import { SKIP_BUNDLING } from './stacks';

export interface LocalEnvironment {
  readonly emulators: Emulators;
  readonly stack: LocalStack;
  /** Lambda versions and aliases, CodeDeploy and CloudWatch alarms, locally (the Lambda and CodeDeploy APIs stay on 127.0.0.1). */
  readonly serving: LocalServing;
  readonly outdir: string;
  readonly s3: S3Client;
  readonly ddb: DynamoDBDocumentClient;
  readonly dataBucket: string;
  readonly artifactsBucket: string;
  /** The ledger's WORM copies. */
  readonly ledgerBucket: string;
  readonly tableName: string;
  readonly ingestFunctionId: string;
  readonly validationGateFunctionId: string;
  readonly biasGateFunctionId: string;
  readonly datasetValidationId: string;
  readonly profileShardsFunctionId: string;
  /** The TrainingPipeline's state machine, when the app has one. */
  readonly trainingPipelineId: string | undefined;
  /** A LedgerStore on the stack's table and bucket. */
  ledger(options?: Partial<ConstructorParameters<typeof LedgerStore>[0]>): LedgerStore;
  stop(): Promise<void>;
}

/** The bundled reference app the global setup synthesizes, once it is there. */
async function sharedBundledAssembly(): Promise<{ outdir: string; stackName: string }> {
  const dir = inject('bundledAssemblyDir');
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (existsSync(path.join(dir, 'failed.txt'))) throw new Error(readFileSync(path.join(dir, 'failed.txt'), 'utf8'));
    if (existsSync(path.join(dir, 'done.json'))) return { outdir: path.join(dir, 'out'), stackName: (JSON.parse(readFileSync(path.join(dir, 'done.json'), 'utf8')) as { stackName: string }).stackName };
    if (Date.now() > deadline) throw new Error(`the bundled reference app was not synthesized in 3 minutes (${dir})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Synthesizes the reference app (bundled or not), starts s3rver and dynalite on
 * ephemeral ports and creates the template's buckets and table in them.
 */
export async function startLocal(options: { bundle?: boolean; context?: Record<string, unknown>; serving?: Parameters<typeof startLocalServing>[1]; emulators?: 'embedded' | 'moto' } = {}): Promise<LocalEnvironment> {
  // the bundled app as cdk.json has it is synthesized once per run (test/global-setup.ts), read-only here
  const shared = options.bundle && options.context === undefined ? await sharedBundledAssembly() : undefined;
  const outdir = shared?.outdir ?? mkdtempSync(path.join(tmpdir(), 'cdk-mlops-test-'));
  const stackName = shared?.stackName ?? synthesize(outdir, { ...(options.bundle ? {} : SKIP_BUNDLING), ...options.context });
  const emulators = options.emulators === 'moto' ? await startMoto() : await startEmulators();
  const stack = await LocalStack.start({ outdir, stackName, emulators, functionEnv: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' } });
  const serving = await startLocalServing(stack, options.serving);
  const s3 = s3Client(emulators.env);
  const ddb = dynamoDocumentClient(emulators.env);
  const tableName = stack.output('LedgerTableName');
  const artifactsBucket = stack.output('ArtifactsBucketName');
  const ledgerBucket = stack.output('LedgerBucketName');
  return {
    emulators,
    stack,
    serving,
    outdir,
    s3,
    ddb,
    dataBucket: stack.output('DataBucketName'),
    artifactsBucket,
    ledgerBucket,
    tableName,
    ingestFunctionId: logicalIdByPath(stack.template, `${stackName}/Ingest/Function/Resource`),
    validationGateFunctionId: logicalIdByPath(stack.template, `${stackName}/ValidationGate/Function/Resource`),
    biasGateFunctionId: logicalIdByPath(stack.template, `${stackName}/BiasGate/Function/Resource`),
    datasetValidationId: logicalIdByPath(stack.template, `${stackName}/DatasetValidation/Resource`),
    profileShardsFunctionId: logicalIdByPath(stack.template, `${stackName}/DatasetValidation/ProfileShards/Function/Resource`),
    trainingPipelineId: findLogicalIdByPath(stack.template, `${stackName}/TrainingPipeline/Resource`),
    ledger: (o = {}) => new LedgerStore({ ddb, s3, tableName, wormBucket: ledgerBucket, ...o }),
    async stop() {
      s3.destroy();
      ddb.destroy();
      await serving.close();
      await emulators.stop();
      if (!shared) rmSync(outdir, { recursive: true, force: true });
    },
  };
}
