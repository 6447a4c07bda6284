import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import S3rver from 's3rver';
import dynalite from 'dynalite';
import { startStepFunctionsApi, type StepFunctionsApi } from './stepfunctions-api';

/*
 * S3 (s3rver), DynamoDB (dynalite) and a StartExecution stand-in on 127.0.0.1 ephemeral ports, for tests,
 * `npm start` and the CLI's --local mode. Both keep their data on disk when
 * given a directory, so a later process can open the same state.
 */

export interface Emulators {
  readonly s3Endpoint: string;
  readonly dynamoEndpoint: string;
  /** Environment for SDK clients (and bundled handlers) that talk to the emulators. */
  readonly env: Readonly<Record<string, string>>;
  /** Where the emulators keep their data. */
  readonly dataDir: string;
  /** StartExecution calls the Lambdas made (queued for the local runner). */
  readonly stepFunctions: StepFunctionsApi;
  /**
   * What the S3 emulator implements beyond plain objects: buckets are then created with the
   * template's versioning and Object Lock (s3rver has neither; moto's server has both).
   */
  readonly capabilities: { readonly versioning: boolean; readonly objectLock: boolean };
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /**
   * Directory for the emulators' data; kept after stop.
   * @default - a temporary directory, removed on stop
   */
  readonly dataDir?: string;
}

/** Credentials s3rver accepts; dynalite accepts any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

/** The local state on disk is held by another process (its LevelDB is locked): nothing can be read from it now. */
export class LocalStateInUseError extends Error {
  override name = 'LocalStateInUseError';
}

/**
 * Opens and closes the LevelDB that dynalite will open, so that a database another process holds
 * is a clear error here: dynalite itself would throw "Database is closed" from inside a request.
 */
async function checkNotLocked(dir: string): Promise<void> {
  // the LevelDB binding dynalite uses, resolved from dynalite itself
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Level } = require(require.resolve('level', { paths: [path.dirname(require.resolve('dynalite'))] })) as { Level: new (dir: string) => { open(): Promise<void>; close(): Promise<void> } };
  const db = new Level(dir);
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    if ((err as { code?: string }).code === 'LEVEL_LOCKED' || cause?.code === 'LEVEL_LOCKED' || /lock/i.test(String((err as Error).message))) {
      throw new LocalStateInUseError(`the local state in ${path.dirname(dir)} is in use by another process (is \`npm start\` still running?); wait for it to finish and try again`, { cause: err });
    }
    throw err;
  }
  await db.close();
}

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const keep = options.dataDir !== undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'cdk-mlops-'));
  mkdirSync(path.join(dataDir, 's3'), { recursive: true });
  mkdirSync(path.join(dataDir, 'dynamodb'), { recursive: true });
  if (keep) await checkNotLocked(path.join(dataDir, 'dynamodb'));

  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dataDir, 's3') });
  const s3Address = await s3.run();
  const ddb = dynalite({ path: path.join(dataDir, 'dynamodb'), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    ddb.once('error', reject);
    ddb.listen(0, '127.0.0.1', () => resolve());
  });
  const s3Endpoint = `http://127.0.0.1:${s3Address.port}`;
  const dynamoEndpoint = `http://127.0.0.1:${(ddb.address() as AddressInfo).port}`;
  const stepFunctions = await startStepFunctionsApi();

  let stopped = false;
  return {
    s3Endpoint,
    dynamoEndpoint,
    dataDir,
    stepFunctions,
    capabilities: { versioning: false, objectLock: false },
    env: {
      AWS_ENDPOINT_URL_S3: s3Endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
      AWS_ENDPOINT_URL_SFN: stepFunctions.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all([s3.close(), new Promise<void>((resolve) => ddb.close(() => resolve())), stepFunctions.close()]);
      if (!keep) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
