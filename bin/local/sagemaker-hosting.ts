import { createHash } from 'node:crypto';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { imageDigest } from '../../lambdas/core/pipeline';
import { resourcesOfType } from './cloud-assembly';
import { startJsonApi } from './json-api';
import type { LocalStack } from './local-stack';

/*
 * SageMaker hosting's control plane, locally: the calls a SageMakerEndpoint's
 * deployer makes (CreateModel, DescribeModel, CreateEndpointConfig,
 * DescribeEndpointConfig, UpdateEndpoint, DescribeEndpoint), over the SageMaker
 * API (JSON 1.1) on 127.0.0.1 for the bundled deployer's SDK client
 * (AWS_ENDPOINT_URL_SAGEMAKER). The stack's models, endpoint configs and
 * endpoints are created from the template, InService.
 *
 * An update is Updating for `describesPerUpdate` DescribeEndpoint calls, then
 * ends as `outcome` says: 'InService' on the new config, 'RolledBack' (InService
 * on the old config: an alarm of the update's guardrails fired) or 'Failed'.
 * No model runs and no traffic flows: InvokeEndpoint and data capture are not
 * here, so the guardrails' outcome is given, not measured.
 */

export type UpdateOutcome = 'InService' | 'RolledBack' | 'Failed';

export interface LocalSageMakerHostingOptions {
  readonly s3: S3Client;
  /** How an update of `endpoint` to `config` ends. @default 'InService' */
  readonly outcome?: (endpoint: string, config: string) => UpdateOutcome;
  /** DescribeEndpoint calls an update stays Updating for. @default 1 */
  readonly describesPerUpdate?: number;
}

interface Endpoint {
  config: string;
  status: 'InService' | 'Updating' | 'Failed';
  update?: { target: string; describesLeft: number; outcome: UpdateOutcome };
  failureReason?: string;
}

export class SageMakerApiError extends Error {
  constructor(
    readonly type: 'ValidationException' | 'ResourceNotFound',
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

function name(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) throw new SageMakerApiError('ValidationException', `1 validation error detected: Value '${String(value)}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${NAME.source}`);
  return value;
}

export class LocalSageMakerHosting {
  readonly models = new Map<string, Record<string, unknown>>();
  readonly configs = new Map<string, Record<string, unknown>>();
  readonly endpoints = new Map<string, Endpoint>();
  /** Every call, in order: `<operation> <name>`. */
  readonly calls: string[] = [];

  constructor(
    stack: LocalStack,
    private readonly options: LocalSageMakerHostingOptions,
  ) {
    const physical = (id: string, attribute: string): string => stack.resolver.resolveString({ 'Fn::GetAtt': [id, attribute] }, `${id}.${attribute}`);
    for (const [id, r] of resourcesOfType(stack.template, 'AWS::SageMaker::Model')) {
      const p = stack.resolver.resolve(r.Properties ?? {}) as Record<string, unknown>;
      this.models.set(physical(id, 'ModelName'), { ExecutionRoleArn: p.ExecutionRoleArn, PrimaryContainer: p.PrimaryContainer, EnableNetworkIsolation: p.EnableNetworkIsolation, VpcConfig: p.VpcConfig });
    }
    for (const [id, r] of resourcesOfType(stack.template, 'AWS::SageMaker::EndpointConfig')) {
      const p = stack.resolver.resolve(r.Properties ?? {}) as Record<string, unknown>;
      this.configs.set(physical(id, 'EndpointConfigName'), { ProductionVariants: p.ProductionVariants, DataCaptureConfig: p.DataCaptureConfig, KmsKeyId: p.KmsKeyId });
    }
    for (const [, r] of resourcesOfType(stack.template, 'AWS::SageMaker::Endpoint')) {
      const p = stack.resolver.resolve(r.Properties ?? {}) as Record<string, unknown>;
      this.endpoints.set(String(p.EndpointName), { config: String(p.EndpointConfigName), status: 'InService' });
    }
  }

  async call(operation: string, input: Record<string, unknown>): Promise<unknown> {
    switch (operation) {
      case 'CreateModel': {
        const model = name(input.ModelName, 'modelName');
        this.calls.push(`${operation} ${model}`);
        if (this.models.has(model)) throw new SageMakerApiError('ValidationException', `Cannot create already existing model "arn:aws:sagemaker:us-east-1:123456789012:model/${model}".`);
        const container = input.PrimaryContainer as { ModelDataUrl?: unknown } | undefined;
        if (typeof container?.ModelDataUrl === 'string') await this.exists(container.ModelDataUrl);
        this.models.set(model, { ExecutionRoleArn: input.ExecutionRoleArn, PrimaryContainer: input.PrimaryContainer, EnableNetworkIsolation: input.EnableNetworkIsolation, VpcConfig: input.VpcConfig });
        return { ModelArn: `arn:aws:sagemaker:us-east-1:123456789012:model/${model}` };
      }
      case 'DescribeModel': {
        const model = name(input.ModelName, 'modelName');
        this.calls.push(`${operation} ${model}`);
        const found = this.models.get(model);
        if (!found) throw new SageMakerApiError('ValidationException', `Could not find model "${model}".`);
        return { ModelName: model, ...found };
      }
      case 'CreateEndpointConfig': {
        const config = name(input.EndpointConfigName, 'endpointConfigName');
        this.calls.push(`${operation} ${config}`);
        if (this.configs.has(config)) throw new SageMakerApiError('ValidationException', `Cannot create already existing endpoint configuration "${config}".`);
        for (const v of (input.ProductionVariants as { ModelName?: string }[] | undefined) ?? []) {
          if (!this.models.has(String(v.ModelName))) throw new SageMakerApiError('ValidationException', `Could not find model "${String(v.ModelName)}".`);
        }
        this.configs.set(config, { ProductionVariants: input.ProductionVariants, DataCaptureConfig: input.DataCaptureConfig, KmsKeyId: input.KmsKeyId });
        return { EndpointConfigArn: `arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/${config}` };
      }
      case 'DescribeEndpointConfig': {
        const config = name(input.EndpointConfigName, 'endpointConfigName');
        this.calls.push(`${operation} ${config}`);
        const found = this.configs.get(config);
        if (!found) throw new SageMakerApiError('ValidationException', `Could not find endpoint configuration "${config}".`);
        return { EndpointConfigName: config, ...found };
      }
      case 'UpdateEndpoint': {
        const endpoint = this.endpoint(input.EndpointName);
        const config = name(input.EndpointConfigName, 'endpointConfigName');
        this.calls.push(`${operation} ${String(input.EndpointName)} ${config}`);
        if (!this.configs.has(config)) throw new SageMakerApiError('ValidationException', `Could not find endpoint configuration "${config}".`);
        if (endpoint.status !== 'InService') throw new SageMakerApiError('ValidationException', `Cannot update in-progress endpoint "${String(input.EndpointName)}".`);
        endpoint.status = 'Updating';
        endpoint.failureReason = undefined;
        endpoint.update = { target: config, describesLeft: this.options.describesPerUpdate ?? 1, outcome: this.options.outcome?.(String(input.EndpointName), config) ?? 'InService' };
        return { EndpointArn: `arn:aws:sagemaker:us-east-1:123456789012:endpoint/${String(input.EndpointName)}` };
      }
      case 'DescribeEndpoint': {
        const endpoint = this.endpoint(input.EndpointName);
        this.calls.push(`${operation} ${String(input.EndpointName)}`);
        const u = endpoint.update;
        if (u && u.describesLeft-- <= 0) {
          endpoint.update = undefined;
          if (u.outcome === 'InService') [endpoint.status, endpoint.config] = ['InService', u.target];
          else if (u.outcome === 'RolledBack') endpoint.status = 'InService';
          else [endpoint.status, endpoint.failureReason] = ['Failed', `the update to ${u.target} failed`];
        }
        return { EndpointName: input.EndpointName, EndpointConfigName: endpoint.config, EndpointStatus: endpoint.status, ProductionVariants: this.deployedVariants(endpoint.config), ...(endpoint.failureReason ? { FailureReason: endpoint.failureReason } : {}) };
      }
      default:
        throw new SageMakerApiError('ValidationException', `${operation} is not run locally`);
    }
  }

  /**
   * DescribeEndpoint's ProductionVariants: each variant of the serving config with the image its
   * model names, resolved as SageMaker resolves a tag when it deploys. Locally a tag resolves to
   * the SHA-256 of the image URI (there is no registry); an image given by digest stays as it is.
   */
  private deployedVariants(config: string): Record<string, unknown>[] {
    const variants = (this.configs.get(config)?.ProductionVariants as { VariantName?: string; ModelName?: string }[] | undefined) ?? [];
    return variants.map((v) => {
      const named = (this.models.get(v.ModelName ?? '')?.PrimaryContainer as { Image?: unknown } | undefined)?.Image;
      const image = typeof named === 'string' ? named : '';
      const resolved = imageDigest(image) ? image : `${image.replace(/:[^/:]+$/, '')}@sha256:${createHash('sha256').update(image).digest('hex')}`;
      return { VariantName: v.VariantName, DeployedImages: image ? [{ SpecifiedImage: image, ResolvedImage: resolved }] : [] };
    });
  }

  private endpoint(value: unknown): Endpoint {
    const found = this.endpoints.get(name(value, 'endpointName'));
    if (!found) throw new SageMakerApiError('ValidationException', `Could not find endpoint "${String(value)}".`);
    return found;
  }

  private async exists(uri: string): Promise<void> {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    if (!m) throw new SageMakerApiError('ValidationException', `ModelDataUrl '${uri}' is not an s3:// URL`);
    try {
      await this.options.s3.send(new HeadObjectCommand({ Bucket: m[1], Key: m[2] }));
    } catch {
      throw new SageMakerApiError('ValidationException', `Could not find model data at ${uri}.`);
    }
  }
}

/** The SageMaker API (JSON 1.1) over LocalSageMakerHosting, for SDK clients with AWS_ENDPOINT_URL_SAGEMAKER. */
export function startSageMakerApi(hosting: LocalSageMakerHosting): Promise<{ endpoint: string; close(): Promise<void> }> {
  return startJsonApi((target, input) => hosting.call(target.startsWith('SageMaker.') ? target.slice('SageMaker.'.length) : target, input), 'InternalFailure');
}
