import { Aspects, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges the one cdk-nag finding a prefix-scoped object grant creates
 * (`AwsSolutions-IAM5[Resource::<bucket ARN>/<prefix>*]`) on the grantee, with
 * the reason. Object keys under a prefix are created at run time, so the grant
 * cannot name them; it is limited to the prefix instead. Grantees that are not
 * constructs (and so carry no findings) are left alone.
 */
export function acknowledgeObjectPrefixGrant(grantee: iam.IGrantable, bucket: s3.IBucket, keyPattern: string, reason: string): void {
  const principal = grantee.grantPrincipal as Partial<IConstruct>;
  if (!principal.node) return;
  const arn = renderLikeNag(Stack.of(principal as IConstruct).resolve(bucket.bucketArn));
  if (arn === undefined) return;
  Validations.of(principal as IConstruct).acknowledge({ id: `AwsSolutions-IAM5[Resource::${arn}/${keyPattern}]`, reason });
}

/** A wildcard resource of a role and why it is needed. */
export interface WildcardReason {
  /** Matches the resource as cdk-nag renders it (e.g. `<Fn.Arn>:*`, `*`). */
  readonly resource: RegExp;
  readonly reason: string;
}

/**
 * Acknowledges, on `scope`, the AwsSolutions-IAM5 finding of every wildcard
 * resource in the IAM policies under it that a rule explains; a wildcard no
 * rule explains is left for cdk-nag to report. For policies CDK writes itself
 * (a state machine's role and its Distributed Map policy): the scan runs as an
 * aspect, once they are written.
 */
export function acknowledgeWildcards(scope: IConstruct, reasons: readonly WildcardReason[]): void {
  let done = false;
  Aspects.of(scope).add({
    visit: (node) => {
      if (node !== scope || done) return;
      done = true;
      const stack = Stack.of(scope);
      const seen = new Set<string>();
      for (const policy of scope.node.findAll().filter((c): c is iam.Policy => c instanceof iam.Policy)) {
        const doc = stack.resolve(policy.document.toJSON()) as { Statement?: { Resource?: unknown }[] } | undefined;
        for (const statement of doc?.Statement ?? []) {
          for (const resource of Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]) {
            const rendered = renderLikeNag(resource);
            if (rendered === undefined || !rendered.includes('*') || seen.has(rendered)) continue;
            const rule = reasons.find((r) => r.resource.test(rendered));
            if (!rule) continue;
            seen.add(rendered);
            Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason: rule.reason });
          }
        }
      }
    },
  });
}

/**
 * Renders a resolved value as cdk-nag names it in finding ids: Ref -> <X>,
 * GetAtt -> <X.Attr>, pseudo parameters -> <AWS::X>, Join -> concatenation,
 * any other intrinsic -> its JSON.
 */
function renderLikeNag(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  const getAtt = v['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
  const join = v['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = (join[1] as unknown[]).map(renderLikeNag);
    return parts.every((p) => p !== undefined) ? parts.join(join[0]) : undefined;
  }
  return JSON.stringify(value);
}

/** Why a state machine's role has the wildcards every kit state machine has (Lambda tasks, tracing, logging). */
export const STATE_MACHINE_WILDCARDS: readonly WildcardReason[] = [
  {
    resource: /^<[A-Za-z0-9]+\.Arn>:\*$/,
    reason: "Step Functions' Lambda task grant covers the function's versions and aliases (<function ARN>:*) so a qualified ARN can be invoked; it names this workflow's functions only.",
  },
  {
    resource: /^\*$/,
    reason:
      'X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) and CloudWatch Logs vended log delivery (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) support no resource-level permissions, so tracing and execution logging need Resource::*.',
  },
];

/** The compliance packs whose rules share names (NIST 800-53 rev5, HIPAA Security, PCI DSS 3.2.1): one reason for all three. */
const COMPLIANCE_PACKS = ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'] as const;

/** Acknowledges `rule` (e.g. 'LambdaInsideVPC') of every compliance pack that has it on `scope`, with one reason. */
export function acknowledgeControl(scope: IConstruct, rule: string, reason: string): void {
  for (const pack of COMPLIANCE_PACKS) Validations.of(scope).acknowledge({ id: `${pack}-${rule}`, reason });
}

/**
 * Acknowledges the compliance packs' IAMNoInlinePolicy on `scope`: CDK writes
 * a role's grants (and a state machine's Distributed Map policy) as inline
 * policies of that one role.
 */
export function acknowledgeInlinePolicies(scope: IConstruct): void {
  acknowledgeControl(scope, 'IAMNoInlinePolicy', "CDK's grants write this role's permissions as an inline policy attached to this one role and deleted with it; a customer managed policy would be a second, attachable copy of permissions scoped for this role alone.");
}

/**
 * The reason a kit function has no reserved concurrency: what bounds it, and
 * (when its construct offers one) the property that caps it.
 */
export function unreservedConcurrency(bound: string, property?: string): string {
  return `${bound}. No reservation by default: one is taken from the account's pool and Lambda refuses any that leaves under 100 unreserved, so a default would fail to deploy on accounts at small quotas${property ? `; set '${property}' to cap it` : ''}.`;
}

/** Acknowledges the compliance packs' CloudWatchAlarmAction on an alarm whose state is acted on by `actedOnBy` rather than an alarm action. */
export function acknowledgeAlarmWithoutAction(alarm: IConstruct, actedOnBy: string): void {
  acknowledgeControl(alarm, 'CloudWatchAlarmAction', `${actedOnBy}; an action of its own would notify twice for one event.`);
}

/** Acknowledges the Serverless pack's SQSRedrivePolicy on a dead-letter queue (it is the end of a redrive, not the start of one). */
export function acknowledgeDeadLetterQueue(queue: IConstruct, of: string): void {
  Validations.of(queue).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: `It is the dead-letter queue of ${of}; a dead-letter queue has no dead-letter queue of its own: messages stay 14 days, and its alarm notifies the alarm topic when one arrives.` });
}
