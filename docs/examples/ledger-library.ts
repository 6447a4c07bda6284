// Example: appending to and reading the ledger from your own code.
import { LedgerStore } from '../../lambdas/shared/ledger-store';

const ledger = LedgerStore.fromEnvironment();

/** Records a training run derived from a dataset version; idempotent per execution. */
export async function recordTrainingRun(event: { executionId: string; datasetVersionId: string }): Promise<string> {
  const { record, created } = await ledger.append({
    kind: 'TrainingRun',
    subject: 'pipeline/churn',
    id: `tr-${event.executionId}`, // a deterministic id makes retries safe
    parents: [event.datasetVersionId],
    data: {
      pipeline: 'churn',
      executionId: event.executionId,
      datasetVersionIds: [event.datasetVersionId],
      image: { uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1.4', digest: 'sha256:0f…' },
      hyperparameters: { epochs: '20', lr: '0.01' },
      seed: 42,
      instanceType: 'ml.g5.xlarge',
      instanceCount: 1,
      status: 'succeeded',
    },
  });
  const everythingFromTheData = await ledger.derivedFrom(event.datasetVersionId);
  console.log(created ? 'recorded' : 'already recorded', record.id, `${everythingFromTheData.length} records derive from the dataset`);
  const report = await ledger.verify('pipeline/churn');
  if (!report.ok) throw new Error(`ledger chain altered: ${report.problems.map((p) => p.message).join('; ')}`);
  return record.id;
}
