import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { contractFromDocument, InvalidContractError, type DatasetContract } from './constraints';

/*
 * Contracts as files: YAML (or JSON, which YAML reads too) to DatasetContract
 * and back. Apart from constraints.ts so that code which only applies
 * contracts does not load the YAML parser (about 15 ms of an inference
 * function's cold start); it loads this module when it reads a file.
 */

/** Parses and checks a contract (JSON or YAML text); a bad field is an InvalidContractError naming it. */
export function parseContract(text: string, file = 'contract'): DatasetContract {
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new InvalidContractError(`${file}: not valid JSON or YAML (${(err as Error).message})`, { cause: err });
  }
  return contractFromDocument(raw, file);
}

/** The contract as YAML (what `cdk-mlops contract suggest` prints). */
export function contractToYaml(contract: DatasetContract): string {
  return stringifyYaml(contract);
}
