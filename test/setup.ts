// Node 20: Promise.withResolvers for aws-local-stepfunctions; the SDK's Node 22 notice off.
import '../bin/local/node20';

// Handlers under test log JSON and emit EMF; keep test output readable.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
