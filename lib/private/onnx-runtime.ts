import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/*
 * onnxruntime-node in a Lambda bundle. Its native binding cannot be bundled by
 * esbuild, and the npm package carries every platform (about 288 MB, over
 * Lambda's 250 MB unzipped limit). So the module stays external and, after
 * esbuild, only what runs on Lambda is copied next to the bundle: the JS
 * (onnxruntime-node and onnxruntime-common, CommonJS) and the linux binaries of
 * the function's architecture (about 26 MB for arm64, 46 MB for x86_64). The
 * copy comes from the installed package: no npm install, no network.
 */

const NAPI_DIR = path.join('bin', 'napi-v6', 'linux');

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

/** esbuild options that keep onnxruntime-node external and copy its pruned runtime into the asset. */
export function onnxRuntimeBundling(architecture: lambda.Architecture): Pick<nodejs.BundlingOptions, 'externalModules' | 'commandHooks'> {
  const arch = nodeArch(architecture);
  const ort = path.dirname(path.dirname(require.resolve('onnxruntime-node')));
  const common = path.dirname(path.dirname(path.dirname(require.resolve('onnxruntime-common'))));
  return {
    externalModules: ['onnxruntime-node'],
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string): string[] => {
        const ortOut = path.join(outputDir, 'node_modules', 'onnxruntime-node');
        const commonOut = path.join(outputDir, 'node_modules', 'onnxruntime-common');
        return [
          `mkdir -p ${q(path.join(ortOut, NAPI_DIR, arch))} ${q(path.join(commonOut, 'dist'))}`,
          `cp ${q(path.join(ort, 'package.json'))} ${q(ortOut)}`,
          `cp -R ${q(path.join(ort, 'dist'))} ${q(ortOut)}`,
          `cp ${q(path.join(ort, NAPI_DIR, arch))}/* ${q(path.join(ortOut, NAPI_DIR, arch))}`,
          `cp ${q(path.join(common, 'package.json'))} ${q(commonOut)}`,
          `cp -R ${q(path.join(common, 'dist', 'cjs'))} ${q(path.join(commonOut, 'dist'))}`,
        ];
      },
    },
  };
}
