import { contractFromDocument, InvalidContractError, type DatasetContract } from '../core/constraints';
import { sha256Hex } from '../core/lineage';

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

/**
 * The contract a release applies, fixed when the model is released: the dataset
 * the model was trained on and its contract then (null: it had none). The
 * deployer stores it as JSON and pins its key on the function version, so an
 * inference function reads it in one request, with no ledger walk and no YAML
 * parser on its cold start; and a release keeps the contract it was released with.
 */
export interface ReleasedContract {
  readonly dataset: string | null;
  readonly contract: DatasetContract | null;
}

/** Where a released contract is stored and its JSON: content-addressed, so a write-once key never meets another body. */
export function releasedContractObject(endpoint: string, released: ReleasedContract): { key: string; body: string } {
  const body = JSON.stringify({ dataset: released.dataset, contract: released.contract });
  return { key: `releases/${endpoint}/contracts/${sha256Hex(body)}.json`, body };
}

/**
 * Reads a released contract's JSON, checked against the SHA-256 its key names (an object
 * replaced after the release does not match); anything else is an InvalidContractError naming the file.
 */
export function parseReleasedContract(text: string, file: string): ReleasedContract {
  const [named, actual] = [/([0-9a-f]{64})\.json$/.exec(file)?.[1], sha256Hex(text)];
  if (named !== actual) throw new InvalidContractError(`${file}: its SHA-256 is ${actual}, not the one its key names`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidContractError(`${file}: not JSON (${(err as Error).message})`, { cause: err });
  }
  const doc = (raw ?? {}) as { dataset?: unknown; contract?: unknown };
  if (doc.dataset !== null && typeof doc.dataset !== 'string') throw new InvalidContractError(`${file}: dataset: expected a string or null`);
  return { dataset: doc.dataset, contract: doc.contract === null || doc.contract === undefined ? null : contractFromDocument(doc.contract, file) };
}
