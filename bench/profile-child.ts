/* Profiles one CSV in a fresh process and prints {seconds, maxRssMiB, rows} (bench/profile.ts runs it). */
import { createReadStream } from 'node:fs';
import { profileDelimited } from '../lambdas/core/profile/readers';

const file = process.argv[2]!;
const t0 = performance.now();
profileDelimited(createReadStream(file, { highWaterMark: 1 << 20 }), { file })
  .then((p) => {
    const summary = p.summary(); // what the gate computes from the profile: quantiles, histograms, top values
    const seconds = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({ seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, rows: summary.rows }));
  })
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
