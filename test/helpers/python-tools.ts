import { spawnSync } from 'node:child_process';

/*
 * Python tools the suite uses where they are installed (these machines have both; elsewhere
 * `pip install cfn-lint "moto[server]"`). Absent, a suite says so in one line and skips; with
 * CDK_MLOPS_REQUIRE_PYTHON_TOOLS=1 (what .ci/run sets) its absence fails the run.
 */

const reasons = new Map<string, string | undefined>();

/** True when `command --version` runs; else prints why once and returns false, or throws when the tools are required. */
export function toolAvailable(suite: string, command: string, install: string): boolean {
  if (!reasons.has(command)) {
    const probe = spawnSync(command, ['--version'], { encoding: 'utf8', timeout: 60_000 });
    reasons.set(command, probe.error ? `${command} cannot be run (${probe.error.message})` : probe.status !== 0 ? `${command} --version exited ${probe.status}` : undefined);
  }
  const reason = reasons.get(command);
  if (reason === undefined) return true;
  if (process.env.CDK_MLOPS_REQUIRE_PYTHON_TOOLS === '1') throw new Error(`${suite}: ${command} is required (CDK_MLOPS_REQUIRE_PYTHON_TOOLS=1) but ${reason}`);
  console.log(`SKIPPED ${suite}: ${reason} (${install})`);
  return false;
}
