// `node --import tsx src/platform/temporal/bundle-workflows.ts <out-file>`: bundles the workflows with the
// SDK's bundler and writes the code to <out-file>. The worker runs this as a child process (see
// workflow-bundle.ts) so webpack's memory is never part of the long-lived worker.
import fs from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from './workflow-bundle.js';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: bundle-workflows.ts <out-file>\n');
  process.exit(2);
}
const { code } = await bundleWorkflowCode({ workflowsPath });
fs.writeFileSync(out, code);
