/* Environment variables of the kit's functions, read or refused by name (no SDK imports: the inference bundle uses these). */

/** Reads a required environment variable or fails with its name. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** Reads a required environment variable holding a whole number >= `min`, or fails naming it. */
export function wholeNumberEnv(name: string, min: number, env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(requireEnv(name, env));
  if (!Number.isInteger(n) || n < min) throw new Error(`environment ${name}: expected a whole number >= ${min} (got ${env[name]})`);
  return n;
}
