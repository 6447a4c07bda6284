// Example: close the loop in your own stack — a drift monitor on an ONNX endpoint that
// retrains its pipeline when the captured traffic drifts from the serving model's training
// data, the endpoint's health alarm rolling a bad release back (on by default), and one
// operations dashboard over the pipeline, the gates, the endpoint and the monitor.
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import type { Construct } from 'constructs';
import { DataLake, DriftMonitor, LineageLedger, OnnxEndpoint, OpsDashboard, PinnedEcrImage, TrainingPipeline, ValidationGate } from '../../lib';

export class MonitoringExampleStack extends Stack {
  readonly monitor: DriftMonitor;
  readonly dashboard: OpsDashboard;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const lake = new DataLake(this, 'Lake');
    const ledger = new LineageLedger(this, 'Ledger', { wormBucket: lake.ledgerBucket });
    const validationGate = new ValidationGate(this, 'Validation', { dataLake: lake, ledger });

    // Releases watched for an hour after they finish: a health alarm in that time rolls back.
    const endpoint = new OnnxEndpoint(this, 'Churn', { dataLake: lake, ledger, captureSampleRate: 0.1, rollbackWindow: Duration.hours(2) });
    const pipeline = new TrainingPipeline(this, 'ChurnPipeline', {
      dataLake: lake,
      ledger,
      validationGate,
      // trained by the digest tag 'stable' names when each run starts, recorded in its TrainingRun
      trainingImage: PinnedEcrImage.fromRepository(ecr.Repository.fromRepositoryName(this, 'Trainer', 'churn-trainer'), 'stable'),
      label: { column: 'churned', values: ['yes'] },
      endpoint,
    });

    // Every 30 minutes, the last 2 hours of captured traffic against the serving model's
    // training data: PSI and JS per feature, the prediction shift; two bad runs in a row alarm,
    // and the drift alarm starts one retraining on the newest data (never two at once).
    this.monitor = new DriftMonitor(this, 'ChurnDrift', {
      endpoint,
      dataLake: lake,
      ledger,
      features: ['tenure_months', 'monthly_charges', 'contract'],
      retrain: pipeline,
      interval: Duration.minutes(30),
      window: Duration.hours(2),
      evaluationPeriods: 2,
      thresholds: { psi: 0.25, jsDistance: 0.15, predictionShift: 0.1 },
    });

    this.dashboard = new OpsDashboard(this, 'Ops', {
      dashboardName: 'churn-operations',
      pipelines: [pipeline],
      validationGate,
      endpoints: [endpoint],
      driftMonitors: [this.monitor],
      period: Duration.minutes(15),
    });
  }
}
