import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../bin/app';
import { DataLakeExampleStack } from '../../docs/examples/data-lake';
import { DatasetIngestExampleStack } from '../../docs/examples/dataset-ingest';
import { EndpointsExampleStack } from '../../docs/examples/endpoints';
import { GatesExampleStack, ValidateThenTrainExampleStack } from '../../docs/examples/gates';
import { LineageLedgerExampleStack } from '../../docs/examples/lineage-ledger';
import { MonitoringExampleStack } from '../../docs/examples/monitoring';
import { TrainingPipelineExampleStack } from '../../docs/examples/training-pipeline';
import { toolAvailable } from '../helpers/python-tools';
import { APP_CONTEXT, SKIP_BUNDLING } from '../helpers/stacks';

/*
 * AWS's CloudFormation linter (cfn-lint) on every template the kit's apps synthesize: the reference
 * app as cdk.json has it and with a SageMaker endpoint, and each documentation example. Zero
 * E-level findings; warnings are CDK's own (W3005: a role's DependsOn beside its GetAtt).
 */

const SUITE = 'cfn-lint on the synthesized templates';
const run = toolAvailable(SUITE, 'cfn-lint', 'pip install cfn-lint');
const dir = mkdtempSync(path.join(tmpdir(), 'cdk-mlops-cfn-lint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, stack: Stack): string {
  const file = path.join(dir, `${name}.template.json`);
  writeFileSync(file, JSON.stringify((stack.node.root as App).synth().getStackByName(stack.stackName).template, null, 1));
  return file;
}

function templates(): string[] {
  const context = APP_CONTEXT();
  const reference = buildApp({ context });
  const withSageMaker = buildApp({
    context: {
      ...context,
      'cdk-mlops:sageMakerEndpoint': { name: 'cps-wages-gpu', repository: 'cps-inference', tag: 'v3', initialModelDataUrl: 's3://models-bucket/cps/model.tar.gz', instanceType: 'ml.g5.xlarge', autoscaling: { maxCapacity: 4, targetInvocationsPerInstance: 100 }, dataCapturePercent: 20 },
      'cdk-mlops:trainingPipeline': { ...(context['cdk-mlops:trainingPipeline'] as object), releaseTo: 'sageMakerEndpoint' },
      'cdk-mlops:driftMonitor': { ...(context['cdk-mlops:driftMonitor'] as object), watch: 'sageMakerEndpoint' },
    },
  });
  const example = (context: Record<string, unknown> = {}) => new App({ context: { ...SKIP_BUNDLING, ...context } });
  // what `cdk synth` caches in cdk.context.json after the VPC lookup (without it CDK synthesizes its placeholder 'vpc-12345')
  const vpcLookup = {
    'vpc-provider:account=123456789012:filter.vpc-id=vpc-0123456789abcdef0:region=eu-west-1:returnAsymmetricSubnets=true': {
      vpcId: 'vpc-0123456789abcdef0',
      vpcCidrBlock: '10.0.0.0/16',
      ownerAccountId: '123456789012',
      availabilityZones: [],
      subnetGroups: [{ name: 'Isolated', type: 'Isolated', subnets: ['a', 'b'].map((az, i) => ({ subnetId: `subnet-0123456789abcdef${i}`, cidr: `10.0.${i}.0/24`, availabilityZone: `eu-west-1${az}`, routeTableId: `rtb-0123456789abcdef${i}` })) }],
    },
  };
  const env = { account: '123456789012', region: 'us-east-1' };
  return [
    write('reference', reference.stack),
    write('reference-sagemaker', withSageMaker.stack),
    write('example-data-lake', new DataLakeExampleStack(example(), 'Example')),
    write('example-lineage-ledger', new LineageLedgerExampleStack(example(), 'Example')),
    write('example-dataset-ingest', new DatasetIngestExampleStack(example(), 'Example', { existingDataBucketName: 'team-data' })),
    write('example-gates', new GatesExampleStack(example(), 'Gates')),
    write('example-validate-then-train', new ValidateThenTrainExampleStack(example(), 'Pipeline')),
    write('example-training-pipeline', new TrainingPipelineExampleStack(example(vpcLookup), 'Train', { env: { account: '123456789012', region: 'eu-west-1' }, existingDataBucketName: 'team-data', existingKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', vpcId: 'vpc-0123456789abcdef0' })),
    write('example-endpoints', new EndpointsExampleStack(example(), 'Example', { env })),
    write('example-monitoring', new MonitoringExampleStack(example(), 'Example', { env })),
  ];
}

describe.skipIf(!run)(SUITE, () => {
  it('finds no error (E-level) in any template the reference app and the examples synthesize', () => {
    // GIVEN
    const files = templates();
    // WHEN: one cfn-lint run over all of them, parseable output (file:line:col:line:col:RULE:message)
    const lint = spawnSync('cfn-lint', ['--format', 'parseable', '--', ...files], { encoding: 'utf8', timeout: 170_000 });
    expect(lint.error).toBeUndefined();
    const findings = lint.stdout.split('\n').filter(Boolean);
    // THEN
    const errors = findings.filter((f) => /:E\d{4}:/.test(f));
    expect(errors, errors.join('\n')).toEqual([]);
    // the linter did read them: the W3005 warnings CDK's roles always carry are there
    expect(findings.some((f) => f.includes('reference.template.json') && /:W3005:/.test(f))).toBe(true);
  }, 180_000);
});
