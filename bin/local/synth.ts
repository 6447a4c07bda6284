import { buildApp, cdkJsonContext } from '../app';

/** The Lambda architecture of this machine, so bundled native modules (onnxruntime-node) load in the local run. */
export function hostLambdaArchitecture(): 'arm64' | 'x86_64' {
  if (process.arch === 'arm64') return 'arm64';
  if (process.arch === 'x64') return 'x86_64';
  throw new Error(`the local run needs an x64 or arm64 machine (this is ${process.arch})`);
}

/**
 * Synthesizes the reference app into `outdir` in-process (same code, same
 * cdk-nag checks, same esbuild bundling as `cdk synth`), and returns the stack
 * name. One difference from a deploy: Lambdas are built for this machine's
 * architecture (context `cdk-mlops:lambdaArchitecture`), since the local run
 * executes the bundles here.
 */
export function synthesize(outdir: string, context: Record<string, unknown> = {}): string {
  // The CLI turns the metadata on; the local runner finds functions and bundles by it.
  const { app, stack } = buildApp({
    outdir,
    context: { ...cdkJsonContext(), 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true, 'cdk-mlops:lambdaArchitecture': hostLambdaArchitecture(), ...context },
  });
  app.synth();
  return stack.stackName;
}
