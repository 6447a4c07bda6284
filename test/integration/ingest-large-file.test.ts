import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectCreatedEvent, uploadWithEvent } from '../../bin/local/s3-events';
import { startLocal, type LocalEnvironment } from '../helpers/local';

const SIZE_MB = 320;
let env: LocalEnvironment;
let dir: string;

beforeAll(async () => {
  env = await startLocal();
  dir = mkdtempSync(path.join(tmpdir(), 'cdk-mlops-large-'));
});
afterAll(async () => {
  await env?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[], extraEnv: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 240_000);
    p.on('error', reject);
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A CSV of about `mb` MiB: varied rows, so the hash covers real content. */
async function writeCsv(file: string, mb: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('id,wage,education,gender,race\n');
  const genders = ['female', 'male'];
  const races = ['white', 'hispanic', 'other'];
  let id = 0;
  for (let block = 0; block < mb; block++) {
    const rows: string[] = [];
    let bytes = 0;
    while (bytes < 1024 * 1024) {
      const row = `${id},${((id * 7919) % 4400) / 100 + 1},${id % 18},${genders[id % 2]},${races[id % 3]}\n`;
      rows.push(row);
      bytes += row.length;
      id++;
    }
    if (!out.write(rows.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

describe('ingest of a large file', () => {
  it(`hashes a ${SIZE_MB} MB file in one stream, with bounded peak memory`, async () => {
    // Prepare: the file on disk and in S3, and its hash by coreutils
    const file = path.join(dir, 'big.csv');
    await writeCsv(file, SIZE_MB);
    const size = statSync(file).size;
    const expected = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
    const key = 'data/big/big.csv';
    const put = await env.s3.send(new PutObjectCommand({ Bucket: env.dataBucket, Key: key, Body: createReadStream(file), ContentLength: size }));
    const warmup = await uploadWithEvent(env.s3, { Bucket: env.dataBucket, Key: 'data/big/warmup.csv', Body: 'a,b\n1,2\n' });

    // Act: the handler in a child process, with the function's own environment
    // (asynchronous: the emulators serve from this process, so it must not block)
    const child = await run(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'helpers', 'ingest-child.ts')], {
      ...env.stack.functionEnvironment(env.ingestFunctionId),
      INGEST_WARMUP_EVENT: JSON.stringify(warmup),
      INGEST_EVENT: JSON.stringify(objectCreatedEvent(env.dataBucket, key, size, put.ETag, put.VersionId)),
    });
    expect(child.status, child.stderr).toBe(0);
    const { outcome, rssBeforeKiB, rssPeakKiB } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { outcome: { status: string; sha256: string; size: number }; rssBeforeKiB: number; rssPeakKiB: number };

    // Assess: the same hash as sha256sum, and memory that did not grow with the file
    expect(outcome).toMatchObject({ status: 'accepted', sha256: expected, size });
    const grewMiB = (rssPeakKiB - rssBeforeKiB) / 1024;
    console.log(`ingest of ${(size / 2 ** 20).toFixed(0)} MiB: peak RSS ${(rssPeakKiB / 1024).toFixed(0)} MiB, grew ${grewMiB.toFixed(1)} MiB while hashing`);
    expect(grewMiB).toBeLessThan(48);
    expect(rssPeakKiB / 1024).toBeLessThan(size / 2 ** 20);
  }, 300_000);
});
