import { motoUnavailableReason } from '../../bin/local/moto';

/*
 * Whether the moto conformance tests run: moto's server where it is installed (these machines'
 * python3 has it; elsewhere `pip install "moto[server]"`). Where it is absent the suites say so in
 * one line and skip; with CDK_MLOPS_REQUIRE_PYTHON_TOOLS=1 (what .ci/run sets) its absence fails the run.
 */

let checked: string | undefined | null = null;

/** True when moto's server can run; else prints why once and returns false, or throws when it is required. */
export function motoAvailable(suite: string): boolean {
  if (checked === null) checked = motoUnavailableReason();
  if (checked === undefined) return true;
  if (process.env.CDK_MLOPS_REQUIRE_PYTHON_TOOLS === '1') throw new Error(`${suite}: moto is required (CDK_MLOPS_REQUIRE_PYTHON_TOOLS=1) but ${checked}`);
  console.log(`SKIPPED ${suite}: the moto conformance suite needs moto's server, and ${checked}`);
  return false;
}
