import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releasedContractObject } from '../../lambdas/shared/contracts';
import { DynamoDbHttp } from '../../lambdas/shared/dynamodb-http';
import { LedgerReader } from '../../lambdas/shared/ledger-reader';
import { S3ModelArtifacts } from '../../lambdas/shared/model-artifacts';
import { OnnxModel } from '../../lambdas/shared/onnx-model';
import { S3Http, S3HttpArtifacts } from '../../lambdas/shared/s3-http';
import { endpointSettings, InferenceEndpoint } from '../../lambdas/onnx-endpoint/serve';
import { startLocal, type LocalEnvironment } from '../helpers/local';
import { recordTestModel, referenceScore, type RecordedTestModel } from '../helpers/models';
import { motoAvailable } from '../helpers/moto';

/*
 * Models pinned by object version, on moto's server (S3 versioning as AWS has it): the ModelVersion
 * records the version its bytes were written as, and the endpoint loads exactly that version, so
 * other bytes written at the same key later (a role with write access to models/ can) are never served.
 */

const SUITE = 'model pinning conformance (moto)';
const run = motoAvailable(SUITE);

let env: LocalEnvironment;
let model: RecordedTestModel;
let releasedKey: string;

beforeAll(async () => {
  if (!run) return;
  env = await startLocal({ emulators: 'moto' });
  model = await recordTestModel(env, { name: 'pinned', features: ['education', 'experience'] });
  const released = releasedContractObject('wages', { dataset: 'cps-wages', contract: null });
  await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: released.key, Body: released.body }));
  releasedKey = released.key;
}, 240_000);
afterAll(async () => {
  await env?.stop();
});

function endpoint(downloads: string[]): InferenceEndpoint {
  const s3 = S3Http.fromEnvironment(env.emulators.env);
  const objects = {
    getBytes: (bucket: string, key: string, versionId?: string) => {
      downloads.push(`${key}${versionId ? `?versionId=${versionId}` : ''}`);
      return s3.getBytes(bucket, key, versionId);
    },
  };
  return new InferenceEndpoint(
    { ...endpointSettings({ ENDPOINT_NAME: 'wages', CONTRACTS_PREFIX: 'contracts/' }), modelVersionId: model.model.id, contractKey: releasedKey },
    { ledger: new LedgerReader(DynamoDbHttp.fromEnvironment(env.emulators.env), env.tableName, { s3, bucket: env.ledgerBucket }), models: new S3ModelArtifacts(objects), artifacts: new S3HttpArtifacts(s3, env.artifactsBucket), loadModel: (bytes, signature) => OnnxModel.load(bytes, signature) },
  );
}

describe.skipIf(!run)(SUITE, () => {
  it('records the object version of the model it wrote', () => {
    expect(model.model.data.artifact.versionId).toMatch(/\S+/);
  });

  it('serves the pinned version after other bytes were written at the key: the recorded model, read by its version', async () => {
    // Prepare: a new version at the model's key (not the model)
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: model.key, Body: Buffer.from('other bytes') }));
    const downloads: string[] = [];
    // Act
    const { response } = await endpoint(downloads).handle({ method: 'POST', body: JSON.stringify({ rows: [{ education: 12, experience: 3 }] }), contentType: 'application/json', requestId: 'r1' });
    // Assess
    expect(response.statusCode).toBe(200);
    expect((JSON.parse(response.body) as { predictions: number[] }).predictions[0]).toBeCloseTo(referenceScore(model.trained, [12, 3]), 5);
    expect(downloads).toEqual([`${model.key}?versionId=${model.model.data.artifact.versionId}`]);
  });
});
