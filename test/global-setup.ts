import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the reference app's bundled cloud assembly is being synthesized, once per run (see test/helpers/local.ts). */
    bundledAssemblyDir: string;
  }
}

/**
 * Starts synthesizing the reference app with its bundles (~18 s of CPU) in a
 * child process and returns at once: the tests that need it wait for it, the
 * others run meanwhile. Five test files used to bundle the same app each.
 */
export default function setup(project: TestProject): () => Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cdk-mlops-bundled-'));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'helpers', 'synthesize-bundled.ts'), dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code) => {
      if (code !== 0) writeFileSync(path.join(dir, 'failed.txt'), `synthesizing the bundled reference app failed (exit ${code}):\n${stderr}`);
      resolve();
    });
    child.on('error', (err) => {
      writeFileSync(path.join(dir, 'failed.txt'), `synthesizing the bundled reference app failed: ${err.message}`);
      resolve();
    });
  });
  project.provide('bundledAssemblyDir', dir);
  return async () => {
    if (child.exitCode === null) child.kill();
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
}
