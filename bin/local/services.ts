import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { cdkJsonContext } from '../app';
import type { LocalStack } from './local-stack';
import { LocalSageMaker } from './sagemaker-registry';
import { describeLocalImages, runTrainingJob, type LocalTrainingImages, type TrainingJobRequest } from './sagemaker-training';

/*
 * The local stand-ins for the service integrations the kit's state machines
 * use, for bin/local/state-machine.ts: SageMaker training (`.sync`) runs the
 * command mapped to the image; the Model Registry and Neo are LocalSageMaker;
 * SNS publishes are kept, in order, for the report and the tests (nothing is
 * sent); a publish that waits for a task token (a manual approval) is answered
 * by the `approver`, as `cdk-mlops pipeline approve` would answer it.
 */

const ROOT = path.resolve(__dirname, '..', '..');

/** Context `cdk-mlops:localTrainingImages` (image or repository → command), with `node` and project-relative paths made absolute. */
export function localTrainingImages(context: Record<string, unknown> = cdkJsonContext()): LocalTrainingImages {
  const raw = (context['cdk-mlops:localTrainingImages'] ?? {}) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(raw).map(([image, command]) => {
      if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string')) throw new Error(`context 'cdk-mlops:localTrainingImages.${image}' must be a command: a non-empty list of strings`);
      const args: string[] = command;
      const argv = args.map((arg, i) => {
        if (i === 0 && arg === 'node') return process.execPath;
        if (['--require', '-r', '--import'].includes(args[i - 1] ?? '')) return require.resolve(arg, { paths: [ROOT] }); // a preload, from the project's node_modules
        return !path.isAbsolute(arg) && existsSync(path.join(ROOT, arg)) ? path.join(ROOT, arg) : arg;
      });
      return [image, argv];
    }),
  );
}

export interface Notification {
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: unknown;
}

/** What an approver sends back (SendTaskSuccess output); throw to send SendTaskFailure. */
export interface ApprovalAnswer {
  readonly approved: boolean;
  readonly by: string;
  readonly comment?: string;
}

export interface LocalServicesOptions {
  readonly s3: S3Client;
  /** The stack whose model package groups exist. */
  readonly stack: LocalStack;
  readonly images?: LocalTrainingImages;
  readonly notifications?: Notification[];
  /** Answers manual approvals. @default - approves, by 'local approver' */
  readonly approver?: (request: Notification & { readonly taskToken: string }) => ApprovalAnswer | Promise<ApprovalAnswer>;
  /** The Model Registry and Neo. @default - a new LocalSageMaker with the stack's groups */
  readonly sageMaker?: LocalSageMaker;
}

/** The model package groups the template creates. */
export function templateModelPackageGroups(stack: LocalStack): string[] {
  return Object.entries(stack.template.Resources)
    .filter(([, r]) => r.Type === 'AWS::SageMaker::ModelPackageGroup')
    .map(([id, r]) => stack.resolver.resolveString((r.Properties ?? {}).ModelPackageGroupName, `${id} ModelPackageGroupName`));
}

export function localServices(options: LocalServicesOptions): Record<string, (input: unknown) => Promise<unknown>> {
  const images = options.images ?? localTrainingImages();
  const sageMaker = options.sageMaker ?? new LocalSageMaker({ s3: options.s3, groups: templateModelPackageGroups(options.stack) });
  const notify = (input: unknown): Notification => {
    const p = input as { TopicArn: string; Subject?: string; Message: unknown };
    const n = { topicArn: p.TopicArn, subject: p.Subject, message: p.Message };
    options.notifications?.push(n);
    return n;
  };
  const call = (f: (input: Record<string, unknown>) => Promise<unknown>) => (input: unknown) => f(input as Record<string, unknown>);
  return {
    'arn:aws:states:::aws-sdk:ecr:describeImages': call((i) => Promise.resolve(describeLocalImages(i, images))),
    'arn:aws:states:::sagemaker:createTrainingJob.sync': (input) => runTrainingJob(input as TrainingJobRequest, { s3: options.s3, images }),
    'arn:aws:states:::aws-sdk:sagemaker:createModelPackage': call((i) => sageMaker.createModelPackage(i)),
    'arn:aws:states:::aws-sdk:sagemaker:updateModelPackage': call((i) => sageMaker.updateModelPackage(i)),
    'arn:aws:states:::aws-sdk:sagemaker:createCompilationJob': call((i) => sageMaker.createCompilationJob(i)),
    'arn:aws:states:::aws-sdk:sagemaker:describeCompilationJob': call((i) => sageMaker.describeCompilationJob(i)),
    'arn:aws:states:::sns:publish': (input) => {
      notify(input);
      return Promise.resolve({ MessageId: `local-${(options.notifications?.length ?? 0).toString().padStart(6, '0')}` });
    },
    'arn:aws:states:::sns:publish.waitForTaskToken': async (input) => {
      const n = notify(input);
      const taskToken = /--token (\S+)/.exec(String(n.message))?.[1];
      if (!taskToken) throw new Error('the approval message carries no task token (--token ...)');
      return (options.approver ?? (() => ({ approved: true, by: 'local approver' })))({ ...n, taskToken });
    },
  };
}
