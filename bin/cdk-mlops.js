#!/usr/bin/env node
// `npx cdk-mlops ...`: runs the TypeScript CLI through tsx.
'use strict';
require('tsx/cjs');
const { main } = require('./cli.ts');
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`cdk-mlops: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = err && (err.name === 'UsageError' || String(err.code).startsWith('ERR_PARSE_ARGS')) ? 2 : 1;
  },
);
