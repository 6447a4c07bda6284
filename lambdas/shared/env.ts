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

/** A service's endpoint override as the SDK reads it (AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL): the local emulators. */
export function endpointOverride(service: 's3' | 'dynamodb', env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] ?? env.AWS_ENDPOINT_URL;
}
