// The deployment files against the code they deploy: docker-compose.yml, the systemd units and
// their environment file. Required variables come from the zod schema itself, so a variable
// added there without a default fails here until the deployment files provide it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema } from '../../src/platform/config.js';
import { WORKER_NODE_FLAGS } from '../../src/platform/temporal/worker-factory.js';
import { projectRoot } from '../../src/dev/toolchain.js';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/definitions.js';

const read = (file: string) => fs.readFileSync(path.join(projectRoot, file), 'utf8');

/** Variables the processes cannot start without: no default, not optional. */
const REQUIRED = Object.entries(envSchema.shape)
  .filter(([, schema]) => !schema.safeParse(undefined).success)
  .map(([name]) => name)
  .sort();

/** KEY=value lines that are set (not commented out). */
function envFileKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) keys.set(match[1]!, match[2]!);
  }
  return keys;
}

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  env_file?: string | string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: unknown };
  volumes?: string[];
  ports?: string[];
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  mem_limit?: string;
  tmpfs?: string[];
  stop_grace_period?: string;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;

function seconds(duration: string): number {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!match) throw new Error(`unexpected duration ${duration}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

/** The app's connection inside the stack: its own login role, its own password. */
const APP_DATABASE_URL =
  'postgresql://billing_service:${APP_DATABASE_PASSWORD:?set APP_DATABASE_PASSWORD in .env}@postgres:5432/billing';

const graceDefault = envSchema.shape.WORKER_SHUTDOWN_GRACE_SECONDS.parse(undefined);

describe('the required variables (from src/platform/config.ts)', () => {
  it('are the ones without a default', () => {
    expect(REQUIRED).toEqual(['ADMIN_TOKEN', 'DATABASE_URL', 'INTERNAL_API_TOKEN', 'STRIPE_WEBHOOK_SECRET']);
  });
});

describe('docker-compose.yml', () => {
  it.each(['worker', 'http', 'migrate', 'db-app-role'])(
    '%s runs hardened: read-only root, no capabilities, no new privileges, a memory limit',
    (name) => {
      const service = services[name]!;
      expect(service.read_only).toBe(true);
      expect(service.tmpfs).toContain('/tmp');
      expect(service.cap_drop).toEqual(['ALL']);
      expect(service.security_opt).toContain('no-new-privileges:true');
      expect(service.mem_limit).toMatch(/^\d+m$/);
    },
  );

  it("publishes only the public listener: every other port is bound to the host's loopback", () => {
    const published = Object.entries(services).flatMap(([name, service]) =>
      (service.ports ?? []).map((mapping) => ({ name, mapping: String(mapping) })),
    );
    const open = published.filter((p) => !p.mapping.startsWith('127.0.0.1:'));
    const http = services.http!.environment!;
    expect(open).toEqual([{ name: 'http', mapping: `${http.PUBLIC_PORT}:${http.PUBLIC_PORT}` }]);
    expect(http.PUBLIC_PORT).not.toBe(http.PORT);
  });

  it('has the whole stack: PostgreSQL, Temporal on it, UI, setup, migrations, worker, HTTP service', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'db-app-role',
        'http',
        'migrate',
        'postgres',
        'temporal',
        'temporal-schema',
        'temporal-setup',
        'temporal-ui',
        'worker',
      ].sort(),
    );
    expect(services.temporal!.image).toMatch(/^temporalio\/server:\d/);
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(services['temporal-schema']!.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
    expect(services.migrate!.command).toEqual(['node_modules/.bin/prisma', 'migrate', 'deploy']);
  });

  it('gives the worker and the HTTP service every required variable', () => {
    const example = envFileKeys(read('.env.example'));
    for (const name of ['worker', 'http']) {
      const service = services[name]!;
      expect(service.build, name).toBe('.');
      expect(service.env_file, name).toBe('.env');
      const missing = REQUIRED.filter((v) => !(v in (service.environment ?? {})) && !example.has(v));
      expect(missing, `${name} lacks`).toEqual([]);
      // Inside the stack these must point at the stack, whatever .env says.
      expect(service.environment!.DATABASE_URL).toBe(APP_DATABASE_URL);
      expect(service.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(services.http!.environment!.HOST).toBe('0.0.0.0');
    expect(services.worker!.command).toEqual([
      'node',
      ...WORKER_NODE_FLAGS,
      '--import',
      'tsx',
      'src/worker.ts',
    ]);
    expect(services.http!.command).toEqual(['node', '--import', 'tsx', 'src/api/main.ts']);
    // The image's default command is the worker, with the same flags.
    expect(read('Dockerfile')).toContain(
      `CMD ${JSON.stringify(['node', ...WORKER_NODE_FLAGS, '--import', 'tsx', 'src/worker.ts']).replaceAll(',', ', ')}`,
    );
  });

  it('starts the app only after migrations, its database role and Temporal setup, each after what it needs', () => {
    for (const name of ['worker', 'http']) {
      expect(services[name]!.depends_on).toEqual({
        'db-app-role': { condition: 'service_completed_successfully' },
        'temporal-setup': { condition: 'service_completed_successfully' },
      });
    }
    expect(services['db-app-role']!.depends_on).toEqual({
      migrate: { condition: 'service_completed_successfully' },
    });
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services['temporal-schema']!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services.temporal!.depends_on).toEqual({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    expect(services['temporal-setup']!.depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
  });

  it('migrates as the owner; the app connects as its own role and never sees the owner’s password', () => {
    const owner = services.postgres!.environment!.POSTGRES_USER!;
    const ownerUrl = `postgresql://${owner}:\${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}@postgres:5432/billing`;
    expect(services.migrate!.environment).toEqual({ MIGRATION_DATABASE_URL: ownerUrl });
    expect(services['db-app-role']!.environment).toEqual({
      MIGRATION_DATABASE_URL: ownerUrl,
      DATABASE_URL: APP_DATABASE_URL,
    });
    expect(services['db-app-role']!.command).toEqual(['node', '--import', 'tsx', 'scripts/db-app-role.ts']);
    expect(new URL(APP_DATABASE_URL.replace(/\$\{[^}]+\}/, 'x')).username).not.toBe(owner);
    // Temporal keeps the owner's credentials.
    expect(services.temporal!.environment!.POSTGRES_USER).toBe(owner);
    for (const name of ['worker', 'http']) {
      const environment = services[name]!.environment!;
      // env_file .env holds POSTGRES_PASSWORD for compose itself: the app's copy is blanked.
      expect(environment.POSTGRES_PASSWORD, name).toBe('');
      expect(environment.MIGRATION_DATABASE_URL, name).toBe('');
      expect(JSON.stringify(environment), name).not.toContain('${POSTGRES_PASSWORD');
    }
  });

  it('registers every custom search attribute with its type', () => {
    const script = JSON.stringify(services['temporal-setup']!.command);
    for (const key of SEARCH_ATTRIBUTES) {
      const type = { KEYWORD: 'Keyword', DATETIME: 'Datetime' }[key.type as string];
      expect(script).toContain(`${key.name}=${type}`);
    }
  });

  it('has health checks, a named volume for PostgreSQL, and a stop grace above the worker’s', () => {
    for (const name of ['postgres', 'temporal', 'worker', 'http']) {
      expect(services[name]!.healthcheck, name).toBeDefined();
    }
    expect(services.postgres!.volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
    expect(Object.keys(compose.volumes)).toEqual(['postgres-data']);
    const grace = Number(services.worker!.environment!.WORKER_SHUTDOWN_GRACE_SECONDS ?? graceDefault);
    expect(seconds(services.worker!.stop_grace_period!)).toBeGreaterThan(grace + 15);
  });
});

describe('systemd units', () => {
  const unit = (name: string) => {
    const settings = new Map<string, string[]>();
    for (const line of read(`deploy/systemd/${name}`).split('\n')) {
      const match = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (match) settings.set(match[1]!, [...(settings.get(match[1]!) ?? []), match[2]!]);
    }
    return (key: string) => settings.get(key)?.at(-1);
  };

  it('stop with SIGTERM, restart, and are hardened', () => {
    for (const name of ['billing-worker.service', 'billing-http.service']) {
      const get = unit(name);
      expect(get('KillSignal'), name).toBe('SIGTERM');
      expect(get('Restart'), name).toBe('always');
      expect(get('RestartPreventExitStatus'), name).toBe('78');
      expect(get('NoNewPrivileges'), name).toBe('true');
      expect(get('ProtectSystem'), name).toBe('strict');
      expect(get('ProtectHome'), name).toBe('true');
      expect(get('PrivateTmp'), name).toBe('true');
      expect(get('EnvironmentFile'), name).toBe('/etc/billing/billing.env');
    }
    expect(unit('billing-worker.service')('ExecStart')).toBe(
      `/usr/bin/node ${WORKER_NODE_FLAGS.join(' ')} --import tsx src/worker.ts`,
    );
    expect(unit('billing-http.service')('ExecStart')).toBe('/usr/bin/node --import tsx src/api/main.ts');
  });

  it('give the worker longer to stop than its grace time plus the force margin', () => {
    const env = envFileKeys(read('deploy/systemd/billing.env.example'));
    const grace = Number(env.get('WORKER_SHUTDOWN_GRACE_SECONDS') ?? graceDefault);
    expect(Number(unit('billing-worker.service')('TimeoutStopSec'))).toBeGreaterThan(grace + 15);
  });

  it('keep the owner apart: the units connect as the app role; migrate.env.example has the owner for migrations', () => {
    const units = envFileKeys(read('deploy/systemd/billing.env.example'));
    const migrations = envFileKeys(read('deploy/systemd/migrate.env.example'));
    expect(units.has('MIGRATION_DATABASE_URL')).toBe(false);
    expect([...migrations.keys()]).toEqual(['MIGRATION_DATABASE_URL']);
    const user = (url: string | undefined) => new URL(url!).username;
    expect(user(units.get('DATABASE_URL'))).not.toBe(user(migrations.get('MIGRATION_DATABASE_URL')));
  });

  it('billing.env.example sets every required variable, with values the schema accepts', () => {
    const env = envFileKeys(read('deploy/systemd/billing.env.example'));
    expect(REQUIRED.filter((v) => !env.has(v))).toEqual([]);
    const parsed = envSchema.safeParse(Object.fromEntries(env));
    expect(parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'))).toEqual([]);
  });
});
