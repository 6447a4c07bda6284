import type { DatasetContract } from '../core/constraints';

/** Where contracts are read from: text by key in the artifacts bucket. */
export interface ContractSource {
  uri(key: string): string;
  getText(key: string): Promise<string | undefined>;
}

/**
 * A dataset's contract, `<prefix><dataset>.yaml` (or `.yml`, `.json`) in the
 * artifacts bucket, or undefined when it has none. An unreadable contract is an
 * InvalidContractError naming the file and field.
 */
export async function loadContract(artifacts: ContractSource, prefix: string, dataset: string): Promise<DatasetContract | undefined> {
  for (const ext of ['yaml', 'yml', 'json']) {
    const key = `${prefix}${dataset}.${ext}`;
    const text = await artifacts.getText(key);
    // The YAML parser is loaded only when there is a contract to read (cold starts without one skip it).
    if (text !== undefined) return (await import('../core/contract-file.js')).parseContract(text, artifacts.uri(key));
  }
  return undefined;
}
