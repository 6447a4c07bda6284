import { CdkMlopsError } from './errors';
import type { LedgerRecord } from './lineage';

/*
 * "Any model can be retrained from its lineage record alone": the
 * CreateTrainingJob request that repeats a recorded TrainingRun — the image by
 * the digest it ran, its hyperparameters and instances, the training channel
 * it read — and what the record leaves open. Settings that do not change the
 * model (role, VPC, KMS keys, spot) are the caller's.
 */

export class NotReproducibleError extends CdkMlopsError {}

/** The parts of a CreateTrainingJob request that make the model (a type, not an interface: it is a request object like any other). */
export type ReproductionRequest = {
  readonly TrainingJobName: string;
  readonly AlgorithmSpecification: { readonly TrainingImage: string; readonly TrainingInputMode: 'File' };
  readonly HyperParameters: Readonly<Record<string, string>>;
  readonly InputDataConfig: readonly { readonly ChannelName: string; readonly DataSource: { readonly S3DataSource: { readonly S3Uri: string; readonly S3DataType: 'S3Prefix'; readonly S3DataDistributionType: 'FullyReplicated' } } }[];
  readonly OutputDataConfig: { readonly S3OutputPath: string };
  readonly ResourceConfig: { readonly InstanceType: string; readonly InstanceCount: number; readonly VolumeSizeInGB: number };
  readonly StoppingCondition: { readonly MaxRuntimeInSeconds: number };
};

export interface Reproduction {
  readonly trainingRunId: string;
  readonly request: ReproductionRequest;
  /** The object the channel must hold, and its recorded hex SHA-256: check it before training. */
  readonly input: { readonly object: string; readonly sha256: string; readonly rows: number };
  /** Why a repeat might not be the same run; empty when the record pins the image and the data. */
  readonly gaps: readonly string[];
}

/** Where a reproduction writes by default: beside the pipeline's own jobs (`<prefix><pipeline>/jobs`), which its SageMaker role may write. */
export function defaultReproductionOutput(channel: string): string | undefined {
  const m = /^(s3:\/\/.+)\/snapshots\/[^/]+\/train\/$/.exec(channel);
  return m ? `${m[1]}/jobs` : undefined;
}

/**
 * The request that repeats `run`. Throws NotReproducibleError when the record
 * lacks what a repeat needs (the training input: runs recorded before inputs were).
 */
export function reproduction(run: LedgerRecord<'TrainingRun'>, options: { readonly jobName: string; readonly outputUri?: string }): Reproduction {
  const { inputs, image } = run.data;
  if (!inputs) throw new NotReproducibleError(`${run.id} records no training input (it was recorded before runs recorded theirs): retrain dataset version ${run.data.datasetVersionIds.join(', ')} with the pipeline instead`);
  const output = options.outputUri ?? defaultReproductionOutput(inputs.train.channel);
  if (!output) throw new NotReproducibleError(`${run.id}: no output location for the repeat: give one (the channel ${inputs.train.channel} is not under the pipeline's snapshots/)`);
  const gaps: string[] = [];
  if (!image.digest) gaps.push(`the image is recorded by tag only (${image.uri}): the tag may name another image now; train on a PinnedEcrImage to record the digest`);
  if (run.data.status !== 'succeeded') gaps.push(`the run ${run.data.status}${run.data.failureReason ? `: ${run.data.failureReason}` : ''}`);
  return {
    trainingRunId: run.id,
    input: { object: inputs.train.object, sha256: inputs.train.sha256, rows: inputs.train.rows },
    gaps,
    request: {
      TrainingJobName: options.jobName,
      AlgorithmSpecification: { TrainingImage: image.uri, TrainingInputMode: 'File' },
      HyperParameters: { ...run.data.hyperparameters },
      InputDataConfig: [{ ChannelName: 'train', DataSource: { S3DataSource: { S3Uri: inputs.train.channel, S3DataType: 'S3Prefix', S3DataDistributionType: 'FullyReplicated' } } }],
      OutputDataConfig: { S3OutputPath: output },
      ResourceConfig: { InstanceType: run.data.instanceType, InstanceCount: run.data.instanceCount, VolumeSizeInGB: 30 },
      StoppingCondition: { MaxRuntimeInSeconds: 24 * 3600 },
    },
  };
}
