/*
 * Profiling benchmark: the streaming profiler (lambdas/core/profile) against pandas
 * (read_csv + describe + quantiles + value_counts + nunique) on the same generated
 * 20-column CSV, each in a fresh process, in the same run. The profiler runs on
 * one thread and on one worker thread per core (profileInParallel, as the
 * validation gate does when its memory buys several vCPUs), bundled by esbuild
 * the way the Lambdas are (minified, keepNames) and run by plain node. Prints rows/s,
 * seconds, peak RSS and the throughput ratios. Installs Debian's python3-pandas if missing.
 *
 *   npm run bench:profile                       # 1M rows (all) and 5M rows (profiler RSS)
 *   BENCH_ROWS=1000000 BENCH_BIG_ROWS=0 npm run bench:profile
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BIG_ROWS = Number(process.env.BENCH_BIG_ROWS ?? 5_000_000);
const OUT = path.join(__dirname, 'out');
const PYTHON = '/usr/bin/python3'; // Debian's interpreter, which has python3-pandas (not pyenv's)

/** 20 columns: 12 continuous, 4 integer, 4 categorical (one high-cardinality), with some missing values. */
async function generate(rows: number): Promise<string> {
  const file = path.join(OUT, `profile-${rows}.csv`);
  if (existsSync(file) && statSync(file).size > rows * 50) return file;
  mkdirSync(OUT, { recursive: true });
  const out = createWriteStream(file);
  const header = [...Array.from({ length: 12 }, (_, i) => `x${i}`), 'age', 'education', 'experience', 'count', 'gender', 'race', 'sector', 'city'];
  out.write(header.join(',') + '\n');
  const races = ['white', 'hispanic', 'black', 'asian', 'other'];
  const sectors = ['manufacturing', 'construction', 'services', 'clerical', 'sales', 'professional', 'management', 'other'];
  let seed = 1;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  let batch: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let i = 0; i < 12; i++) cells.push(rnd() < 0.01 ? '' : ((rnd() - 0.3) * 1000 * (i + 1)).toFixed(3));
    cells.push(String(18 + Math.floor(rnd() * 50)), String(Math.floor(rnd() * 20)), String(Math.floor(rnd() * 45)), String(Math.floor(rnd() * 100000)));
    cells.push(rnd() < 0.5 ? 'female' : 'male', races[Math.floor(rnd() * races.length)]!, sectors[Math.floor(rnd() * sectors.length)]!, `city-${Math.floor(rnd() * 5000)}`);
    batch.push(cells.join(','));
    if (batch.length === 10_000) {
      if (!out.write(batch.join('\n') + '\n')) await once(out, 'drain');
      batch = [];
    }
  }
  if (batch.length) out.write(batch.join('\n') + '\n');
  out.end();
  await once(out, 'finish');
  return file;
}

interface Run {
  seconds: number;
  maxRssMiB: number;
  rows: number;
}

function run(cmd: string, args: string[]): Run {
  const res = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as Run;
}

/** The profiler as the Lambdas ship it: one esbuild bundle (which is also its workers' script). */
function bundleChild(): string {
  const out = path.join(OUT, 'profile-child.js');
  mkdirSync(OUT, { recursive: true });
  const esbuild = require.resolve('esbuild/bin/esbuild');
  execFileSync(esbuild, [path.join(__dirname, 'profile-child.ts'), '--bundle', '--platform=node', '--target=node20', '--format=cjs', '--minify', '--keep-names', `--outfile=${out}`, '--log-level=error'], { stdio: 'inherit' });
  return out;
}

function ensurePandas(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import pandas'], { encoding: 'utf8' });
  if (probe.status === 0) return;
  console.log('installing python3-pandas (Debian) for the baseline ...');
  execFileSync('apt-get', ['install', '-y', '-qq', 'python3-pandas'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

async function main(): Promise<void> {
  ensurePandas();
  const child = bundleChild();
  const threads = Math.max(2, availableParallelism());
  const ours = (file: string, n: number): Run => run(process.execPath, [child, file, String(n)]);
  const median = (f: () => Run): Run => [f(), f(), f()].sort((a, b) => a.seconds - b.seconds)[1]!;
  const file = await generate(ROWS);
  const mb = statSync(file).size / 1e6;
  const pandasRun = (): Run => run(PYTHON, [path.join(__dirname, 'pandas_profile.py'), file]);
  // one warm-up of each (page cache, module loading), then the measured runs, interleaved
  ours(file, 1);
  ours(file, threads);
  pandasRun();
  const single = median(() => ours(file, 1));
  const parallel = median(() => ours(file, threads));
  const pandas = median(pandasRun);
  const n = ROWS.toLocaleString('en');
  const rows: [string, Run][] = [
    [`profiler, 1 thread, ${n} rows`, single],
    [`profiler, ${threads} worker threads, ${n} rows`, parallel],
    [`pandas, ${n} rows`, pandas],
  ];
  let big: Run | undefined;
  if (BIG_ROWS > 0) {
    const bigFile = await generate(BIG_ROWS);
    big = ours(bigFile, threads);
    rows.push([`profiler, ${threads} worker threads, ${BIG_ROWS.toLocaleString('en')} rows`, big]);
    rows.push([`profiler, 1 thread, ${BIG_ROWS.toLocaleString('en')} rows`, ours(bigFile, 1)]);
  }
  console.log(`\nProfiling a 20-column CSV (${mb.toFixed(0)} MB at ${n} rows); median of 3 runs; Node ${process.version}, ${availableParallelism()} cores\n`);
  console.log('| run | seconds | rows/s | peak RSS (MiB) |');
  console.log('|---|---:|---:|---:|');
  for (const [name, r] of rows) console.log(`| ${name} | ${r.seconds.toFixed(2)} | ${Math.round(r.rows / r.seconds).toLocaleString('en')} | ${r.maxRssMiB.toFixed(0)} |`);
  const ratio = pandas.seconds / parallel.seconds;
  console.log(`\nthroughput vs pandas: ${ratio.toFixed(2)}× with ${threads} worker threads (target ≥ 1.5×: ${ratio >= 1.5 ? 'MET' : 'NOT MET'}); ${(pandas.seconds / single.seconds).toFixed(2)}× on 1 thread`);
  if (big) console.log(`peak RSS 1M → 5M rows (${threads} threads): ${parallel.maxRssMiB.toFixed(0)} → ${big.maxRssMiB.toFixed(0)} MiB (target: flat, < 300 MiB: ${big.maxRssMiB < 300 && big.maxRssMiB < parallel.maxRssMiB * 1.25 ? 'MET' : 'NOT MET'})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
