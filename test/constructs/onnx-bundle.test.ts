import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { linearModelOnnx } from '../../bin/local/onnx-builder';
import { BiasGate, DataLake, LineageLedger } from '../../lib';

/*
 * The BiasGate bundle really is bundled here (local esbuild, no Docker): the
 * asset must carry onnxruntime-node with the linux binaries of the function's
 * architecture only, its JavaScript (with onnxruntime-common) as one file, and
 * stay far below Lambda's 250 MB unzipped limit. On an x64 host, the x86_64
 * asset's copy is loaded in a fresh node and scores a model.
 */

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function du(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => sum + (e.isDirectory() ? du(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).size), 0);
}

function files(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))]));
}

function bundle(context: Record<string, unknown> = {}): { asset: string; architectures: unknown } {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-mlops-onnx-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context });
  const stack = new Stack(app, 'Bundle', { env: { account: '123456789012', region: 'us-east-1' } });
  const dataLake = new DataLake(stack, 'Lake');
  const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: dataLake.artifactsBucket });
  new BiasGate(stack, 'Bias', { dataLake, ledger, config: { label: { column: 'y', values: [1] }, facets: [{ column: 'g', values: ['a'] }], thresholds: { DPPL: 0.1 } } });
  const template = Template.fromStack(stack);
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function')).filter((r: any) => String(r.Properties.Description).includes('bias')) as any[];
  const asset = path.join(outdir, fn.Metadata['aws:asset:path']);
  return { asset, architectures: fn.Properties.Architectures };
}

describe('BiasGate bundle with onnxruntime-node', () => {
  it('ships only the linux/arm64 binaries by default, under 40 MB', () => {
    const { asset, architectures } = bundle({ 'aws:cdk:enable-asset-metadata': true });
    expect(architectures).toEqual(['arm64']);
    const all = files(asset);
    expect(all).toContain('index.js');
    const natives = all.filter((f) => f.endsWith('.node') || f.includes('libonnxruntime'));
    expect(natives.sort()).toEqual(['node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1', 'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node']);
    // onnxruntime-node's and onnxruntime-common's JavaScript: one bundled file where the package's entry was;
    // hyparquet as a file of its own, which the Parquet decoder's worker thread loads by path
    expect(all.filter((f) => f.endsWith('.js')).sort()).toEqual(['index.js', 'node_modules/hyparquet/index.js', 'node_modules/onnxruntime-node/dist/index.js']);
    expect(all).toContain('node_modules/onnxruntime-node/package.json');
    // (no arm64 host here to load it: the bundled file requires the arm64 binding by a path that exists in the asset)
    const dist = path.join(asset, 'node_modules', 'onnxruntime-node', 'dist');
    const binding = /require\("(\.\.\/bin\/napi-v6\/linux\/arm64\/onnxruntime_binding\.node)"\)/.exec(readFileSync(path.join(dist, 'index.js'), 'utf8'));
    expect(binding?.[1]).toBeDefined();
    expect(existsSync(path.resolve(dist, binding![1]!))).toBe(true);
    const mb = du(asset) / 2 ** 20;
    console.log(`BiasGate asset (arm64): ${mb.toFixed(1)} MB`);
    expect(mb).toBeLessThan(40);
  });

  it("follows context 'cdk-mlops:lambdaArchitecture' (x86_64: linux/x64 binaries)", () => {
    const { asset, architectures } = bundle({ 'aws:cdk:enable-asset-metadata': true, 'cdk-mlops:lambdaArchitecture': 'x86_64' });
    expect(architectures).toEqual(['x86_64']);
    expect(files(asset).filter((f) => f.endsWith('.node'))).toEqual(['node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node']);
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    // The bundled copy finds its binding by relative path, exports initOrt, and scores: 0.5·1 − 0.25·2 + 0.1 = 0.1 → σ(0.1)
    const model = path.join(asset, '..', 'model.onnx');
    writeFileSync(model, linearModelOnnx({ weights: [0.5, -0.25], bias: 0.1 }));
    const script = `
      const ort = require(process.argv[1]);
      if (typeof ort.initOrt !== 'function') throw new Error('no initOrt');
      ort.initOrt();
      ort.InferenceSession.create(process.argv[2])
        .then((s) => s.run({ features: new ort.Tensor('float32', Float32Array.from([1, 2]), [1, 2]) }))
        .then((r) => console.log(JSON.stringify({ score: r.score.data[0], common: Object.keys(require.cache).filter((f) => f.includes('onnxruntime-common')).length })));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script, path.join(asset, 'node_modules', 'onnxruntime-node'), model], { encoding: 'utf8' })) as { score: number; common: number };
    expect(out.score).toBeCloseTo(1 / (1 + Math.exp(-0.1)), 6);
    expect(out.common).toBe(0); // onnxruntime-common came from the bundle, not from a package on disk
  });

  it('rejects an unknown architecture naming the context key', () => {
    expect(() => bundle({ 'cdk-mlops:lambdaArchitecture': 'riscv' })).toThrow("context 'cdk-mlops:lambdaArchitecture' must be 'arm64' or 'x86_64' (got \"riscv\").");
  });
});
