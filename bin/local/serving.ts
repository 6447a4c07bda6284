import { LocalAlarms } from './alarms';
import { LocalCloudWatch } from './cloudwatch';
import { LocalCodeDeploy, startCodeDeployApi, type LocalCodeDeployOptions } from './codedeploy';
import { LocalLambda, serveFunctionUrl, startLambdaApi } from './lambda-service';
import type { LocalStack } from './local-stack';

/*
 * What serving needs locally, beside the emulators: Lambda versions and
 * aliases, CodeDeploy and CloudWatch alarms (see each file), their APIs on
 * 127.0.0.1 for the bundled deployer's SDK clients, and Function URLs served
 * over HTTP.
 */

export interface LocalServing {
  readonly cloudwatch: LocalCloudWatch;
  /** The stack's alarms, their state changes delivered through its EventBridge rules. */
  readonly alarms: LocalAlarms;
  readonly lambda: LocalLambda;
  readonly codedeploy: LocalCodeDeploy;
  /** Serves a function's alias over HTTP (a Function URL); closed with the rest. */
  serve(functionId: string, alias?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startLocalServing(stack: LocalStack, options: LocalCodeDeployOptions & { random?: () => number } = {}): Promise<LocalServing> {
  const cloudwatch = new LocalCloudWatch(stack);
  // EMF lines of every function the stack runs (the drift monitor's too) become datapoints
  stack.setLogSink((line) => cloudwatch.putEmf(line));
  const lambda = new LocalLambda(stack, cloudwatch, undefined, options.random);
  const codedeploy = new LocalCodeDeploy(stack, lambda, cloudwatch, options);
  const apis = await Promise.all([startLambdaApi(lambda), startCodeDeployApi(codedeploy)]);
  stack.addServiceEndpoints({ AWS_ENDPOINT_URL_LAMBDA: apis[0].endpoint, AWS_ENDPOINT_URL_CODEDEPLOY: apis[1].endpoint });
  const servers: { close(): Promise<void> }[] = [...apis];
  return {
    cloudwatch,
    alarms: new LocalAlarms(stack, cloudwatch),
    lambda,
    codedeploy,
    async serve(functionId, alias = 'live') {
      const server = await serveFunctionUrl(lambda, functionId, alias);
      servers.push(server);
      return server.url;
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
