import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { cdkJsonContext } from '../app';
import { runTrainingJob, type LocalTrainingImages, type TrainingJobRequest } from './sagemaker-training';

/*
 * The local stand-ins for the service integrations the kit's state machines
 * use, for bin/local/state-machine.ts: SageMaker training (`.sync`) runs the
 * command mapped to the image; SNS publishes are kept, in order, for the report
 * and the tests (nothing is sent).
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

export function localServices(options: { s3: S3Client; images?: LocalTrainingImages; notifications?: Notification[] }): Record<string, (input: unknown) => Promise<unknown>> {
  const images = options.images ?? localTrainingImages();
  return {
    'arn:aws:states:::sagemaker:createTrainingJob.sync': (input) => runTrainingJob(input as TrainingJobRequest, { s3: options.s3, images }),
    'arn:aws:states:::sns:publish': (input) => {
      const p = input as { TopicArn: string; Subject?: string; Message: unknown };
      options.notifications?.push({ topicArn: p.TopicArn, subject: p.Subject, message: p.Message });
      return Promise.resolve({ MessageId: `local-${(options.notifications?.length ?? 0).toString().padStart(6, '0')}` });
    },
  };
}
