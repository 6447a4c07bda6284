import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import { MlopsStack } from '../lib/mlops-stack';
import { mlopsStackProps, readSettings } from '../lib/mlops-settings';

/**
 * The context in cdk.json, which the CDK CLI passes to the app. The local runner
 * and the tests build the app in-process and pass it themselves, so they build
 * exactly the app that deploys.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const file = path.join(__dirname, '..', 'cdk.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
}

/**
 * The reference app: `npx cdk synth` / `npx cdk deploy`. Settings come from
 * cdk.json context (see lib/mlops-settings.ts); cdk-nag's AwsSolutions, NIST
 * 800-53 rev5 and Serverless packs check the whole app on every synth.
 */
export function buildApp(props: AppProps = {}): { app: App; stack: MlopsStack } {
  const app = new App(props);
  const settings = readSettings(app.node);
  const stack = new MlopsStack(app, settings.stackName, mlopsStackProps(settings));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app), new ServerlessChecks(app));
  return { app, stack };
}

if (require.main === module) {
  buildApp().app.synth();
}
