/*
 * Ingest hashing benchmark: SHA-256 + UTF-8 validation + head capture in one
 * stream (lambdas/core/digest.ts, the code the ingest Lambda runs) against
 * coreutils `sha256sum` on the same file, in the same run.
 *
 *   npm run bench:ingest                  # 512 MiB CSV, 5 runs each
 *   BENCH_MB=1024 BENCH_RUNS=3 npm run bench:ingest
 *
 * The file is read from the page cache in every run (one warm-up read first),
 * so both sides measure hashing, not the disk. Also reported: the same digest
 * without UTF-8 validation (binary formats such as Parquet), and the full
 * ingest path through the S3 emulator over HTTP (informational: s3rver serves
 * from this same process, so it competes for the CPU).
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startEmulators } from '../bin/local/emulators';
import { digestStream } from '../lambdas/core/digest';
import { s3Client } from '../lambdas/shared/clients';
import { S3ObjectReader } from '../lambdas/shared/s3-objects';
import { HEAD_BYTES } from '../lambdas/ingest/ingest';

const MB = Number(process.env.BENCH_MB ?? 512);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const OUT = path.join(__dirname, 'out');
const FILE = path.join(OUT, `ingest-${MB}mb.csv`);

async function makeFile(): Promise<void> {
  if (existsSync(FILE) && statSync(FILE).size >= MB * 2 ** 20) return;
  mkdirSync(OUT, { recursive: true });
  const out = createWriteStream(FILE);
  out.write('id,wage,education,gender,race,note\n');
  let id = 0;
  for (let block = 0; block < MB; block++) {
    const rows: string[] = [];
    let bytes = 0;
    while (bytes < 2 ** 20) {
      const row = `${id},${((id * 7919) % 4400) / 100 + 1},${id % 18},${id % 2 ? 'male' : 'female'},${['white', 'hispanic', 'other'][id % 3]},café ${id % 97}\n`;
      rows.push(row);
      bytes += Buffer.byteLength(row);
      id++;
    }
    if (!out.write(rows.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  await makeFile();
  const size = statSync(FILE).size;
  const mib = size / 2 ** 20;
  execFileSync('cat', [FILE], { maxBuffer: 2 * size + 1, stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache

  const expected = execFileSync('sha256sum', [FILE], { encoding: 'utf8' }).split(' ')[0];
  const results: { name: string; seconds: number }[] = [];
  const bench = async (name: string, fn: () => unknown): Promise<void> => {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await time(fn));
    results.push({ name, seconds: median(times) });
  };

  await bench('sha256sum (coreutils, baseline)', () => execFileSync('sha256sum', [FILE], { encoding: 'utf8' }));
  // A like-for-like reference: the same OpenSSL SHA-256 Node uses (SHA extensions where the CPU has them).
  const hasOpenssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (hasOpenssl) await bench('openssl dgst -sha256 (reference)', () => execFileSync('openssl', ['dgst', '-sha256', FILE], { encoding: 'utf8' }));
  await bench('digestStream: sha256 + UTF-8 + head (text)', async () => {
    const d = await digestStream(createReadStream(FILE, { highWaterMark: 2 ** 20 }), { validateUtf8: true, headBytes: HEAD_BYTES });
    if (d.sha256 !== expected || !d.utf8?.valid) throw new Error('digest mismatch');
  });
  await bench('digestStream: sha256 + head (binary)', async () => {
    const d = await digestStream(createReadStream(FILE, { highWaterMark: 2 ** 20 }), { validateUtf8: false, headBytes: HEAD_BYTES });
    if (d.sha256 !== expected) throw new Error('digest mismatch');
  });

  const emulators = await startEmulators();
  try {
    const s3 = s3Client(emulators.env);
    await s3.send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'bench' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'data/bench/file.csv', Body: createReadStream(FILE), ContentLength: size }));
    const reader = new S3ObjectReader(s3);
    const ref = { bucket: 'bench', key: 'data/bench/file.csv', versionId: null, etag: put.ETag!.replace(/"/g, ''), size, eventId: null, eventTime: null };
    await bench('via S3 GetObject from s3rver (same process)', async () => {
      const opened = await reader.open(ref);
      const d = await digestStream(opened!.body, { validateUtf8: true, headBytes: HEAD_BYTES });
      if (d.sha256 !== expected) throw new Error('digest mismatch');
    });
    s3.destroy();
  } finally {
    await emulators.stop();
  }

  const base = results[0]!.seconds;
  console.log(`\nIngest hashing, ${mib.toFixed(0)} MiB CSV, median of ${RUNS} runs (Node ${process.version}, ${process.arch})\n`);
  console.log('| method | seconds | MB/s | ratio vs sha256sum (throughput) |');
  console.log('|---|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${r.seconds.toFixed(3)} | ${(size / 1e6 / r.seconds).toFixed(0)} | ${(base / r.seconds).toFixed(2)}× |`);
  const ours = results.find((r) => r.name.startsWith('digestStream: sha256 + UTF-8'))!;
  console.log(`\ntarget ≥ 0.80× sha256sum for the text path: ${(base / ours.seconds).toFixed(2)}× ${base / ours.seconds >= 0.8 ? 'MET' : 'NOT MET'}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
