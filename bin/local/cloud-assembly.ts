import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/*
 * Reading a synthesized cloud assembly (cdk.out) and resolving the CloudFormation
 * intrinsics in it against local physical names, so the local runner executes
 * exactly what `cdk deploy` would deploy.
 */

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown }>;
}

/** The template of one stack in a cloud assembly directory. */
export function readTemplate(outdir: string, stackName: string): CfnTemplate {
  const manifestPath = path.join(outdir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${outdir}: no cloud assembly (manifest.json missing); run the synth first`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { artifacts?: Record<string, { type: string; properties?: { templateFile?: string } }> };
  const artifact = manifest.artifacts?.[stackName];
  const templateFile = artifact?.properties?.templateFile;
  if (artifact?.type !== 'aws:cloudformation:stack' || !templateFile) {
    const stacks = Object.entries(manifest.artifacts ?? {}).filter(([, a]) => a.type === 'aws:cloudformation:stack').map(([n]) => n);
    throw new Error(`${outdir}: no stack named '${stackName}' (stacks: ${stacks.join(', ') || 'none'})`);
  }
  return JSON.parse(readFileSync(path.join(outdir, templateFile), 'utf8')) as CfnTemplate;
}

/** The logical ids of a template's resources of one type. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/**
 * The logical id of the resource of the construct at `cdkPath`, e.g.
 * `CdkMlops/Ingest/Function/Resource`: the L1 itself or the L2's default child.
 */
export function logicalIdByPath(template: CfnTemplate, cdkPath: string): string {
  const found = findLogicalIdByPath(template, cdkPath);
  if (!found) throw new Error(`no resource with construct path '${cdkPath}' in the template`);
  return found;
}

/** As logicalIdByPath, but undefined when the stack has no such construct (an optional one). */
export function findLogicalIdByPath(template: CfnTemplate, cdkPath: string): string | undefined {
  const entries = Object.entries(template.Resources);
  return (entries.find(([, r]) => r.Metadata?.['aws:cdk:path'] === cdkPath) ?? entries.find(([, r]) => r.Metadata?.['aws:cdk:path'] === `${cdkPath}/Resource`))?.[0];
}

export interface PhysicalResource {
  /** What `Ref` returns. */
  readonly ref: string;
  /** What `Fn::GetAtt` returns, by attribute. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface PseudoParameters {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly stackName: string;
}

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split and pseudo parameters. */
export class IntrinsicResolver {
  constructor(
    private readonly physical: ReadonlyMap<string, PhysicalResource>,
    private readonly pseudo: PseudoParameters,
  ) {}

  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0]!;
      switch (fn) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split(/\.(.*)/s);
          return this.getAtt(id!, attr!);
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown[]];
          return (this.resolve(parts) as unknown[]).map(String).join(sep);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [unknown, unknown];
          return (this.resolve(list) as unknown[])[Number(this.resolve(index))];
        }
        case 'Fn::Split': {
          const [sep, source] = arg as [string, unknown];
          return String(this.resolve(source)).split(sep);
        }
        case 'Fn::Sub':
          return this.sub(arg);
        default:
          if (fn.startsWith('Fn::')) throw new Error(`intrinsic ${fn} is not supported by the local runner`);
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  /** Resolves a value that must become a string. */
  resolveString(value: unknown, what: string): string {
    const out = this.resolve(value);
    if (typeof out !== 'string' && typeof out !== 'number' && typeof out !== 'boolean') throw new Error(`${what}: resolved to ${JSON.stringify(out)}, not a string`);
    return String(out);
  }

  private ref(id: string): string {
    switch (id) {
      case 'AWS::Region': return this.pseudo.region;
      case 'AWS::AccountId': return this.pseudo.accountId;
      case 'AWS::Partition': return this.pseudo.partition;
      case 'AWS::StackName': return this.pseudo.stackName;
      case 'AWS::URLSuffix': return 'amazonaws.com';
      case 'AWS::NoValue': return '';
    }
    const r = this.physical.get(id);
    if (!r) throw new Error(`Ref to unknown resource or parameter '${id}'`);
    return r.ref;
  }

  private getAtt(id: string, attr: string): string {
    const r = this.physical.get(id);
    const v = r?.attributes[attr];
    if (v === undefined) throw new Error(`Fn::GetAtt ${id}.${attr}: not known to the local runner`);
    return v;
  }

  private sub(arg: unknown): string {
    const [template, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
    return template.replace(/\$\{([^}!][^}]*)\}/g, (_m, name: string) => {
      if (name in vars) return String(this.resolve(vars[name]));
      const dot = name.indexOf('.');
      return dot > 0 ? this.getAtt(name.slice(0, dot), name.slice(dot + 1)) : this.ref(name);
    });
  }
}
