// Example: the validation and bias gates in your own stack, with your thresholds.
import { Size, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { BiasGate, DataLake, LineageLedger, ProfileShards, ValidateDataset, ValidationGate } from '../../lib';

export class GatesExampleStack extends Stack {
  readonly validation: ValidationGate;
  readonly bias: BiasGate;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const lake = new DataLake(this, 'Lake');
    const ledger = new LineageLedger(this, 'Ledger', { wormBucket: lake.ledgerBucket });
    // Contracts live in the artifacts bucket at contracts/<dataset>.yaml.
    this.validation = new ValidationGate(this, 'Validation', {
      dataLake: lake,
      ledger,
      driftThresholds: { psi: 0.25, ks: 0.15 },
      columnDriftThresholds: { income: { psi: 0.1 } },
    });
    this.bias = new BiasGate(this, 'Bias', {
      dataLake: lake,
      ledger,
      config: {
        label: { column: 'approved', values: ['yes'] },
        // invoked with { datasetVersionId, modelVersionId }, the gate scores the holdout with the
        // candidate ONNX model: a score above 0.5 is a positive prediction
        model: { probabilityThreshold: 0.5, batchSize: 2048 },
        facets: [{ column: 'sex', values: ['female'] }, { column: 'age', threshold: 60 }],
        groupColumn: 'region',
        thresholds: { CI: 0.6, DPL: 0.1, KL: 0.2, DPPL: 0.1, DI: { min: 0.8, max: 1.25 }, RD: 0.1 },
      },
      modelArtifactsPattern: 'registry/*',
    });
  }
}

/**
 * Example: the ValidateDataset fragment inside your own pipeline, branching on
 * the verdict. Big versions are profiled in a Distributed Map first.
 */
export class ValidateThenTrainExampleStack extends Stack {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const dataLake = new DataLake(this, 'Lake');
    const ledger = new LineageLedger(this, 'Ledger', { wormBucket: dataLake.ledgerBucket });
    const validationGate = new ValidationGate(this, 'Validation', { dataLake, ledger });
    const profileShards = new ProfileShards(this, 'Shards', { dataLake, ledger, thresholdSize: Size.gibibytes(1), shardSize: Size.mebibytes(256) });
    const validate = new ValidateDataset(this, 'Validate', { validationGate, profileShards, maxConcurrency: 50 });
    const verdict = new sfn.Choice(this, 'Valid?')
      .when(sfn.Condition.booleanEquals('$.validation.passed', true), new sfn.Succeed(this, 'Train next'))
      .otherwise(new sfn.Fail(this, 'Invalid data', { errorPath: '$.validation.reason', causePath: '$.validation.reportUri' }));
    this.stateMachine = new sfn.StateMachine(this, 'Pipeline', {
      definitionBody: sfn.DefinitionBody.fromChainable(validate.next(verdict)),
      tracingEnabled: true,
      logs: { destination: new logs.LogGroup(this, 'PipelineLogs', { retention: logs.RetentionDays.ONE_YEAR }), level: sfn.LogLevel.ALL },
    });
    ValidateDataset.acknowledgeNagFindings(this.stateMachine);
  }
}
