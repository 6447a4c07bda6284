import { Stack, Token, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges the one cdk-nag finding a prefix-scoped object grant creates
 * (`AwsSolutions-IAM5[Resource::<Bucket.Arn>/<prefix>*]`) on the grantee, with
 * the reason. Object keys under a prefix are created at run time, so the grant
 * cannot name them; it is limited to the prefix instead. Grantees that are not
 * constructs (and so carry no findings) are left alone.
 */
export function acknowledgeObjectPrefixGrant(grantee: iam.IGrantable, bucket: s3.IBucket, keyPattern: string, reason: string): void {
  const principal = grantee.grantPrincipal as Partial<IConstruct>;
  if (!principal.node) return;
  const cfn = bucket.node.defaultChild;
  const arn = cfn instanceof s3.CfnBucket ? `<${Stack.of(cfn).getLogicalId(cfn)}.Arn>` : Token.isUnresolved(bucket.bucketArn) ? undefined : bucket.bucketArn;
  if (!arn) return;
  Validations.of(principal as IConstruct).acknowledge({ id: `AwsSolutions-IAM5[Resource::${arn}/${keyPattern}]`, reason });
}
