// The README's configuration table is generated from .env.example, and .env.example names every
// variable the configuration schema reads: neither can fall behind the code.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envRows, readmeTable, renderEnvTable, tableCells } from '../../scripts/env-table.js';
import { envSchema } from '../../src/platform/config.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const example = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

describe('configuration documentation', () => {
  it('README table = the table generated from .env.example (npm run docs:env)', () => {
    expect(tableCells(readmeTable(readme))).toEqual(tableCells(renderEnvTable(envRows(example))));
  });

  it('.env.example documents every variable of the schema', () => {
    const documented = new Set(envRows(example).map((r) => r.variable));
    const schemaVariables = Object.keys(envSchema.shape);
    expect(schemaVariables.filter((v) => !documented.has(v))).toEqual([]);
  });
});
