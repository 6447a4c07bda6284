/*
 * Profiles one CSV in a fresh process and prints {seconds, maxRssMiB, rows}
 * (bench/profile.ts runs it). Threads: 1 = the one-pass reader on this thread;
 * N > 1 = profileInParallel with N worker threads (what the validation gate
 * does when its memory buys several vCPUs).
 */
import { createReadStream } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { profileInParallel } from '../lambdas/core/profile/parallel';
import { profileDelimited } from '../lambdas/core/profile/readers';

// Bundled, this file is also the workers' script: only the main thread runs the benchmark.
if (isMainThread) {
  const file = process.argv[2]!;
  const threads = Number(process.argv[3] ?? 1);
  const t0 = performance.now();
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  (threads > 1 ? profileInParallel(source, { file, format: 'csv', workers: threads }) : profileDelimited(source, { file }))
    .then((p) => {
      const summary = p.summary(); // what the gate computes from the profile: quantiles, histograms, top values
      const seconds = (performance.now() - t0) / 1000;
      console.log(JSON.stringify({ seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, rows: summary.rows }));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
