#!/usr/bin/env node
// The `billing` command: runs the TypeScript CLI (src/cli/main.ts) through tsx, in-process.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exit(await main(process.argv));
