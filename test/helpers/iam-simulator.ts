import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { CfnTemplate } from '../../bin/local/cloud-assembly';
import type { IntrinsicResolver } from '../../bin/local/cloud-assembly';

/*
 * The deployed policies, decided by an independent IAM policy simulator (@cloud-copilot/iam-simulate:
 * identity and resource policies, every condition operator): what a request signed by one of the
 * kit's roles would get from AWS. moto enforces no IAM (its bucket-policy check ignores conditions),
 * so the adversarial tests ask here first and play on moto only what the policies would let through,
 * or what an administrator who removed them could do.
 */

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

type PolicyDocument = { Version?: string; Statement: unknown };

/** A role of the template with the identity policies attached to it (inline and AWS::IAM::Policy), resolved. */
export interface TemplateRole {
  readonly logicalId: string;
  /** The construct path (aws:cdk:path), for messages. */
  readonly path: string;
  readonly arn: string;
  readonly policies: readonly { readonly name: string; readonly policy: PolicyDocument }[];
}

export interface TemplateView {
  readonly template: CfnTemplate;
  readonly resolver: IntrinsicResolver;
}

const ACCOUNT_OF = (arn: string): string => /^arn:[^:]+:[^:]*:[^:]*:(\d{12}):/.exec(arn)?.[1] ?? '000000000000';

/** Every IAM role of the template, each with its identity policies (managed AWS policies left out: they grant logs and X-Ray only). */
export function templateRoles(view: TemplateView): TemplateRole[] {
  const resources = Object.entries(view.template.Resources);
  return resources
    .filter(([, r]) => r.Type === 'AWS::IAM::Role')
    .map(([id, r]) => {
      const inline = ((r.Properties?.Policies as { PolicyName: string; PolicyDocument: unknown }[] | undefined) ?? []).map((p) => ({ name: p.PolicyName, policy: view.resolver.resolve(p.PolicyDocument) as PolicyDocument }));
      const attached = resources
        .filter(([, p]) => p.Type === 'AWS::IAM::Policy' && ((p.Properties?.Roles as { Ref?: string }[] | undefined) ?? []).some((role) => role.Ref === id))
        .map(([pid, p]) => ({ name: pid, policy: view.resolver.resolve(p.Properties!.PolicyDocument) as PolicyDocument }));
      return { logicalId: id, path: cdkPath(r.Metadata) ?? id, arn: view.resolver.resolveString({ 'Fn::GetAtt': [id, 'Arn'] }, id), policies: [...inline, ...attached] };
    });
}

/** The bucket policy of a bucket (by its logical id), resolved; undefined when it has none. */
export function bucketPolicy(view: TemplateView, bucketId: string): PolicyDocument | undefined {
  const found = Object.values(view.template.Resources).find((r) => r.Type === 'AWS::S3::BucketPolicy' && (r.Properties?.Bucket as { Ref?: string } | undefined)?.Ref === bucketId);
  return found ? (view.resolver.resolve(found.Properties!.PolicyDocument) as PolicyDocument) : undefined;
}

/** A table's resource policy (by its logical id), resolved; `Resource: '*'` there means the table itself. */
export function tablePolicy(view: TemplateView, tableId: string): PolicyDocument | undefined {
  const doc = (view.template.Resources[tableId]?.Properties?.ResourcePolicy as { PolicyDocument?: unknown } | undefined)?.PolicyDocument;
  return doc ? (view.resolver.resolve(doc) as PolicyDocument) : undefined;
}

/** What AWS would answer `role` asking `action` on `resource`, with the request's condition keys. */
export async function decide(role: Pick<TemplateRole, 'arn' | 'policies'>, action: string, resource: string, resourcePolicy: PolicyDocument | undefined, context: Record<string, string | string[]> = {}): Promise<Decision> {
  const result = await runSimulation(
    {
      request: { principal: role.arn, action, resource: { resource, accountId: ACCOUNT_OF(role.arn) }, contextVariables: { 'aws:PrincipalArn': role.arn, 'aws:PrincipalAccount': ACCOUNT_OF(role.arn), 'aws:SecureTransport': 'true', ...context } },
      identityPolicies: role.policies.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`the IAM simulator refused ${action} on ${resource}: ${result.errors.message} ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}

/** A resource's construct path (aws:cdk:path), when the template carries it. */
export function cdkPath(metadata: Record<string, unknown> | undefined): string | undefined {
  const p = metadata?.['aws:cdk:path'];
  return typeof p === 'string' ? p : undefined;
}
