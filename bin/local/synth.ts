import { buildApp, cdkJsonContext } from '../app';

/**
 * Synthesizes the reference app into `outdir` in-process (same code, same
 * cdk-nag checks, same esbuild bundling as `cdk synth`), and returns the stack name.
 */
export function synthesize(outdir: string, context: Record<string, unknown> = {}): string {
  // The CLI turns these on; the local runner finds functions and bundles by them.
  const { app, stack } = buildApp({ outdir, context: { ...cdkJsonContext(), 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true, ...context } });
  app.synth();
  return stack.stackName;
}
