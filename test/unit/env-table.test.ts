// The configuration table of docs/configuration.md is generated from .env.example, and
// .env.example names every variable the configuration schema reads: neither can fall behind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONFIGURATION_DOC,
  documentedTable,
  envRows,
  renderEnvTable,
  tableCells,
} from '../../scripts/env-table.js';
import { envSchema } from '../../src/platform/config.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const example = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
const doc = fs.readFileSync(path.join(root, CONFIGURATION_DOC), 'utf8');

describe('configuration documentation', () => {
  it('docs/configuration.md table = the table generated from .env.example (npm run docs:env)', () => {
    expect(tableCells(documentedTable(doc))).toEqual(tableCells(renderEnvTable(envRows(example))));
  });

  it('.env.example documents every variable of the schema', () => {
    const documented = new Set(envRows(example).map((r) => r.variable));
    const schemaVariables = Object.keys(envSchema.shape);
    expect(schemaVariables.filter((v) => !documented.has(v))).toEqual([]);
  });
});
