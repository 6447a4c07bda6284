import { Token } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';

/**
 * A training image in ECR named by its tag and trained by its digest. Given as
 * a `TrainingPipeline`'s `trainingImage`, the pipeline resolves the tag before
 * each training job (ECR DescribeImages, a step of its own), trains on
 * `<repository URI>@sha256:…` and records that digest in the TrainingRun: the
 * run can be repeated from its record after the tag has moved on, and a tag
 * pushed while a run is under way changes nothing in it. A tag that names no
 * image stops the run at that step, with an Incident.
 *
 * Anywhere else (as a plain `DockerImage`) it is the repository at the tag.
 *
 * @example
 * new TrainingPipeline(this, 'Churn', {
 *   trainingImage: PinnedEcrImage.fromRepository(ecr.Repository.fromRepositoryName(this, 'Repo', 'churn-trainer'), 'stable'),
 *   ...
 * });
 */
export class PinnedEcrImage extends tasks.DockerImage {
  /** @param tag the tag to resolve. @default 'latest' */
  static fromRepository(repository: ecr.IRepository, tag = 'latest'): PinnedEcrImage {
    return new PinnedEcrImage(repository, tag);
  }

  private constructor(
    /** The repository the image is in. */
    readonly repository: ecr.IRepository,
    /** The tag resolved before each training job. */
    readonly tag: string,
  ) {
    super();
    if (!Token.isUnresolved(tag) && !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) {
      throw new Error(`PinnedEcrImage: tag ${JSON.stringify(tag)} is not an image tag (letters, digits, '_', '.', '-', up to 128; to give a digest, use DockerImage.fromEcrRepository(repository, 'sha256:…'), which is pinned already)`);
    }
  }

  /** The repository at the tag, with pull rights for the task (what `DockerImage.fromEcrRepository` gives). */
  override bind(task: tasks.ISageMakerTask): tasks.DockerImageConfig {
    this.repository.grantPull(task);
    return { imageUri: this.repository.repositoryUriForTag(this.tag) };
  }
}
