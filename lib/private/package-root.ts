import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The kit's own root: the folder holding its package.json and the Lambda
 * sources (`lambdas/`) the constructs bundle. Found by walking up from this
 * file, so it holds both for the TypeScript sources (`lib/private/`) and for
 * the published JavaScript (`dist/lib/private/`).
 */
export const PACKAGE_ROOT = findPackageRoot(__dirname);

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'lambdas'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cdk-mlops: no package.json with a lambdas/ folder above ${from}: the package is incomplete, reinstall it.`);
  }
}
