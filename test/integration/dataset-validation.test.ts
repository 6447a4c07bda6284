import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadWithEvent } from '../../bin/local/s3-events';
import { cpsCsv, cpsJsonLines, cpsParquet, cpsRows } from '../../bin/local/sample-data';
import { runStateMachine } from '../../bin/local/state-machine';
import { DatasetProfile, type DatasetProfileState } from '../../lambdas/core/profile/dataset-profile';
import { profileDelimited } from '../../lambdas/core/profile/readers';
import type { IngestOutcome } from '../../lambdas/ingest/ingest';
import { startLocal, type LocalEnvironment } from '../helpers/local';

/*
 * The DatasetValidation state machine from the synthesized template, run by
 * aws-local-stepfunctions on s3rver + dynalite with the bundled Lambdas. Shards
 * are made tiny (4 KiB above 8 KiB) so the 534-row CPS files split into several.
 * The Distributed Map runs as an inline Map over the same items.
 */

let env: LocalEnvironment;
beforeAll(async () => {
  env = await startLocal({ bundle: true, context: { 'cdk-mlops:shardThresholdKiB': 8, 'cdk-mlops:shardSizeKiB': 4 } });
}, 180_000);
afterAll(async () => env?.stop());

async function ingest(key: string, body: string | Uint8Array): Promise<string> {
  const event = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: key, Body: body });
  const [invocation] = (await env.stack.putEvent(event)).filter((i) => i.functionId === env.ingestFunctionId);
  if (invocation?.error) throw invocation.error;
  return (invocation!.result as IngestOutcome).recordId;
}

const run = (input: unknown, options?: Parameters<typeof runStateMachine>[3]) => runStateMachine(env.stack, env.datasetValidationId, input, options);
const storedProfile = async (key: string) => DatasetProfile.fromJSON(JSON.parse(await (await env.s3.send(new GetObjectCommand({ Bucket: env.artifactsBucket, Key: key }))).Body!.transformToString()) as DatasetProfileState);

async function* once(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

describe('DatasetValidation (Distributed Map run as an inline Map)', () => {
  it('profiles a CSV in shards, merges them, and the gate judges the merged profile', async () => {
    const dsv = await ingest('data/shards/cps.csv', cpsCsv());
    const { output, invocations } = await run({ datasetVersionId: dsv });
    const out = output as any;
    expect(out.plan.sharded).toBe(true);
    expect(out.plan.shards.length).toBeGreaterThanOrEqual(4);
    expect(invocations.filter((i) => i.state === 'Profile shard')).toHaveLength(out.plan.shards.length);
    expect(out.sharding).toMatchObject({ merged: true, rows: 534 });
    expect(out.validation).toMatchObject({ passed: true, datasetVersionId: dsv });

    // the merged profile is the one-pass profile (counts exactly, moments to rounding)
    const merged = await storedProfile(out.sharding.profileUri.replace(`s3://${env.artifactsBucket}/`, ''));
    const single = await profileDelimited(once(cpsCsv()), { file: 'cps.csv' });
    for (const name of ['wage', 'education', 'gender']) {
      const a = merged.column(name).summary();
      const b = single.column(name).summary();
      expect(a.count, name).toBe(b.count);
      expect(a.missing, name).toBe(b.missing);
      expect(a.numeric?.min, name).toBe(b.numeric?.min);
      expect(a.numeric?.max, name).toBe(b.numeric?.max);
      if (b.numeric) expect(a.numeric!.mean).toBeCloseTo(b.numeric.mean, 10);
    }
    const report = JSON.parse(await (await env.s3.send(new GetObjectCommand({ Bucket: env.artifactsBucket, Key: out.validation.reportUri.replace(`s3://${env.artifactsBucket}/`, '') }))).Body!.transformToString());
    expect(report.profileSource).toBe('stored');
  });

  it('shards JSON Lines by bytes and Parquet by row groups', async () => {
    const jsonl = (await run({ datasetVersionId: await ingest('data/shards-jsonl/cps.jsonl', cpsJsonLines()) })).output as any;
    expect(jsonl.plan.sharded).toBe(true);
    expect(jsonl.sharding).toMatchObject({ merged: true, rows: 534 });
    const parquet = (await run({ datasetVersionId: await ingest('data/shards-parquet/cps.parquet', await cpsParquet(cpsRows(), { rowGroupSize: 100 })) })).output as any;
    expect(parquet.plan.sharded).toBe(true);
    expect(parquet.plan.shards[0]).toMatchObject({ index: 0, rowStart: 0 });
    expect(parquet.sharding).toMatchObject({ merged: true, rows: 534 });
    expect(parquet.validation.passed).toBe(true);
  });

  it('profiles a small version in one pass, in the gate', async () => {
    const dsv = await ingest('data/shards-small/tiny.csv', 'a,b\n1,2\n');
    const { output, invocations } = await run({ datasetVersionId: dsv });
    expect((output as any).plan).toMatchObject({ sharded: false, reason: expect.stringMatching(/not above the sharding threshold \(8192 bytes\)$/) });
    expect(invocations.map((i) => i.state)).toEqual(['Plan shards', 'Validate']);
  });

  it('refuses shards cut inside a quoted value with a newline, and the gate profiles the file itself', async () => {
    // most of each row is a quoted value before its newline, so shard starts land inside it
    const rows = cpsRows().map((r, i) => ({ ...r, note: `${'x'.repeat(80)} "quoted" ${i}\nsecond line` }));
    const csv = ['wage,education,gender,note', ...rows.map((r) => `${r.wage},${r.education},${r.gender},"${r.note.replace(/"/g, '""')}"`)].join('\n') + '\n';
    const { output } = await run({ datasetVersionId: await ingest('data/shards-quoted/notes.csv', csv) });
    const out = output as any;
    expect(out.sharding.merged).toBe(false);
    expect(out.sharding.reason).toMatch(/is cut inside a quoted value that contains a newline/);
    expect(out.validation.passed).toBe(true);
    const report = JSON.parse(await (await env.s3.send(new GetObjectCommand({ Bucket: env.artifactsBucket, Key: out.validation.reportUri.replace(`s3://${env.artifactsBucket}/`, '') }))).Body!.transformToString());
    expect(report).toMatchObject({ profileSource: 'computed', summary: { rows: 534 } });
  });

  it('a malformed row in one shard: the gate reports it with its true row number', async () => {
    const lines = cpsCsv().split('\n');
    lines[400] = '1,2,3';
    const { output } = await run({ datasetVersionId: await ingest('data/shards-bad/cps.csv', lines.join('\n')) });
    const out = output as any;
    expect(out.sharding).toMatchObject({ merged: false, reason: expect.stringMatching(/^shard \d+: .*expected 11 fields/) });
    expect(out.validation).toMatchObject({ passed: false, reason: `s3://${env.dataBucket}/data/shards-bad/cps.csv, row 401, column 'age': expected 11 fields (as the header), found 3` });
  });

  it('retries a failing shard, then falls back to one pass when it keeps failing (fault injection)', async () => {
    const dsv = await ingest('data/shards-faults/cps.csv', cpsCsv());
    let calls = 0;
    const { output, events } = await run(
      { datasetVersionId: dsv },
      {
        taskOverrides: {
          'Profile shard': async () => {
            calls++;
            throw Object.assign(new Error('Task timed out after 900.00 seconds'), { name: 'Sandbox.Timedout' });
          },
        },
      },
    );
    const out = output as any;
    expect(calls).toBeGreaterThanOrEqual(4); // the first shard: 1 try + 3 retries (others may have started too)
    expect(events.some((e: any) => e.type === 'StateRetried')).toBe(true);
    expect(out.sharding).toMatchObject({ Error: 'Sandbox.Timedout' });
    expect(out.validation.passed).toBe(true);
  });

  it('fails at once, without retries, for a dataset version the ledger does not have', async () => {
    let planCalls = 0;
    await expect(
      run(
        { datasetVersionId: 'dsv-missing' },
        {
          taskOverrides: {
            'Plan shards': async (input) => {
              planCalls++;
              return env.stack.invoke(env.profileShardsFunctionId, input);
            },
          },
        },
      ),
    ).rejects.toMatchObject({ cause: { name: 'InvalidEventError', message: "datasetVersionId: no DatasetVersion 'dsv-missing' in the ledger" } });
    expect(planCalls).toBe(1);
  });
});
