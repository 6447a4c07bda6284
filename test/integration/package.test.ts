import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdkJsonContext } from '../../bin/app';
import { referenceTemplate } from '../helpers/stacks';

/*
 * The kit as its users get it: `npm pack` (which builds dist/), the tarball
 * unpacked into a new app's node_modules beside the kit's production
 * dependencies (from package-lock.json: nothing the kit only develops with),
 * and that app run by plain `node` — no TypeScript loader — importing
 * 'cdk-mlops' and synthesizing the reference stack, its Lambdas bundled.
 */

const ROOT = path.resolve(__dirname, '..', '..');
/** What a CDK app brings of its own: the kit's peers, and Node's types for its TypeScript. */
const APP_OWN = ['aws-cdk-lib', 'constructs', '@types/node'];

interface LockEntry { dev?: boolean; optional?: boolean }

/** Links the repo's installed copy of every production dependency (top level of node_modules) into `modules`. */
function linkProductionDependencies(modules: string): void {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  for (const [key, entry] of Object.entries(lock.packages)) {
    const name = key.slice('node_modules/'.length);
    if (!key.startsWith('node_modules/') || name.includes('/node_modules/')) continue; // nested copies come with their parent
    if (entry.dev && !APP_OWN.includes(name)) continue;
    const from = path.join(ROOT, 'node_modules', name);
    if (!existsSync(from)) continue; // an optional package for another platform
    mkdirSync(path.dirname(path.join(modules, name)), { recursive: true });
    symlinkSync(from, path.join(modules, name), 'dir');
  }
}

/** The environment without NODE_OPTIONS: no loader, node as a user's app runs under it. */
function plainNode(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

const CONSUMER_APP = `'use strict';
const { App, Validations } = require('aws-cdk-lib');
const { AwsSolutionsChecks } = require('cdk-nag');
const { MlopsStack, mlopsStackProps, readSettings } = require('cdk-mlops');

const app = new App({ outdir: 'cdk.out', context: require('./context.json') });
const settings = readSettings(app.node);
new MlopsStack(app, settings.stackName, mlopsStackProps(settings));
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
console.log(JSON.stringify({ kit: require.resolve('cdk-mlops') }));
`;

const TYPED_APP = (dataPrefix: string): string => `import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { DataLake, LineageLedger, OnnxEndpoint, type DataLakeProps } from 'cdk-mlops';

const stack = new Stack(new App(), 'Typed');
const props: DataLakeProps = { dataPrefix: ${dataPrefix} };
const lake = new DataLake(stack, 'Lake', props);
const ledger = new LineageLedger(stack, 'Ledger', { wormBucket: lake.ledgerBucket });
const endpoint = new OnnxEndpoint(stack, 'Endpoint', { dataLake: lake, ledger, endpointName: 'wages' });
endpoint.grantInvoke(new iam.AccountRootPrincipal());
`;

let work: string;
let tarball: string;
let consumer: string;
let synth: ReturnType<typeof spawnSync>;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cdk-mlops-package-'));
  // WHEN the kit is packed as `npm publish` would pack it (prepack builds dist/)
  execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  tarball = path.join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  // AND installed into an app that brings aws-cdk-lib and constructs
  consumer = path.join(work, 'app');
  const kit = path.join(consumer, 'node_modules', 'cdk-mlops');
  mkdirSync(kit, { recursive: true });
  await tar.x({ file: tarball, cwd: kit, strip: 1 });
  linkProductionDependencies(path.join(consumer, 'node_modules'));
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer-app', private: true }));
  writeFileSync(path.join(consumer, 'package-lock.json'), JSON.stringify({ name: 'consumer-app', lockfileVersion: 3, requires: true, packages: {} }));
  writeFileSync(path.join(consumer, 'context.json'), JSON.stringify(cdkJsonContext()));
  writeFileSync(path.join(consumer, 'app.js'), CONSUMER_APP);
  synth = spawnSync(process.execPath, ['app.js'], { cwd: consumer, env: plainNode(), encoding: 'utf8', timeout: 240_000 });
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('ships the compiled constructs, the Lambda sources and the CLI, and nothing of the repo beside', async () => {
    const files: string[] = [];
    await tar.t({ file: tarball, onReadEntry: (e) => void files.push(e.path.replace(/^package\//, '')) });
    expect(files).toEqual(expect.arrayContaining([
      'package.json', 'README.md', 'LICENSE',
      'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/private/package-root.js',
      'lambdas/onnx-endpoint/index.ts', 'lambdas/shared/onnxruntime-package.ts', 'lambdas/core/bias.ts',
      'bin/cdk-mlops.js', 'bin/cli.ts', 'docs/CONSTRUCTS.md',
    ]));
    const stray = files.filter((f) => /^(test|bench|cdk\.out|local-run|node_modules|\.ci)\//.test(f) || /\.tsbuildinfo$|^package-lock\.json$|^\.npmrc$/.test(f));
    expect(stray).toEqual([]);
    expect(statSync(tarball).size).toBeLessThan(2 * 1024 * 1024);
  });

  it('is imported by plain node from dist/ and synthesizes the reference stack under cdk-nag, its Lambdas bundled', () => {
    const stderr = String(synth.stderr);
    expect(synth.error, String(synth.error)).toBeUndefined();
    expect(synth.status, stderr.slice(-2000)).toBe(0);
    expect(stderr, 'the synth wrote errors').not.toMatch(/Error|AwsSolutions-/);
    const { kit } = JSON.parse(String(synth.stdout).trim().split('\n').pop()!) as { kit: string };
    expect(kit).toBe(path.join(consumer, 'node_modules', 'cdk-mlops', 'dist', 'lib', 'index.js'));
  });

  it('deploys what the sources deploy: the same template as the reference app built in this repository, asset hashes aside', () => {
    const { template, stackName } = referenceTemplate();
    // asset hashes, and the code hash CDK puts in each function version's logical id
    const hashless = (t: unknown): unknown => JSON.parse(JSON.stringify(t).replace(/[0-9a-f]{64}/g, '<asset hash>').replace(/(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}/g, '$1<code hash>'));
    const packaged = JSON.parse(readFileSync(path.join(consumer, 'cdk.out', `${stackName}.template.json`), 'utf8')) as unknown;
    expect(hashless(packaged)).toEqual(hashless(template.toJSON()));
  });

  it('bundles every Lambda from the shipped sources with the local esbuild; the endpoint carries onnxruntime for linux arm64 only', () => {
    const out = path.join(consumer, 'cdk.out');
    const template = JSON.parse(readFileSync(path.join(out, 'CdkMlops.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: { Code?: { S3Key?: unknown } } }> };
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const assets = functions.map((f) => path.join(out, `asset.${String(f.Properties.Code?.S3Key).replace(/\.zip$/, '')}`));
    expect(functions.length).toBeGreaterThan(5);
    for (const dir of assets) expect(existsSync(path.join(dir, 'index.js')), dir).toBe(true);
    const withOrt = assets.filter((dir) => existsSync(path.join(dir, 'node_modules', 'onnxruntime-node')));
    expect(withOrt.length).toBeGreaterThanOrEqual(1);
    for (const dir of withOrt) {
      const ort = path.join(dir, 'node_modules', 'onnxruntime-node');
      expect(existsSync(path.join(ort, 'dist', 'index.js'))).toBe(true);
      expect(readdirSync(path.join(ort, 'bin', 'napi-v6'))).toEqual(['linux']);
      expect(readdirSync(path.join(ort, 'bin', 'napi-v6', 'linux'))).toEqual(['arm64']);
      expect(readdirSync(path.join(ort, 'bin', 'napi-v6', 'linux', 'arm64'))).toContain('onnxruntime_binding.node');
    }
  });

  it('brings its CLI: `npx cdk-mlops` runs from the installed sources', () => {
    const cli = spawnSync(process.execPath, [path.join(consumer, 'node_modules', 'cdk-mlops', 'bin', 'cdk-mlops.js'), '--help'], { cwd: consumer, env: plainNode(), encoding: 'utf8', timeout: 60_000 });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/cdk-mlops endpoint serving <endpoint-name>/);
  });

  it('gives TypeScript apps its types: a right app compiles, a wrong prop is an error naming it', () => {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    // the compiler options `cdk init app --language typescript` writes (aws-cdk 2.1148)
    writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['es2022'], strict: true, noImplicitReturns: true, skipLibCheck: true, noEmit: true, isolatedModules: true, types: ['node'] },
      files: ['typed.ts'],
    }));
    const check = (source: string): { status: number | null; out: string } => {
      writeFileSync(path.join(consumer, 'typed.ts'), source);
      const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, encoding: 'utf8', timeout: 120_000 });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    expect(check(TYPED_APP("'uploads/'"))).toEqual({ status: 0, out: '' });
    const wrong = check(TYPED_APP('42'));
    expect(wrong.status).not.toBe(0);
    expect(wrong.out).toMatch(/typed\.ts\(6,.*error TS2322: Type 'number' is not assignable to type 'string'/);
  });
});
