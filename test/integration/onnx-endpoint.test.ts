import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpsRows } from '../../bin/local/sample-data';
import { endpointSubject } from '../../lambdas/core/deployment';
import { deterministicId, sealRecord, sha256Hex } from '../../lambdas/core/lineage';
import { releasedContractObject } from '../../lambdas/shared/contracts';
import { DynamoDbHttp } from '../../lambdas/shared/dynamodb-http';
import { LedgerReader } from '../../lambdas/shared/ledger-reader';
import { S3ModelArtifacts, type ObjectBytesReader } from '../../lambdas/shared/model-artifacts';
import { OnnxModel } from '../../lambdas/shared/onnx-model';
import { S3Http, S3HttpArtifacts } from '../../lambdas/shared/s3-http';
import { httpRequest } from '../../lambdas/onnx-endpoint/http';
import { endpointSettings, InferenceEndpoint, type EndpointSettings } from '../../lambdas/onnx-endpoint/serve';
import { startLocal, type LocalEnvironment } from '../helpers/local';
import { recordTestModel, referenceScore, type RecordedTestModel } from '../helpers/models';

/*
 * The ONNX endpoint's logic with the clients its Lambda uses (signed HTTP
 * without the SDK: shared/aws-http.ts) on s3rver and dynalite, real models
 * from the example trainer, onnxruntime-node scoring them. The expected scores
 * are computed here from the trained weights, not by onnxruntime.
 */

let env: LocalEnvironment;
let model: RecordedTestModel;
const GENDER = { female: 1, male: 0 };
/** The contract a release of the test model fixed (as the deployer writes it): education ≤ 30. */
let releasedKey: string;

beforeAll(async () => {
  env = await startLocal();
  model = await recordTestModel(env, { name: 'edu-gender', features: ['education', 'experience', { column: 'gender', categories: GENDER }] });
  const released = releasedContractObject('wages', { dataset: 'cps-wages', contract: { version: 1, columns: { education: { type: 'integer', nullable: false, min: 0, max: 30 }, experience: { type: 'integer', min: 0 }, gender: { type: 'string', allowedValues: ['female', 'male'] } } } });
  await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: released.key, Body: released.body }));
  releasedKey = released.key;
}, 120_000);
afterAll(async () => env?.stop());

/** The S3 reads of model artifacts, as (bucket, key, version) — to see which downloads happened. */
let downloads: string[] = [];

function endpoint(settings: Partial<EndpointSettings> = {}): InferenceEndpoint {
  const s3 = S3Http.fromEnvironment(env.emulators.env);
  const objects: ObjectBytesReader = {
    getBytes: (bucket, key, versionId) => {
      downloads.push(`s3://${bucket}/${key}${versionId ? `?versionId=${versionId}` : ''}`);
      return s3.getBytes(bucket, key, versionId);
    },
  };
  return new InferenceEndpoint(
    { ...endpointSettings({ ENDPOINT_NAME: 'wages', CONTRACTS_PREFIX: 'contracts/' }), modelVersionId: model.model.id, contractKey: releasedKey, ...settings },
    { ledger: new LedgerReader(DynamoDbHttp.fromEnvironment(env.emulators.env), env.tableName, { s3, bucket: env.ledgerBucket }), models: new S3ModelArtifacts(objects), artifacts: new S3HttpArtifacts(s3, env.artifactsBucket), loadModel: (bytes, signature) => OnnxModel.load(bytes, signature) },
  );
}

const post = (body: unknown, requestId: string = crypto.randomUUID()) => ({ method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), contentType: 'application/json', requestId });

describe('OnnxEndpoint handler logic', () => {
  it('predicts what the trained weights say, for every CPS row, as rows and as columns', async () => {
    // Prepare
    const rows = cpsRows();
    const expected = rows.map((r) => referenceScore(model.trained, [r.education, r.experience, GENDER[r.gender as keyof typeof GENDER]]));
    const e = endpoint();
    // Act
    const asRows = await e.handle(post({ rows: rows.map((r) => ({ education: r.education, experience: r.experience, gender: r.gender, wage: r.wage })) }));
    const asColumns = await e.handle(post({ columns: { education: rows.map((r) => r.education), experience: rows.map((r) => r.experience), gender: rows.map((r) => r.gender) } }));
    // Assess
    for (const { response } of [asRows, asColumns]) {
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-model-version-id']).toBe(model.model.id);
      const body = JSON.parse(response.body) as { modelVersionId: string; predictions: number[] };
      expect(body.modelVersionId).toBe(model.model.id);
      expect(body.predictions).toHaveLength(534);
      body.predictions.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 5)); // float32 model vs float64 arithmetic
    }
    expect(asRows.observation).toMatchObject({ outcome: 'served', rows: 534, summary: { count: 534 } });
    // the whole training set scores, on average, what training measured: no shift
    expect((asRows.observation as { shift: number }).shift).toBeLessThan(1e-4);
    // a container reports its shift only once it scored enough rows (SHIFT_MIN_ROWS)
    const fresh = endpoint({ shiftMinRows: 3 });
    expect((await fresh.handle(post({ rows: rows.slice(0, 2).map((r) => ({ education: r.education, experience: r.experience, gender: r.gender })) }))).observation).not.toHaveProperty('shift');
    const third = await fresh.handle(post({ rows: rows.slice(2, 3).map((r) => ({ education: r.education, experience: r.experience, gender: r.gender })) }));
    const mean = (expected[0]! + expected[1]! + expected[2]!) / 3;
    expect((third.observation as { shift: number }).shift).toBeCloseTo(Math.abs(mean - model.trained.meanScore), 5);
  });

  it.each([
    ['not JSON', 400, 'body', 'rows: 1', /^not JSON/],
    ['wrong shape', 400, 'rows', { rows: { education: 1 } }, /^expected a list of row objects/],
    ['wrong type', 400, 'rows[0].education', { rows: [{ education: 'twelve', experience: 1, gender: 'male' }] }, /"twelve" is not a decimal number/],
    ['NaN', 400, 'rows[0].education', { rows: [{ education: 'NaN', experience: 1, gender: 'male' }] }, /"NaN" is not a finite number/],
    ['missing feature', 400, 'rows[0].experience', { rows: [{ education: 12, gender: 'male' }] }, /^missing value$/],
    ['outside the contract', 400, 'rows[0].experience', { rows: [{ education: 12, experience: -3, gender: 'male' }] }, /below the contract's min 0/],
    ['not an allowed value', 400, 'rows[0].gender', { rows: [{ education: 12, experience: 3, gender: 'other' }] }, /not one of the contract's allowed values \(female, male\)/],
    ['too many rows', 413, 'rows', { rows: Array.from({ length: 11 }, () => ({ education: 1, experience: 1, gender: 'male' })) }, /^11 rows, over the limit of 10 per request$/],
    ['too large', 413, 'body', { rows: [{ education: 1, experience: 1, gender: 'male', note: 'x'.repeat(3000) }] }, /bytes, over the limit of 2048$/],
  ])('%s -> %i naming %s', async (_case, status, field, body, message) => {
    const { response, observation } = await endpoint({ limits: { maxRows: 10, maxBodyBytes: 2048 } }).handle(post(body));
    expect(response.statusCode).toBe(status);
    const errors = (JSON.parse(response.body) as { errors: { field: string; message: string }[] }).errors;
    expect(errors[0]!.field).toBe(field);
    expect(errors[0]!.message).toMatch(message);
    expect(observation).toEqual({ outcome: 'rejected', statusCode: status });
  });

  it('answers GET with the model it serves and refuses other methods (405)', async () => {
    const e = endpoint();
    const info = await e.handle({ method: 'GET', requestId: 'r' });
    expect(JSON.parse(info.response.body)).toMatchObject({ endpoint: 'wages', modelVersionId: model.model.id, contract: 'cps-wages', signature: { features: ['education', 'experience', { column: 'gender' }] } });
    expect((await e.handle({ method: 'DELETE', requestId: 'r' })).response).toMatchObject({ statusCode: 405, headers: { allow: 'GET, POST' } });
  });

  it('refuses to serve a model whose file was replaced after it was recorded (503, integrity), for every request', async () => {
    // Prepare: a second model, then its file overwritten with the first model's bytes
    const victim = await recordTestModel(env, { name: 'tampered', features: ['education'] });
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: victim.key, Body: model.trained.onnx }));
    const e = endpoint({ modelVersionId: victim.model.id });
    // Act
    const first = await e.handle(post({ rows: [{ education: 12 }] }));
    const second = await e.handle(post({ rows: [{ education: 12 }] }));
    // Assess
    for (const r of [first, second]) {
      expect(r.response.statusCode).toBe(503);
      expect(JSON.parse(r.response.body)).toMatchObject({ error: 'ModelIntegrityError', message: expect.stringMatching(new RegExp(`^model ${victim.model.id}: .* has SHA-256 [0-9a-f]{64}, but the ledger recorded ${victim.model.data.artifact.sha256}; refusing to run it$`)) });
      expect(r.observation).toEqual({ outcome: 'unavailable', integrity: true });
    }
  });

  it('refuses a model whose bytes were replaced and whose record was rewritten to match them in one PutItem (503, the record differs from its WORM copy)', async () => {
    // Prepare: the attack of the audit: other bytes at the victim's key, and its ModelVersion item rewritten with their hash
    const victim = await recordTestModel(env, { name: 'swapped', features: ['education'] });
    const other = await recordTestModel(env, { name: 'swapped-other', features: ['education'], iterations: 5 });
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: victim.key, Body: other.trained.onnx }));
    const item = (await env.ddb.send(new GetCommand({ TableName: env.tableName, Key: { pk: `REC#${victim.model.id}`, sk: 'REC' } }))).Item!;
    const forged = { ...victim.model, data: { ...victim.model.data, artifact: { ...victim.model.data.artifact, sha256: sha256Hex(other.trained.onnx) } } };
    await env.ddb.send(new PutCommand({ TableName: env.tableName, Item: { ...item, body: sealRecord(forged).body, recordHash: sealRecord(forged).hash } }));
    // Act
    const { response, observation } = await endpoint({ modelVersionId: victim.model.id }).handle(post({ rows: [{ education: 12 }] }));
    // Assess: nothing served, the reason named, counted as an integrity failure (the alarm)
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'LedgerIntegrityError', message: expect.stringContaining(`ledger record ${victim.model.id} in the table differs from its WORM copy`) });
    expect(observation).toEqual({ outcome: 'unavailable', integrity: true });
  });

  it('refuses a ModelVersion that has no WORM copy (written to the table alone)', async () => {
    const ghost = await recordTestModel(env, { name: 'ghost', features: ['education'] });
    await env.s3.send(new DeleteObjectCommand({ Bucket: env.ledgerBucket, Key: `ledger/records/${ghost.model.id}.json` }));
    const { response } = await endpoint({ modelVersionId: ghost.model.id }).handle(post({ rows: [{ education: 12 }] }));
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'LedgerIntegrityError', message: expect.stringContaining('has no WORM copy') });
  });

  it('serves what the ledger says serves when the version pins no model; 503 before anything is deployed', async () => {
    const e = endpoint({ modelVersionId: undefined, endpoint: 'fresh' });
    expect((await e.handle(post({ rows: [{ education: 12, experience: 1, gender: 'male' }] }))).response).toMatchObject({ statusCode: 503, body: expect.stringContaining("no model is deployed to endpoint 'fresh' yet") });
    await env.ledger().append({ kind: 'Deployment', id: deterministicId('dp', 'fresh', '1'), subject: endpointSubject('fresh'), parents: [model.model.id], data: { endpoint: 'fresh', modelVersionId: model.model.id, strategy: 'all-at-once', reason: 'initial', status: 'succeeded', contractKey: releasedKey } });
    // "no model yet" is not cached: the next request finds the deployment
    const served = await e.handle(post({ rows: [{ education: 12, experience: 1, gender: 'male' }] }));
    expect(served.response.statusCode).toBe(200);
    expect(served.response.headers['x-model-version-id']).toBe(model.model.id);
  });

  it('captures a sample of requests as JSON Lines under captures/<endpoint>/, rows with their predictions', async () => {
    const e = endpoint({ captureSampleRate: 1, capturePrefix: 'captures/wages/' });
    const { response, observation } = await e.handle(post({ rows: [{ education: 12, experience: 3, gender: 'female' }, { education: 16, experience: 10, gender: 'male' }] }, 'req-capture-1'));
    expect(observation).toMatchObject({ captured: true });
    const listed = await env.s3.send(new ListObjectsV2Command({ Bucket: env.artifactsBucket, Prefix: 'captures/wages/' }));
    const key = listed.Contents!.map((c) => c.Key!).find((k) => k.endsWith('-req-capture-1.jsonl'))!;
    expect(key).toMatch(/^captures\/wages\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{8}T\d{9}Z-req-capture-1\.jsonl$/);
    const lines = (await (await env.s3.send(new GetObjectCommand({ Bucket: env.artifactsBucket, Key: key }))).Body!.transformToString()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const predictions = (JSON.parse(response.body) as { predictions: number[] }).predictions;
    expect(lines).toEqual([
      { education: 12, experience: 3, gender: 'female', __prediction: predictions[0], __model_version: model.model.id, __time: expect.any(String) },
      { education: 16, experience: 10, gender: 'male', __prediction: predictions[1], __model_version: model.model.id, __time: expect.any(String) },
    ]);
    // rate 0: nothing captured
    expect((await endpoint({ captureSampleRate: 0 }).handle(post({ rows: [{ education: 12, experience: 3, gender: 'female' }] }))).observation).toMatchObject({ captured: false });
  });

  it('reads Function URL (2.0) and API Gateway (1.0) events, base64 bodies included', () => {
    expect(httpRequest({ body: Buffer.from('{"rows":[]}').toString('base64'), isBase64Encoded: true, headers: { 'Content-Type': 'application/json' }, requestContext: { requestId: 'abc', http: { method: 'post' } } }, 'x')).toEqual({ method: 'POST', body: '{"rows":[]}', contentType: 'application/json', requestId: 'abc' });
    expect(httpRequest({ body: null, httpMethod: 'GET', headers: null, requestContext: {} }, 'fallback')).toEqual({ method: 'GET', requestId: 'fallback' });
  });

  it('downloads the artifact the deployer pinned while it reads the ledger; a pin the ledger disagrees with is not used', async () => {
    // Prepare
    const uri = model.model.data.artifact.uri;
    const elsewhere = `s3://${env.artifactsBucket}/models/elsewhere.onnx`;
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: 'models/elsewhere.onnx', Body: Buffer.from('not the model') }));
    const request = post({ rows: [{ education: 12, experience: 3, gender: 'female' }] });
    // Act
    downloads = [];
    const pinned = await endpoint({ modelArtifact: { uri } }).handle(request);
    const pinnedDownloads = downloads;
    downloads = [];
    const misPinned = await endpoint({ modelArtifact: { uri: elsewhere } }).handle(request);
    // Assess: one download when the pin is right; when it is wrong, the ledger's location is read too, and its bytes are what serves
    expect(pinned.response.statusCode).toBe(200);
    expect(pinnedDownloads).toEqual([uri]);
    expect(misPinned.response.statusCode).toBe(200);
    expect(downloads).toEqual([elsewhere, uri]);
    expect(JSON.parse(misPinned.response.body)).toEqual(JSON.parse(pinned.response.body));
    expect(endpointSettings({ ENDPOINT_NAME: 'e', MODEL_VERSION_ID: 'mv', MODEL_ARTIFACT_URI: uri, MODEL_ARTIFACT_VERSION_ID: 'v9' }).modelArtifact).toEqual({ uri, versionId: 'v9' });
    expect(endpointSettings({ ENDPOINT_NAME: 'e', MODEL_ARTIFACT_URI: uri })).not.toHaveProperty('modelArtifact'); // only beside a pinned model
  });

  it('checks requests against the contract the release fixed (one JSON read, no ledger walk); a missing or replaced one refuses to serve', async () => {
    // Prepare: the release fixed a stricter contract than the dataset's current one (education ≤ 20, not 30)
    const { key, body } = releasedContractObject('wages', { dataset: 'cps-wages', contract: { version: 1, columns: { education: { type: 'integer', nullable: false, min: 0, max: 20 } } } });
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: key, Body: body }));
    const row = { rows: [{ education: 25, experience: 3, gender: 'female' }] };
    // Act
    const fixed = await endpoint({ contractKey: key }).handle(post(row));
    const missing = await endpoint({ contractKey: 'releases/wages/contracts/none.json' }).handle(post(row));
    // replaced after the release: its bytes no longer match the hash its key names, so it is not used
    const replacedKey = `releases/wages/contracts/${'0'.repeat(64)}.json`;
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: replacedKey, Body: body }));
    const replaced = await endpoint({ contractKey: replacedKey }).handle(post(row));
    // Assess
    expect(fixed.response.statusCode).toBe(400);
    expect(JSON.parse(fixed.response.body)).toMatchObject({ errors: [{ field: 'rows[0].education', message: "25 is above the contract's max 20" }] });
    // fail closed: never the editable contracts/<dataset>.yaml, never no contract
    for (const [r, why] of [[missing, /the released contract s3:\/\/.+\/releases\/wages\/contracts\/none\.json is missing$/], [replaced, /the released contract is not what the release fixed: .*its SHA-256 is [0-9a-f]{64}, not the one its key names/]] as const) {
      expect(r.response.statusCode).toBe(503);
      expect(JSON.parse(r.response.body)).toMatchObject({ error: 'ContractIntegrityError', message: expect.stringMatching(why) });
      expect(r.observation).toEqual({ outcome: 'unavailable', integrity: true });
    }
    const none = await endpoint({ contractKey: undefined }).handle(post(row));
    expect(JSON.parse(none.response.body)).toMatchObject({ error: 'ContractIntegrityError', message: expect.stringContaining('its release fixed no contract, and this endpoint checks one') });
    expect(JSON.parse((await endpoint({ contractKey: key }).handle({ method: 'GET', requestId: 'g' })).response.body)).toMatchObject({ contract: 'cps-wages' });
    expect(endpointSettings({ ENDPOINT_NAME: 'e', MODEL_VERSION_ID: 'mv', MODEL_CONTRACT_KEY: key }).contractKey).toBe(key);
    expect(endpointSettings({ ENDPOINT_NAME: 'e', MODEL_CONTRACT_KEY: key })).not.toHaveProperty('contractKey'); // only beside a pinned model
  });

  it("a version no release pinned reads what the serving Deployment names: the contract its release fixed, the artifact's location", async () => {
    // Prepare: endpoint 'unpinned' (a version `cdk deploy` published: no pins) serves a release that fixed education ≤ 20;
    // the dataset's contract says ≤ 30. Endpoint 'before' serves a release recorded without either; 'misnamed' names
    // another object as the artifact.
    const { key, body } = releasedContractObject('unpinned', { dataset: 'cps-wages', contract: { version: 1, columns: { education: { type: 'integer', nullable: false, min: 0, max: 20 } } } });
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: key, Body: body }));
    const uri = model.model.data.artifact.uri;
    const elsewhere = `s3://${env.artifactsBucket}/models/elsewhere.onnx`;
    await env.s3.send(new PutObjectCommand({ Bucket: env.artifactsBucket, Key: 'models/elsewhere.onnx', Body: Buffer.from('not the model') }));
    const deployment = (endpointName: string, named: { contractKey?: string; modelArtifact?: { uri: string } }) => env.ledger().append({ kind: 'Deployment', id: deterministicId('dp', endpointName, '1'), subject: endpointSubject(endpointName), parents: [model.model.id], data: { endpoint: endpointName, modelVersionId: model.model.id, strategy: 'codedeploy:CodeDeployDefault.LambdaAllAtOnce', reason: 'initial', status: 'succeeded', functionVersion: '2', ...named } });
    await deployment('unpinned', { contractKey: key, modelArtifact: { uri } });
    await deployment('before', {});
    await deployment('misnamed', { modelArtifact: { uri: elsewhere }, contractKey: releasedKey });
    const row = { rows: [{ education: 25, experience: 3, gender: 'female' }] };
    // Act
    downloads = [];
    const fixed = await endpoint({ modelVersionId: undefined, endpoint: 'unpinned' }).handle(post(row));
    const fixedDownloads = downloads;
    downloads = [];
    const before = await endpoint({ modelVersionId: undefined, endpoint: 'before' }).handle(post(row));
    downloads = [];
    const misnamed = await endpoint({ modelVersionId: undefined, endpoint: 'misnamed' }).handle(post(row));
    // Assess
    expect(fixed.response.statusCode).toBe(400);
    expect(JSON.parse(fixed.response.body)).toMatchObject({ errors: [{ field: 'rows[0].education', message: "25 is above the contract's max 20" }] });
    expect(fixedDownloads).toEqual([uri]); // one download: the Deployment's location, which the record agreed with
    expect(before.response).toMatchObject({ statusCode: 503, body: expect.stringContaining('its release fixed no contract') }); // nothing to check against: refused
    expect(misnamed.response.statusCode).toBe(200); // the record decides: its artifact is read too, and serves
    expect(downloads).toEqual([elsewhere, uri]);
  });

  it('reads the ledger as LedgerStore does, and S3 objects as the SDK wrote them (signed HTTP on the emulators)', async () => {
    // Prepare
    const reader = new LedgerReader(DynamoDbHttp.fromEnvironment(env.emulators.env), env.tableName);
    const s3 = S3Http.fromEnvironment(env.emulators.env);
    // Act, Assess: records by id and by subject, oldest first
    expect(await reader.get(model.model.id)).toEqual(await env.ledger().get(model.model.id));
    expect(await reader.get('no-such-record')).toBeUndefined();
    expect(await reader.history('pipeline/test')).toEqual(await env.ledger().history('pipeline/test'));
    expect((await reader.history('pipeline/test')).length).toBeGreaterThan(0);
    // objects: the SDK's upload read back byte for byte; a missing key is no text; a write is read back by the SDK
    const bytes = await s3.getBytes(env.artifactsBucket, model.key);
    expect(Buffer.compare(bytes, Buffer.from(model.trained.onnx))).toBe(0);
    expect(await s3.getText(env.artifactsBucket, 'contracts/none.yaml')).toBeUndefined();
    expect(await s3.putIfAbsent(env.artifactsBucket, 'tmp/ü x.txt', 'written', 'text/plain')).toBe(true);
    expect(await (await env.s3.send(new GetObjectCommand({ Bucket: env.artifactsBucket, Key: 'tmp/ü x.txt' }))).Body!.transformToString()).toBe('written');
    await expect(s3.getBytes('no-such-bucket', 'k')).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('names the variable of a bad setting', () => {
    expect(() => endpointSettings({ ENDPOINT_NAME: 'x', CAPTURE_SAMPLE_RATE: '2' })).toThrow("environment CAPTURE_SAMPLE_RATE: expected a number from 0 to 1 (got '2')");
    expect(() => endpointSettings({})).toThrow('environment ENDPOINT_NAME is not set');
  });
});
