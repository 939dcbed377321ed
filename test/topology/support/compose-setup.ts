// docker-compose.yml is the one place that says how Temporal's databases are created and
// migrated (the `temporal-schema` service) and how the namespace and the search attributes are
// set up (`temporal-setup`). The topology check runs those very scripts on this machine, with
// only what differs outside a container replaced: the database's host and port, and where the
// schema files are. Each replacement must match, so a changed compose file fails here rather
// than being silently skipped.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../../src/dev/toolchain.js';

interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
  command?: string[] | string;
}

export function readCompose(file = path.join(projectRoot, 'docker-compose.yml')) {
  return parse(fs.readFileSync(file, 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
}

/**
 * The Temporal version docker-compose.yml runs and the one built here from the Go module proxy.
 * They differ because 1.31's module depends on one the proxy does not serve. The gap is one
 * minor release: 1.31's PostgreSQL schema adds one version to each database (a table for a
 * feature this service does not use, two generated columns of visibility) and the compose
 * `temporal-schema` service applies it with the same `update-schema` command this check runs;
 * the SDK's client and worker APIs this service uses are the same in both. A test fails when
 * either side moves, so the gap is looked at again rather than drifting.
 */
export const TEMPORAL_VERSIONS = { composeImages: '1.31.0', builtModule: '1.30.4' } as const;

/** `image: name:tag` → tag. */
export function imageTag(image: string | undefined): string {
  const tag = image?.split(':')[1];
  if (!tag) throw new Error(`docker-compose.yml: image "${image}" has no tag`);
  return tag;
}

/** The script of a one-shot setup service (entrypoint `/bin/sh -c`), with compose's `$$` unescaped. */
export function composeScript(service: string, compose = readCompose()): string {
  const command = compose.services[service]?.command;
  const script = Array.isArray(command) ? command[0] : command;
  if (typeof script !== 'string') throw new Error(`docker-compose.yml: service ${service} has no script`);
  return script.replaceAll('$$', '$');
}

/** Replaces `from` with `to` everywhere, and throws when `from` does not occur. */
function replaceRequired(script: string, from: string, to: string, what: string): string {
  if (!script.includes(from)) {
    throw new Error(
      `docker-compose.yml no longer contains "${from}" (${what}); update test/topology/support/compose-setup.ts`,
    );
  }
  return script.replaceAll(from, to);
}

/** In the container: the server `postgres:5432`, schemas under /etc/temporal/schema. */
const COMPOSE_DATABASE_ENDPOINT = '--ep postgres -p 5432';
const COMPOSE_SCHEMA_DIR = '/etc/temporal/schema';

/** The `temporal-schema` script against a PostgreSQL at 127.0.0.1:`port` and the module's schemas. */
export function schemaScript(options: { postgresPort: number; schemaDir: string }, compose = readCompose()) {
  let script = composeScript('temporal-schema', compose);
  script = replaceRequired(
    script,
    COMPOSE_DATABASE_ENDPOINT,
    `--ep 127.0.0.1 -p ${options.postgresPort}`,
    'the database endpoint of temporal-sql-tool',
  );
  return replaceRequired(script, COMPOSE_SCHEMA_DIR, options.schemaDir, 'the schema folder of admin-tools');
}

/** The `temporal-setup` script as is: the `temporal` CLI reads TEMPORAL_ADDRESS from the environment. */
export function setupScript(compose = readCompose()) {
  return composeScript('temporal-setup', compose);
}

/** Who temporal-sql-tool connects as in docker-compose.yml (`-u <user>`); the check creates that role. */
export function composeDatabaseUser(compose = readCompose()): string {
  const user = / -u ([^\s"]+)/.exec(composeScript('temporal-schema', compose))?.[1];
  if (!user) throw new Error('docker-compose.yml: temporal-sql-tool has no -u <user>');
  return user;
}

/** `Name=Type` pairs the setup script registers. */
export function composeSearchAttributes(compose = readCompose()): Record<string, string> {
  const list = /for attr in ([^;]+);/.exec(setupScript(compose))?.[1];
  if (!list) throw new Error('docker-compose.yml: temporal-setup registers no search attributes');
  return Object.fromEntries(
    list
      .trim()
      .split(/\s+/)
      .map((pair) => pair.split('=') as [string, string]),
  );
}
