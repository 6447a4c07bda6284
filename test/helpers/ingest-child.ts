/*
 * Runs the ingest handler in its own process, so the test can read this
 * process's peak memory honestly. Environment: the function's (from the
 * template) plus INGEST_WARMUP_EVENT and INGEST_EVENT (JSON).
 * Prints one JSON line: { outcome, rssBeforeKiB, rssPeakKiB }.
 */
import type { Context } from 'aws-lambda';
import { handler } from '../../lambdas/ingest/index';

const context = { functionName: 'ingest', awsRequestId: 'child', getRemainingTimeInMillis: () => 900_000 } as Context;

async function main(): Promise<void> {
  // Warm up on a small file: modules loaded, clients connected, JIT warm.
  await handler(JSON.parse(process.env.INGEST_WARMUP_EVENT!), context);
  const rssBeforeKiB = process.resourceUsage().maxRSS;
  const outcome: unknown = await handler(JSON.parse(process.env.INGEST_EVENT!), context);
  const rssPeakKiB = process.resourceUsage().maxRSS;
  process.stdout.write(`${JSON.stringify({ outcome, rssBeforeKiB, rssPeakKiB })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
