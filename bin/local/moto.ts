import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LOCAL_REGION, type Emulators } from './emulators';
import { startStepFunctionsApi } from './stepfunctions-api';

/*
 * moto's server (`python3 -m moto.server`) as the kit's emulators, for what s3rver and dynalite
 * cannot show: S3 versioning, Object Lock (retention, governance bypass), conditional writes
 * (If-None-Match), DynamoDB transactions. One process serves every service on one 127.0.0.1
 * port; it keeps its state in memory and is stopped by its pid. moto enforces no IAM here (its
 * bucket-policy check ignores conditions): policy decisions are the IAM simulator's in the tests.
 */

/** moto's server cannot be started here (no python3, or no moto with its server extras). */
export class MotoUnavailableError extends Error {
  override name = 'MotoUnavailableError';
}

/** The Python that runs moto: CDK_MLOPS_PYTHON, else `python3` on the PATH. */
export function motoPython(env: NodeJS.ProcessEnv = process.env): string {
  return env.CDK_MLOPS_PYTHON ?? 'python3';
}

/** Why moto's server cannot run here, or undefined when it can. */
export function motoUnavailableReason(python = motoPython()): string | undefined {
  const probe = spawnSync(python, ['-c', 'import moto, moto.server, flask; print(moto.__version__)'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error) return `${python} cannot be run (${probe.error.message})`;
  if (probe.status !== 0) return `${python} has no moto server (pip install "moto[server]"): ${probe.stderr.trim().split('\n').at(-1) ?? ''}`;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts moto's server on 127.0.0.1 and answers once it serves; throws MotoUnavailableError where it cannot. */
export async function startMoto(options: { python?: string; startTimeoutMs?: number } = {}): Promise<Emulators> {
  const python = options.python ?? motoPython();
  const reason = motoUnavailableReason(python);
  if (reason) throw new MotoUnavailableError(reason);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' } });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new MotoUnavailableError(`moto's server exited with ${child.exitCode}: ${stderr.trim()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new MotoUnavailableError(`moto's server did not answer on ${endpoint} within ${options.startTimeoutMs ?? 30_000} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stepFunctions = await startStepFunctionsApi();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cdk-mlops-moto-'));
  let stopped = false;
  return {
    s3Endpoint: endpoint,
    dynamoEndpoint: endpoint,
    dataDir,
    stepFunctions,
    capabilities: { versioning: true, objectLock: true },
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_ENDPOINT_URL_SFN: stepFunctions.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_EC2_METADATA_DISABLED: 'true',
      // Object-Locked buckets refuse a PutObject without a checksum, in AWS and on moto
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED',
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await Promise.all([exited, stepFunctions.close()]);
      clearTimeout(killer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
