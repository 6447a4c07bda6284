import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { PACKAGE_ROOT } from './package-root';

/*
 * onnxruntime-node in a Lambda bundle. Its native binding cannot be bundled by
 * esbuild, and the npm package carries every platform (about 288 MB, over
 * Lambda's 250 MB unzipped limit). So the module stays external to the
 * function's bundle, and after esbuild the asset gets a pruned copy of the
 * installed package: its JavaScript and onnxruntime-common as one esbuild bundle
 * at the package's `dist/index.js` (entry: lambdas/shared/onnxruntime-package.ts;
 * loading two dozen files cost 10–16 ms of every cold start), and the linux
 * binaries of the function's architecture, which that bundle requires by their
 * relative paths (the endpoint's whole asset: 24.5 MB for arm64, 44.3 MB for
 * x86_64). No npm install, no network.
 */

const NAPI_DIR = path.join('bin', 'napi-v6', 'linux');
const PACKAGE_ENTRY = path.join(PACKAGE_ROOT, 'lambdas', 'shared', 'onnxruntime-package.ts');

const LICENSE_BANNER = '/*! onnxruntime-node and onnxruntime-common: Copyright (c) Microsoft Corporation. All rights reserved. Licensed under the MIT License. */';

/** The esbuild binary the project installed (bundling is local: no Docker). */
export function esbuildBinary(): string {
  return path.join(path.dirname(require.resolve('esbuild/package.json')), 'bin', 'esbuild');
}

/** Node's `process.arch` for a Lambda architecture. */
export function nodeArch(architecture: lambda.Architecture): 'arm64' | 'x64' {
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'arm64';
  if (architecture.name === lambda.Architecture.X86_64.name) return 'x64';
  throw new Error(`onnxruntime-node: no Lambda binaries for architecture '${architecture.name}'`);
}

/** A path quoted for the bundling hooks' shell commands. */
export function q(p: string): string {
  return `"${p.replace(/(["\\$`])/g, '\\$1')}"`;
}

/** esbuild options that keep onnxruntime-node external and put its pruned runtime, its JavaScript bundled, into the asset. */
export function onnxRuntimeBundling(architecture: lambda.Architecture): Pick<nodejs.BundlingOptions, 'externalModules' | 'commandHooks'> {
  const arch = nodeArch(architecture);
  const ort = path.dirname(path.dirname(require.resolve('onnxruntime-node')));
  return {
    externalModules: ['onnxruntime-node'],
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string): string[] => {
        const ortOut = path.join(outputDir, 'node_modules', 'onnxruntime-node');
        return [
          `mkdir -p ${q(path.join(ortOut, NAPI_DIR, arch))}`,
          `cp ${q(path.join(ort, 'package.json'))} ${q(ortOut)}`,
          // The binding is required as ../bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node: kept, relative to dist/.
          // Minifying drops the sources' license headers: the banner carries them.
          `${q(esbuildBinary())} ${q(PACKAGE_ENTRY)} --bundle --platform=node --target=node22 --format=cjs --minify --external:*.node --log-level=warning ${q(`--banner:js=${LICENSE_BANNER}`)} --outfile=${q(path.join(ortOut, 'dist', 'index.js'))}`,
          `cp ${q(path.join(ort, NAPI_DIR, arch))}/* ${q(path.join(ortOut, NAPI_DIR, arch))}`,
        ];
      },
    },
  };
}
