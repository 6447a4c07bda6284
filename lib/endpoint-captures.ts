import type * as kms from 'aws-cdk-lib/aws-kms';

/**
 * Where an endpoint captures sampled traffic in the artifacts bucket, and in
 * what format: what a DriftMonitor reads.
 */
export interface EndpointCaptures {
  /** Key prefix of the hour folders (`<prefix>yyyy/mm/dd/hh/`), ending in '/'. */
  readonly prefix: string;
  /**
   * 'cdk-mlops': an OnnxEndpoint's JSON Lines (`<time>-<request>.jsonl`, a row per line
   * with `__prediction` and `__model_version`); 'sagemaker': SageMaker data capture
   * (a line per invocation: `captureData`, `eventMetadata.inferenceTime`).
   */
  readonly format: 'cdk-mlops' | 'sagemaker';
  /** The key the captures are encrypted with, when it is not the data lake's. @default - the data lake's key */
  readonly encryptionKey?: kms.IKey;
}

/** An endpoint a DriftMonitor can watch: its name (ledger subject `endpoint/<name>`) and its captures. */
export interface MonitoredEndpoint {
  readonly endpointName: string;
  /** Undefined when the endpoint captures nothing. */
  readonly captures?: EndpointCaptures;
  /**
   * False when the endpoint's releases are not recorded in the ledger: then a
   * monitor cannot know which model serves.
   * @default true
   */
  readonly recordsReleases?: boolean;
}
