import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, cdkJsonContext } from '../../bin/app';

/** Context that skips esbuild bundling: construct tests assert templates, not bundles. */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

export function testStack(context: Record<string, unknown> = {}): Stack {
  const app = new App({ context: { ...SKIP_BUNDLING, ...context } });
  return new Stack(app, 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
}

/** The reference app's stack and template, without bundling. */
export function referenceTemplate(context: Record<string, unknown> = {}): { template: Template; stackName: string } {
  const { stack } = buildApp({ context: { ...cdkJsonContext(), ...SKIP_BUNDLING, ...context } });
  return { template: Template.fromStack(stack), stackName: stack.stackName };
}

/** The reference app as the CLI builds it (cdk.json context), without bundling. */
export const APP_CONTEXT = (): Record<string, unknown> => ({ ...cdkJsonContext(), ...SKIP_BUNDLING });

/** Every IAM policy statement in a template, with the policy's logical id. */
export function iamStatements(template: Template): { policy: string; statement: { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown } }[] {
  const out: { policy: string; statement: any }[] = [];
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    for (const statement of (res as any).Properties.PolicyDocument.Statement) out.push({ policy: id, statement });
  }
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const p of (res as any).Properties.Policies ?? []) for (const statement of p.PolicyDocument.Statement) out.push({ policy: id, statement });
  }
  return out;
}

export const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** The dashboard body with its tokens joined: the widgets' JSON. */
export function dashboardBody(template: Template): string {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
  const join = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as { 'Fn::Join'?: [string, unknown[]]; Ref?: string; 'Fn::GetAtt'?: string[] };
    if (o['Fn::Join']) return o['Fn::Join'][1].map(join).join(o['Fn::Join'][0]);
    if (o.Ref) return `\${${o.Ref}}`;
    if (o['Fn::GetAtt']) return `\${${o['Fn::GetAtt'].join('.')}}`;
    throw new Error(`unexpected token in the dashboard body: ${JSON.stringify(v)}`);
  };
  return join(dashboard!.Properties.DashboardBody);
}
