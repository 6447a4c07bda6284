import './local/node20';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionNameFor } from '../lambdas/core/pipeline';
import type { S3Client } from '@aws-sdk/client-s3';
import { suggestContract } from '../lambdas/core/constraints';
import { contractToYaml } from '../lambdas/core/contract-file';
import type { LedgerRecord, VerifyReport } from '../lambdas/core/lineage';
import { profileDatasetVersion } from '../lambdas/shared/dataset-reader';
import { objectDigest, S3ObjectReader } from '../lambdas/shared/s3-objects';
import { dynamoDocumentClient, s3Client } from '../lambdas/shared/clients';
import { servingLineage } from '../lambdas/shared/serving-lineage';
import { reproduction } from '../lambdas/core/reproduce';
import { LedgerStore } from '../lambdas/shared/ledger-store';
import { LEDGER_ENV } from '../lambdas/shared/ledger-schema';
import { LocalStateInUseError, startEmulators } from './local/emulators';

/** `lineage verify`'s exit codes: tampering is never confused with a ledger that could not be read. */
export const VERIFY_EXIT = { intact: 0, tampered: 3, unreadable: 4 } as const;

const USAGE = `Usage: cdk-mlops lineage <command> [args] [target] [--json]
       cdk-mlops contract suggest <dataset-version-id> [target]
       cdk-mlops pipeline start <dataset-version-id> (--stack <name> | --state-machine-arn <arn>) [--attempt <label>]
       cdk-mlops pipeline approve --token <task-token> --by <name> [--reject] [--comment <text>]
       cdk-mlops endpoint serving <endpoint-name> [target] [--json]
       cdk-mlops endpoint release <model-version-id> (--stack <name> | --state-machine-arn <arn>)

Commands:
  history <subject>     every record about a subject, oldest first (e.g. dataset/cps-wages)
  show <record-id>      a record, what it derives from and what derives from it
  derived <record-id>   everything derived from a record, transitively
  reproduce <id>        the CreateTrainingJob request that repeats a training run (or a model
                        version's) from its record: the image by digest, hyperparameters,
                        instances, its training input, checked against its recorded SHA-256;
                        says what the record leaves open; exits 1 unless all is pinned and intact
                        [--job-name <name>] [--output s3://...]
  chains                the ledger's chains
  verify [chain]        check one chain (or all) against the table and every version of the
                        WORM copies (the authority); exits 0 when intact, ${VERIFY_EXIT.tampered} when anything
                        was altered, replaced or removed, ${VERIFY_EXIT.unreadable} when the ledger could not be read
  contract suggest <id> profile that dataset version and print a suggested contract (YAML)
                        to review and store as contracts/<dataset>.yaml in the artifacts bucket
  pipeline start <id>   start the training pipeline on a dataset version, named after it (an upload
                        would have started the same execution); --attempt <label> starts another
  pipeline approve      answer a manual approval (the token is in the notification): the model is
                        registered Approved (or Rejected with --reject) and the decision recorded
  endpoint serving <n>  what the endpoint serves now and why: the release, the model, its training
                        run and data, the gates it passed with their numbers, who approved it, and
                        the endpoint's releases, rollbacks and incidents
  endpoint release <id> release an approved model version through the endpoint's release state
                        machine (canary, alarms, rollback)

Target (one of):
  --local               the state of the last \`npm start\` (in local-run/; --local-dir <dir> for another)
  --stack <name>        a deployed stack, from its outputs (normal AWS credentials)
  --table <name> --bucket <name> [--prefix ledger/]
                        explicit names (or ${LEDGER_ENV.table} / ${LEDGER_ENV.wormBucket} in the environment)`;

export class UsageError extends Error {
  override name = 'UsageError';
}

interface Target {
  ledger: LedgerStore;
  s3: S3Client;
  close(): Promise<void>;
}

export async function main(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      local: { type: 'boolean' },
      'local-dir': { type: 'string' },
      stack: { type: 'string' },
      table: { type: 'string' },
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      'state-machine-arn': { type: 'string' },
      attempt: { type: 'string' },
      token: { type: 'string' },
      by: { type: 'string' },
      reject: { type: 'boolean' },
      comment: { type: 'string' },
      'job-name': { type: 'string' },
      output: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  const [group, command, arg] = positionals;
  if (group === 'contract') return suggestCommand(command, arg, values, out);
  if (group === 'pipeline') return pipelineCommand(command, arg, values, out);
  if (group === 'endpoint') return endpointCommand(command, arg, values, out);
  if (group !== 'lineage' || !command) throw new UsageError(`unknown command '${positionals.join(' ')}'\n\n${USAGE}`);
  const needsArg = ['history', 'show', 'derived', 'reproduce'].includes(command);
  if (!['history', 'show', 'derived', 'reproduce', 'chains', 'verify'].includes(command)) throw new UsageError(`unknown lineage command '${command}'\n\n${USAGE}`);
  if (needsArg && !arg) throw new UsageError(`'lineage ${command}' needs ${command === 'history' ? 'a subject, e.g. dataset/cps-wages' : 'a record id'}`);

  let target: Target;
  try {
    target = await openTarget(values);
  } catch (err) {
    if (!(err instanceof LocalStateInUseError)) throw err;
    console.error(`cdk-mlops: ${err.message}`);
    return command === 'verify' ? VERIFY_EXIT.unreadable : 1;
  }
  try {
    const print = (value: unknown, text: () => string[]): void => (values.json ? out(JSON.stringify(value, null, 2)) : text().forEach((l) => out(l)));
    switch (command) {
      case 'history': {
        const records = await target.ledger.history(arg!);
        print(records, () => (records.length ? records.map(describe) : [`no records about '${arg}'`]));
        return 0;
      }
      case 'show': {
        const record = await target.ledger.get(arg!);
        if (!record) throw new UsageError(`no record '${arg}'`);
        const [ancestors, derived] = await Promise.all([target.ledger.ancestors(arg!), target.ledger.derivedFrom(arg!)]);
        print({ record, ancestors, derived }, () => [
          describe(record),
          JSON.stringify(record.data, null, 2),
          `derives from (${ancestors.length}):`,
          ...ancestors.map((r) => `  ${describe(r)}`),
          `derived (${derived.length}):`,
          ...derived.map((r) => `  ${describe(r)}`),
        ]);
        return 0;
      }
      case 'derived': {
        const derived = await target.ledger.derivedFrom(arg!);
        print(derived, () => (derived.length ? derived.map(describe) : [`nothing is derived from '${arg}'`]));
        return 0;
      }
      case 'reproduce':
        return await reproduceCommand(target, arg!, values, out);
      case 'chains': {
        const chains = await target.ledger.chains();
        print(chains, () => chains);
        return 0;
      }
      default: {
        let reports: VerifyReport[];
        try {
          reports = arg ? [await target.ledger.verify(arg)] : await target.ledger.verifyAll();
        } catch (err) {
          const e = err as Error;
          console.error(`cdk-mlops: the ledger could not be read, so nothing was verified: ${e.name}: ${e.message}`);
          return VERIFY_EXIT.unreadable;
        }
        print(reports, () => [...reports.flatMap(describeReport), ...(reports.some((r) => !r.wormVersionsChecked) ? ['note: the WORM store cannot list object versions (s3rver, or an unversioned bucket): only the current version of each copy was compared'] : [])]);
        return reports.every((r) => r.ok) ? VERIFY_EXIT.intact : VERIFY_EXIT.tampered;
      }
    }
  } finally {
    await target.close();
  }
}

async function suggestCommand(command: string | undefined, id: string | undefined, values: TargetOptions, out: (line: string) => void): Promise<number> {
  if (command !== 'suggest') throw new UsageError(`unknown contract command '${command ?? ''}'\n\n${USAGE}`);
  if (!id) throw new UsageError("'contract suggest' needs a dataset version id");
  const target = await openTarget(values);
  try {
    const record = await target.ledger.get(id);
    if (record?.kind !== 'DatasetVersion') throw new UsageError(`no DatasetVersion '${id}' in the ledger`);
    const dsv = record as LedgerRecord<'DatasetVersion'>;
    if (dsv.data.status !== 'accepted') throw new UsageError(`dataset version ${id} was rejected at ingest: ${dsv.data.reason ?? ''}`);
    const profile = await profileDatasetVersion(dsv, new S3ObjectReader(target.s3), { workers: availableParallelism() });
    out(`# suggested from ${id} (s3://${dsv.data.bucket}/${dsv.data.key}, ${profile.rows} rows): review, then store as contracts/${dsv.data.dataset}.yaml`);
    out(contractToYaml(suggestContract(profile)).trimEnd());
    return 0;
  } finally {
    await target.close();
  }
}

function describe(r: LedgerRecord): string {
  const d = r.data as Partial<{ status: string; reason: string; sha256: string | null; key: string; trigger: { type: string; incidentId?: string } }>;
  const status = d.status ? ` ${d.status}${d.reason ? ` (${d.reason})` : ''}` : '';
  const trigger = d.trigger ? `  started by ${d.trigger.type}${d.trigger.incidentId ? ` (${d.trigger.incidentId})` : ''}` : '';
  return `${r.createdAt}  ${r.kind.padEnd(14)} ${r.id}  ${r.subject}${d.key ? `  ${d.key}` : ''}${status}${d.sha256 ? `  sha256:${d.sha256.slice(0, 16)}` : ''}${trigger}`;
}

/**
 * `lineage reproduce <tr-|mv-id>`: the request that repeats the training run
 * (a model version's: the run that trained it), its input object hashed again
 * and compared with the record. Exit 0 only when the image is pinned by digest
 * and the input is intact.
 */
async function reproduceCommand(target: Target, id: string, values: { 'job-name'?: string; output?: string; json?: boolean }, out: (line: string) => void): Promise<number> {
  const record = await target.ledger.get(id);
  const model = record?.kind === 'ModelVersion' ? (record as LedgerRecord<'ModelVersion'>) : undefined;
  const run = model ? await target.ledger.get(model.data.trainingRunId) : record;
  if (run?.kind !== 'TrainingRun') throw new UsageError(`'${id}' is not a training run or a model version in the ledger`);
  const trainingRun = run as LedgerRecord<'TrainingRun'>;
  const jobName = values['job-name'] ?? `${trainingRun.data.pipeline.slice(0, 40)}-repro-${Date.now().toString(36)}`;
  const plan = reproduction(trainingRun, { jobName, ...(values.output ? { outputUri: values.output } : {}) });
  const found = await sha256IfThere(target.s3, plan.input.object);
  const intact = found === plan.input.sha256;
  const gaps = [
    ...plan.gaps,
    ...(intact ? [] : [found ? `the training input ${plan.input.object} changed since the run (sha256 ${found.slice(0, 16)}, recorded ${plan.input.sha256.slice(0, 16)})` : `the training input ${plan.input.object} is gone: split dataset version ${trainingRun.data.datasetVersionIds.join(', ')} again (the pipeline's split is by content, so it is the same rows)`]),
    ...(model?.data.format.startsWith('neo:') ? [`${model.id} is compiled (${model.data.format}): compile the repeat's model again`] : []),
  ];
  if (values.json) {
    out(JSON.stringify({ ...plan, input: { ...plan.input, intact }, gaps }, null, 2));
    return gaps.length ? 1 : 0;
  }
  out(`to repeat ${trainingRun.id}${model ? ` (which trained ${model.id}, sha256:${model.data.artifact.sha256.slice(0, 16)})` : ''}:`);
  out(`  input: ${plan.input.object}, ${plan.input.rows} rows, sha256:${plan.input.sha256.slice(0, 16)} ${intact ? 'intact' : 'NOT AS RECORDED'}`);
  for (const gap of gaps) out(`  open: ${gap}`);
  if (!gaps.length) out('  pinned: the image by digest, the input by its SHA-256, the hyperparameters and instances');
  out('  CreateTrainingJob request (add RoleArn, and your VPC, KMS and spot settings; they do not change the model):');
  for (const line of JSON.stringify(plan.request, null, 2).split('\n')) out(`  ${line}`);
  return gaps.length ? 1 : 0;
}

/** The hex SHA-256 of an s3:// object's bytes, or undefined when it is not there. */
async function sha256IfThere(s3: S3Client, uri: string): Promise<string | undefined> {
  try {
    return (await objectDigest(s3, uri)).sha256;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

/** Which code trained a run: its image (by digest, or a tag that may have moved since), hyperparameters and instances. */
function trainingCode(r: LedgerRecord<'TrainingRun'>): string {
  const { image, hyperparameters, instanceType, instanceCount } = r.data;
  return `code: ${image.uri}${image.digest ? '' : ' (a tag: not pinned to a digest)'}; hyperparameters ${JSON.stringify(hyperparameters)}; ${instanceType} × ${instanceCount}`;
}

function describeReport(r: VerifyReport): string[] {
  const head = `${r.ok ? 'OK    ' : 'FAILED'} ${r.chain}: ${r.length} links, head ${r.head.slice(0, 16)}${r.redundantLinks ? `, ${r.redundantLinks} redundant link(s)` : ''}`;
  return [head, ...r.problems.map((p) => `       ${p.code}: ${p.message}`)];
}

/** `pipeline start <id>`: StartExecution named after the dataset version (ExecutionAlreadyExists: it was started already). */
async function pipelineCommand(
  command: string | undefined,
  id: string | undefined,
  values: TargetOptions & { 'state-machine-arn'?: string; attempt?: string; token?: string; by?: string; reject?: boolean; comment?: string },
  out: (line: string) => void,
): Promise<number> {
  if (command === 'approve') {
    if (!values.token) throw new UsageError("'pipeline approve' needs --token <task-token> (from the approval notification)");
    if (!values.by?.trim()) throw new UsageError("'pipeline approve' needs --by <name>: who decides is recorded in the ledger and the Model Registry");
    const decision = { approved: !values.reject, by: values.by.trim(), ...(values.comment ? { comment: values.comment } : {}) };
    await new SFNClient({}).send(new SendTaskSuccessCommand({ taskToken: values.token, output: JSON.stringify(decision) }));
    out(`${decision.approved ? 'approved' : 'rejected'} by ${decision.by}: the pipeline records the decision and goes on`);
    return 0;
  }
  if (command !== 'start') throw new UsageError(`unknown pipeline command '${command ?? ''}'\n\n${USAGE}`);
  if (!id) throw new UsageError("'pipeline start' needs a dataset version id (dsv-...)");
  let arn = values['state-machine-arn'];
  if (!arn && values.stack) {
    arn = (await stackOutputs(values.stack)).TrainingPipelineStateMachineArn;
    if (!arn) throw new UsageError(`stack ${values.stack} has no TrainingPipelineStateMachineArn output (is a training pipeline configured?)`);
  }
  if (!arn) throw new UsageError(`'pipeline start' needs --stack <name> or --state-machine-arn <arn>\n\n${USAGE}`);
  const name = executionNameFor(id, values.attempt);
  try {
    const started = await new SFNClient({}).send(new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify({ datasetVersionId: id }) }));
    out(`started ${started.executionArn}`);
  } catch (err) {
    if ((err as Error).name !== 'ExecutionAlreadyExists') throw err;
    out(`already started: execution '${name}' exists on ${arn} (use --attempt <label> to train again)`);
  }
  return 0;
}

/** `endpoint serving <name>` (from the ledger) and `endpoint release <model version>` (StartExecution). */
async function endpointCommand(command: string | undefined, arg: string | undefined, values: TargetOptions & { 'state-machine-arn'?: string; json?: boolean }, out: (line: string) => void): Promise<number> {
  if (command === 'release') {
    if (!arg) throw new UsageError("'endpoint release' needs a model version id (mv-...)");
    let arn = values['state-machine-arn'];
    if (!arn && values.stack) arn = (await stackOutputs(values.stack)).EndpointReleaseStateMachineArn;
    if (!arn) throw new UsageError(`'endpoint release' needs --stack <name> (with an endpoint) or --state-machine-arn <arn>\n\n${USAGE}`);
    const started = await new SFNClient({}).send(new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify({ modelVersionId: arg }) }));
    out(`started ${started.executionArn}: the model goes live through the endpoint's canary, or is rolled back by its alarms`);
    return 0;
  }
  if (command !== 'serving') throw new UsageError(`unknown endpoint command '${command ?? ''}'\n\n${USAGE}`);
  if (!arg) throw new UsageError("'endpoint serving' needs an endpoint name");
  const target = await openTarget(values);
  try {
    const { lineage, history } = await servingLineage(target.ledger, arg);
    if (!lineage) {
      out(history.length ? `nothing serves on endpoint '${arg}': no release succeeded (${history.length} records)` : `no records about endpoint '${arg}'`);
      return history.length ? 0 : 1;
    }
    const { serving, model, ancestors, gates } = lineage;
    const report = lineage;
    if (values.json) {
      out(JSON.stringify(report, null, 2));
      return 0;
    }
    out(`endpoint ${arg} serves model ${serving.data.modelVersionId} since ${serving.createdAt} (${serving.data.reason}, ${serving.data.strategy}${serving.data.functionVersion ? `, Lambda version ${serving.data.functionVersion}` : ''}${serving.data.deploymentId ? `, ${serving.data.deploymentId}` : ''})`);
    if (model) out(`  model: ${model.data.format}, ${model.data.artifact.uri} sha256:${model.data.artifact.sha256.slice(0, 16)}; metrics ${JSON.stringify(model.data.metrics)}`);
    for (const image of serving.data.images ?? []) out(`  served by: ${image.resolved}${image.specified === image.resolved ? '' : ` (the config names ${image.specified})`}`);
    for (const a of ancestors) {
      out(`  from ${describe(a)}`);
      if (a.kind === 'TrainingRun') out(`    ${trainingCode(a as LedgerRecord<'TrainingRun'>)}`);
    }
    out(`  gates (${gates.length}):`);
    for (const g of gates) {
      const on = g.parents.some((p) => p.startsWith('mv-')) ? 'model' : 'data ';
      out(`    ${g.data.gate.padEnd(11)} ${on} ${g.data.passed ? 'passed' : 'FAILED'}  ${g.data.reasons.join('; ').slice(0, 200)}${Object.keys(g.data.metrics).length ? `  ${JSON.stringify(g.data.metrics).slice(0, 200)}` : ''}`);
    }
    out(`  releases and incidents of the endpoint (${history.length}):`);
    for (const r of history) {
      const d = r.data as Partial<{ status: string; reason: string; modelVersionId: string; type: string; detail: string }>;
      out(`    ${r.createdAt}  ${r.kind.padEnd(10)} ${d.modelVersionId ?? ''} ${d.status ?? d.type ?? ''} ${r.kind === 'Incident' ? (d.reason ?? '').slice(0, 200) : `(${d.reason ?? ''})`}`);
    }
    return 0;
  } finally {
    await target.close();
  }
}

async function stackOutputs(stackName: string): Promise<Record<string, string | undefined>> {
  const stack = (await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  return Object.fromEntries((stack?.Outputs ?? []).map((o): [string, string | undefined] => [o.OutputKey ?? '', o.OutputValue]));
}

type TargetOptions = { local?: boolean; 'local-dir'?: string; stack?: string; table?: string; bucket?: string; prefix?: string };

async function openTarget(values: TargetOptions): Promise<Target> {
  if (values.local || values['local-dir']) {
    const dir = path.resolve(values['local-dir'] ?? 'local-run');
    const statePath = path.join(dir, 'state.json');
    if (!existsSync(statePath)) throw new UsageError(`${statePath} not found: run \`npm start\` first`);
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { tableName: string; artifactsBucket: string; ledgerBucket?: string; wormPrefix: string };
    const emulators = await startEmulators({ dataDir: path.join(dir, 'emulators') });
    const s3 = s3Client(emulators.env);
    const ledger = new LedgerStore({ ddb: dynamoDocumentClient(emulators.env), s3, tableName: state.tableName, wormBucket: state.ledgerBucket ?? state.artifactsBucket, wormPrefix: state.wormPrefix });
    return { ledger, s3, close: () => emulators.stop() };
  }
  let table = values.table ?? process.env[LEDGER_ENV.table];
  let bucket = values.bucket ?? process.env[LEDGER_ENV.wormBucket];
  if (values.stack) {
    const cfn = new CloudFormationClient({});
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: values.stack }))).Stacks?.[0];
    const output = (key: string): string | undefined => stack?.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
    table = output('LedgerTableName');
    bucket = output('LedgerBucketName');
    if (!table || !bucket) throw new UsageError(`stack ${values.stack} has no LedgerTableName/LedgerBucketName outputs (is it an MlopsStack?)`);
  }
  if (!table || !bucket) throw new UsageError(`no ledger given: use --local, --stack <name>, or --table and --bucket\n\n${USAGE}`);
  const s3 = s3Client();
  const ledger = new LedgerStore({ ddb: dynamoDocumentClient(), s3, tableName: table, wormBucket: bucket, wormPrefix: values.prefix ?? process.env[LEDGER_ENV.wormPrefix] ?? 'ledger/' });
  return { ledger, s3, close: () => Promise.resolve() };
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`cdk-mlops: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
    },
  );
}
