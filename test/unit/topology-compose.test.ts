// docker-compose.yml and `npm run test:topology` must say the same thing about Temporal: the
// topology check runs the compose file's own schema and setup scripts (test/topology/support/
// compose-setup.ts), so these tests make sure it still can — without building anything — and
// that the Temporal version built for the check and the compose images stay the recorded pair.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/dev/toolchain.js';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/definitions.js';
import {
  composeDatabaseUser,
  composeSearchAttributes,
  imageTag,
  readCompose,
  schemaScript,
  setupScript,
  TEMPORAL_VERSIONS,
} from '../topology/support/compose-setup.js';

const compose = readCompose();
const schemaDir = '/opt/tools/temporal-server/schema';

describe('docker-compose.yml as run by the topology check', () => {
  it('creates and migrates both databases with temporal-sql-tool, pointed at a local PostgreSQL', () => {
    const script = schemaScript({ postgresPort: 5599, schemaDir }, compose);
    const tool = 'temporal-sql-tool --plugin postgres12 --ep 127.0.0.1 -p 5599 -u billing';
    expect(script).toContain(`tool="${tool}"`);
    expect(script).toContain('for db in temporal temporal_visibility; do');
    expect(script).toContain('$tool --db "$db" create');
    for (const [db, dir] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ]) {
      expect(script).toContain(`$tool --db ${db} setup-schema -v 0.0`);
      // The folders the bootstrap copies from the Go module (schema/postgresql/v12/...).
      expect(script).toContain(
        `$tool --db ${db} update-schema -d ${schemaDir}/postgresql/v12/${dir}/versioned`,
      );
    }
    expect(script).not.toContain('/etc/temporal');
    expect(script).not.toContain('$$');
  });

  it('fails loudly when the compose script no longer has what the check replaces', () => {
    const moved = structuredClone(compose);
    const service = moved.services['temporal-schema']!;
    service.command = [(service.command as string[])[0]!.replace('--ep postgres', '--ep db')];
    expect(() => schemaScript({ postgresPort: 5599, schemaDir }, moved)).toThrow(/no longer contains/);
  });

  it('sets up the namespace and every search attribute of the workflow, by TEMPORAL_ADDRESS', () => {
    const script = setupScript(compose);
    expect(script).toContain('temporal operator cluster health');
    expect(script).toContain('temporal operator namespace create --namespace default --retention 30d');
    expect(script).not.toMatch(/--address|temporal:7233/);
    // A fresh namespace is usable for search attributes only once the frontend's cache has it
    // (the real server; the dev server creates its namespace before it serves).
    expect(script).toMatch(/until temporal operator search-attribute list --namespace default[^\n]*; do/);
    const types: Record<string, string> = { KEYWORD: 'Keyword', DATETIME: 'Datetime' };
    expect(composeSearchAttributes(compose)).toEqual(
      Object.fromEntries(SEARCH_ATTRIBUTES.map((key) => [key.name, types[key.type]])),
    );
  });

  it('connects temporal-sql-tool as the database user the Temporal server uses', () => {
    expect(composeDatabaseUser(compose)).toBe(compose.services.temporal!.environment!.POSTGRES_USER);
  });
});

describe('the Temporal version: compose images and the server built for the check', () => {
  const bootstrap = fs.readFileSync(path.join(projectRoot, 'scripts', 'bootstrap.mjs'), 'utf8');
  const built = /const TEMPORAL_SERVER_VERSION = '([\d.]+)'/.exec(bootstrap)?.[1];

  it('are the recorded pair (change both deliberately, and the note in compose-setup.ts)', () => {
    for (const name of ['temporal', 'temporal-schema', 'temporal-setup']) {
      expect(imageTag(compose.services[name]!.image), name).toBe(TEMPORAL_VERSIONS.composeImages);
    }
    expect(built).toBe(TEMPORAL_VERSIONS.builtModule);
  });

  it('are at most one minor release apart, the step update-schema is made for', () => {
    const [imageMajor, imageMinor] = TEMPORAL_VERSIONS.composeImages.split('.').map(Number);
    const [builtMajor, builtMinor] = TEMPORAL_VERSIONS.builtModule.split('.').map(Number);
    expect(builtMajor).toBe(imageMajor);
    expect(Math.abs(imageMinor! - builtMinor!)).toBeLessThanOrEqual(1);
  });
});
