import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { checkBiasConfig, InvalidBiasConfigError, type BiasGateConfig } from '../lambdas/core/bias-gate';
import { DEFAULT_MODELS_PREFIX } from './private/defaults';
import { createGateFunction, type GateCommonProps, type GateFunction } from './private/gate-function';

export interface BiasGateProps extends GateCommonProps {
  /**
   * What to measure and the limits: the label and its positive outcome (values or
   * a threshold), one or more sensitive facets, optionally the prediction column
   * (post-training metrics on scored rows) and a group column (CDDL), and a
   * threshold per metric (`0.1` means |value| ≤ 0.1; `{ min: 0.8 }` bounds DI).
   */
  readonly config: BiasGateConfig;
  /**
   * Keys in the artifacts bucket the gate may read candidate models from (a
   * ModelVersion's `artifact.uri`).
   * @default 'models/*'
   */
  readonly modelArtifactsPattern?: string;
}

/**
 * The bias gate: a Lambda that computes SageMaker Clarify's bias metrics for a
 * DatasetVersion, per facet, in one streaming pass; checks them against the
 * thresholds; stores a report; appends a GateReport to the ledger; and returns
 * `{ passed, reason, ... }` for a state machine to branch on.
 *
 * Invoked with `{ datasetVersionId }` it is a pre-training check; with
 * `{ datasetVersionId, modelVersionId }` it also runs the candidate ONNX model
 * (onnxruntime-node, bundled for the function's architecture) over the rows in
 * batches and checks the post-training metrics.
 */
export class BiasGate extends Construct {
  readonly function: lambda.IFunction;
  readonly metricsNamespace: string;
  readonly serviceName: string;
  private readonly gate: GateFunction;

  constructor(scope: Construct, id: string, props: BiasGateProps) {
    super(scope, id);
    try {
      checkBiasConfig(props.config);
    } catch (err) {
      if (err instanceof InvalidBiasConfigError) throw new Error(`BiasGate: invalid 'config': ${err.message}`, { cause: err });
      throw err;
    }
    this.gate = createGateFunction(this, {
      ...props,
      entry: 'bias-gate',
      description: 'cdk-mlops: computes Clarify-style bias metrics of a dataset version and records a GateReport',
      environment: { BIAS_CONFIG: JSON.stringify(props.config) },
      onnxRuntime: true,
    });
    props.dataLake.grantReadArtifacts(this.gate.role, props.modelArtifactsPattern ?? `${DEFAULT_MODELS_PREFIX}*`);
    this.function = this.gate.function;
    this.metricsNamespace = this.gate.metricsNamespace;
    this.serviceName = this.gate.serviceName;
  }

  /** Datasets that passed. Statistic: Sum; period: 5 minutes. */
  metricPassed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.gate.metric('BiasGatePassed', props);
  }

  /** Datasets that failed (a threshold breached, a metric undefined, or unreadable). Statistic: Sum; period: 5 minutes. */
  metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.gate.metric('BiasGateFailed', props);
  }

  /** Bias checks over their thresholds per run. Statistic: Sum; period: 5 minutes. */
  metricChecksFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.gate.metric('BiasChecksFailed', props);
  }
}
