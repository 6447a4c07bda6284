import { Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
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

/** Renders a resolved value as cdk-nag names it in finding ids: Ref -> <X>, GetAtt -> <X.Attr>, Join -> concatenation. */
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
  return undefined;
}
