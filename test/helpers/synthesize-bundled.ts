import { renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { synthesize } from '../../bin/local/synth';

/*
 * Synthesizes the reference app with its Lambdas bundled into `<dir>/out`, then
 * writes `<dir>/done.json` (the stack name). Run by test/global-setup.ts in a
 * child process, once per test run, while the first tests run; startLocal({
 * bundle: true }) without context waits for it instead of bundling again.
 */
const dir = process.argv[2];
if (!dir) throw new Error('usage: synthesize-bundled.ts <dir>');
const stackName = synthesize(path.join(dir, 'out'));
// written whole, then renamed: a reader never sees half of it
writeFileSync(path.join(dir, 'done.json.tmp'), JSON.stringify({ stackName }));
renameSync(path.join(dir, 'done.json.tmp'), path.join(dir, 'done.json'));
