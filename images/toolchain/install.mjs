#!/usr/bin/env node
// Pinned, idempotent, cached installer for the external tools of forge-workflows.
//
// Reads images/toolchain/tools.json (beside this file) and installs:
//   - "go" tools with `go install <module>@<version>` into
//       $FORGE_TOOLS_HOME/tools/<name>/<version>/<name>
//     and points $FORGE_TOOLS_HOME/bin/<name> at that binary;
//   - "apt" tools with one `apt-get install -y --no-install-recommends ...`
//     call for every package whose `binary` is missing.
// FORGE_TOOLS_HOME defaults to $HOME/.cache/forge-workflows.
//
// Plain Node.js ESM with node: built-ins only: it runs before `npm ci`.
//
// Usage:
//   node images/toolchain/install.mjs                 install what is missing
//   node images/toolchain/install.mjs --only cue,git  install a subset
//   node images/toolchain/install.mjs --check [--json] [--only ...]
//                                                     report, install nothing
// See images/toolchain/README.md.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localModuleCopy } from './go-local-module.mjs';
import { installUpstreamFiles, missingFiles, upstreamFileSets } from './upstream-files.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MANIFEST = path.resolve(process.env.FORGE_TOOLS_MANIFEST || path.join(HERE, 'tools.json'));
const TOOLS_HOME = path.resolve(
  process.env.FORGE_TOOLS_HOME || path.join(os.homedir(), '.cache', 'forge-workflows'),
);
const BIN_DIR = path.join(TOOLS_HOME, 'bin');
const LOG_DIR = path.join(TOOLS_HOME, 'logs');
// The machines this runs on have 2 cores: never more than 2 `go install` at once.
const MAX_GO_JOBS = Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
const TAIL_LINES = 20;
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

// ---------------------------------------------------------------- arguments

function usage() {
  return [
    'usage: node images/toolchain/install.mjs [--check [--json]] [--only name,name...]',
    '',
    '  (no flags)     install every pinned tool that is missing (cached ones are skipped)',
    '  --check        install nothing; print name, pinned version, path and reported version',
    '  --json         with --check: print {tool: {version, path, reported}} as JSON',
    '  --only a,b     restrict to these tools (names from images/toolchain/tools.json)',
    '',
    `  FORGE_TOOLS_HOME  cache directory (now ${TOOLS_HOME})`,
  ].join('\n');
}

function parseArgs(argv) {
  const opts = { check: false, json: false, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') opts.check = true;
    else if (a === '--json') opts.json = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) fail(2, '--only needs a comma-separated list of tool names');
      opts.only = [...(opts.only ?? []), ...v.split(',').map((s) => s.trim()).filter(Boolean)];
    } else if (a === '-h' || a === '--help') {
      console.log(usage());
      process.exit(0);
    } else fail(2, `unknown argument: ${a}\n${usage()}`);
  }
  if (opts.json && !opts.check) fail(2, '--json is only meaningful with --check');
  return opts;
}

function fail(code, msg) {
  console.error(`install.mjs: ${msg}`);
  process.exit(code);
}

// ---------------------------------------------------------------- manifest

function loadManifest() {
  let raw;
  try {
    raw = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  } catch (err) {
    fail(2, `cannot read ${MANIFEST}: ${err.message}`);
  }
  const tools = [];
  for (const [name, t] of Object.entries(raw.go ?? {})) {
    if (!t.module || !t.version) fail(2, `tools.json: go tool "${name}" needs "module" and "version"`);
    tools.push({
      kind: 'go',
      name,
      module: t.module,
      version: t.version,
      versionArgs: t.versionArgs ?? ['--version'],
      // Optional: link flags for tools that stamp their version at link time
      // (e.g. argo); "{version}" is replaced by the pinned version.
      ldflags: t.ldflags ? String(t.ldflags).replaceAll('{version}', t.version) : null,
      // Optional: build from a repaired local copy of this module (go-local-module.mjs) instead
      // of `go install`, for modules that do not compile as published (argo ≥ 3.7: ui/dist/app).
      localModule: t.localModule ?? null,
      // Optional: build environment (CGO_ENABLED=0 for a static binary an image can carry alone).
      env: t.env ?? {},
      path: path.join(TOOLS_HOME, 'tools', name, t.version, name),
    });
  }
  for (const [name, t] of Object.entries(raw.apt ?? {})) {
    if (!t.package || !t.binary) fail(2, `tools.json: apt tool "${name}" needs "package" and "binary"`);
    tools.push({
      kind: 'apt',
      name,
      package: t.package,
      version: t.version ?? null, // apt tools follow the distribution; not pinned
      versionArgs: t.versionArgs ?? ['--version'],
      path: t.binary,
    });
  }
  // Upstream files the tests check manifests against (upstream-files.mjs).
  tools.push(...upstreamFileSets(raw.files, TOOLS_HOME, fail));
  return tools;
}

function selectTools(tools, only) {
  if (!only) return tools;
  const known = new Set(tools.map((t) => t.name));
  const unknown = only.filter((n) => !known.has(n));
  if (unknown.length) {
    fail(2, `--only: unknown tool(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  }
  return tools.filter((t) => only.includes(t.name));
}

// ---------------------------------------------------------------- helpers

const label = (t) => `${t.name} ${t.version ?? `(apt ${t.package})`}`;
const secs = (start) => `${((Date.now() - start) / 1000).toFixed(1)}s`;
const isExecutable = (p) => {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};
const tail = (text, n = TAIL_LINES) =>
  text.replace(/\s+$/, '').split('\n').slice(-n).map((l) => `    | ${l}`).join('\n');
const shq = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
const cmdline = (env, cmd, args) =>
  [...Object.entries(env).map(([k, v]) => `${k}=${shq(v)}`), cmd, ...args.map(shq)].join(' ');

const activeChildren = new Set();

/** Runs a command, capturing stdout+stderr interleaved. Never rejects. */
function run(cmd, args, { env = {}, logFile, cwd, append = false } = {}) {
  return new Promise((resolve) => {
    let out = '';
    let child;
    const log = logFile ? fs.createWriteStream(logFile, { flags: append ? 'a' : 'w' }) : null;
    if (log) log.write(`$ ${cmdline(env, cmd, args)}\n`);
    try {
      child = spawn(cmd, args, {
        env: { ...process.env, ...env },
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      log?.end();
      resolve({ code: 127, out: String(err.message) });
      return;
    }
    activeChildren.add(child);
    const onData = (d) => {
      out += d;
      if (out.length > 1 << 20) out = out.slice(-(1 << 19)); // keep the tail only
      log?.write(d);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      out += `\n${err.message}`;
    });
    child.on('close', (code, signal) => {
      activeChildren.delete(child);
      log?.end();
      resolve({ code: code ?? 128, signal, out });
    });
  });
}

function runSync(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, ...opts });
  return { code: r.status ?? (r.error ? 127 : 128), out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

/** Atomically points BIN_DIR/<name> at the tool's pinned binary. Returns true if it changed. */
function linkBin(t) {
  fs.mkdirSync(BIN_DIR, { recursive: true });
  const link = path.join(BIN_DIR, t.name);
  const target = path.relative(BIN_DIR, t.path);
  let current = null;
  try {
    current = fs.readlinkSync(link);
  } catch {
    /* missing or not a symlink */
  }
  if (current === target) return false;
  const tmp = `${link}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link); // replaces an old symlink (other version) atomically
  return true;
}

function binLinkOk(t) {
  try {
    return fs.readlinkSync(path.join(BIN_DIR, t.name)) === path.relative(BIN_DIR, t.path);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- go tools

const activeTemps = new Set();

/** `go` from PATH, else the usual install location (PATH may not include it in CI). */
let GO = 'go';
function findGo() {
  for (const cand of ['go', '/usr/local/go/bin/go', '/usr/lib/go/bin/go']) {
    const r = runSync(cand, ['version']);
    if (r.code === 0) {
      GO = cand;
      return r.out.trim();
    }
  }
  return null;
}

// The Go module proxy reachable here serves pinned versions but answers
// 403/404 for some modules' version lists (`@v/list`, `@latest`). `go install
// mod@version` needs that list only to look for deprecation / retraction
// notices, and fails outright. This recognises that failure.
const LIST_LOOKUP_FAILED = /loading (deprecation|retractions) for .*(@v\/list|@latest).*\b(403|404|410)\b/s;

/**
 * Fallback build for LIST_LOOKUP_FAILED: a throw-away module that requires the
 * tool at its pinned version (`go get`, checksums verified against go.sum and
 * the checksum database as usual), then `go build` of the package. The build
 * list is the one `go install mod@version` would use; like `go install`, it
 * refuses modules whose go.mod has replace/exclude directives.
 */
async function buildViaTempModule(t, tmpBin, logFile) {
  const work = fs.mkdtempSync(path.join(path.dirname(tmpBin), `.mod-${t.version}-`));
  activeTemps.add(work);
  const env = { GOWORK: 'off', GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=mod`.trim() };
  const opts = { env, cwd: work, logFile, append: true };
  const steps = [
    ['mod', 'init', `forge-workflows.local/toolchain/${t.name}`],
    ['get', `${t.module}@${t.version}`],
    ['list', '-f', '{{.Module.Path}} {{.Module.Version}} {{.Module.GoMod}}', t.module],
  ];
  try {
    let listed = '';
    for (const args of steps) {
      const r = await run(GO, args, opts);
      if (r.code !== 0) return { ...r, command: `cd ${shq(work)} && ${cmdline(env, 'go', args)}` };
      listed = r.out;
    }
    const [modPath, modVersion, goMod] = listed.trim().split('\n').pop().split(' ');
    if (modVersion !== t.version) {
      return { code: 1, out: `${modPath} resolved to ${modVersion}, not ${t.version}`, command: 'go list' };
    }
    const directives = (goMod && fs.existsSync(goMod) ? fs.readFileSync(goMod, 'utf8') : '')
      .split('\n')
      .filter((l) => /^\s*(replace|exclude)\b/.test(l));
    if (directives.length) {
      return {
        code: 1,
        command: `go install ${t.module}@${t.version}`,
        out: `${modPath}@${modVersion}'s go.mod has replace/exclude directives (${directives[0].trim()} …): it cannot be built with go install; pin another version`,
      };
    }
    const args = ['build', ...(t.ldflags ? [`-ldflags=${t.ldflags}`] : []), '-o', `${tmpBin}${path.sep}`, t.module];
    const r = await run(GO, args, opts);
    return { ...r, command: `cd ${shq(work)} && ${cmdline(env, 'go', args)}` };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    activeTemps.delete(work);
  }
}

/**
 * Build for a tool with `localModule`: inside a local copy of the module (go-local-module.mjs; the
 * download is checked against the checksum database as usual) with the files its zip lacks created
 * or restored, so the module's own go.mod and go.sum apply (replace directives included, which
 * `go install mod@version` refuses). Used for argo ≥ 3.7, whose CLI embeds ui/dist/app (not in
 * git, so not in the module zip); the placeholder page is all `argo lint` and `argo submit` need.
 */
async function buildViaLocalModule(t, tmpBin, logFile) {
  const lm = t.localModule;
  if (!t.module.startsWith(`${lm.path}/`)) {
    return { code: 1, out: `tools.json: ${t.name}: module ${t.module} is not a package of localModule.path ${lm.path}`, command: 'tools.json' };
  }
  const work = path.join(TOOLS_HOME, 'tools', t.name, `.local-${t.version}`);
  activeTemps.add(work);
  try {
    let copy;
    try {
      copy = await localModuleCopy({ go: GO, modulePath: lm.path, version: t.version, dir: work, restoreFiles: lm.restoreFiles, createFiles: lm.createFiles });
    } catch (err) {
      return { code: 1, out: err.message, command: `go mod download ${lm.path}@${t.version}` };
    }
    for (const r of copy.repaired) console.log(`${label(t)} … ${r}`);
    const env = { GOWORK: 'off', GOFLAGS: '-mod=mod -buildvcs=false', CGO_ENABLED: '0' };
    const args = ['build', '-trimpath', ...(t.ldflags ? [`-ldflags=${t.ldflags}`] : []), '-o', path.join(tmpBin, t.name), `./${t.module.slice(lm.path.length + 1)}`];
    const r = await run(GO, args, { env, cwd: copy.dir, logFile, append: true });
    return { ...r, command: `cd ${shq(copy.dir)} && ${cmdline(env, 'go', args)}` };
  } finally {
    // The copy is only needed for this build (the module cache keeps the download).
    fs.rmSync(work, { recursive: true, force: true });
    activeTemps.delete(work);
  }
}

async function installGo(t) {
  if (isExecutable(t.path)) {
    const relinked = linkBin(t);
    console.log(`${label(t)} ✓ cached${relinked ? ' (bin link updated)' : ''}`);
    return { ok: true, cached: true };
  }
  const start = Date.now();
  if (!t.localModule) console.log(`${label(t)} … go install ${t.module}@${t.version}`);
  const toolDir = path.join(TOOLS_HOME, 'tools', t.name);
  fs.mkdirSync(toolDir, { recursive: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  // Build into a private temp GOBIN, then rename into place: an interrupted or
  // failed build never leaves a half-written binary at the pinned path.
  const tmpBin = fs.mkdtempSync(path.join(toolDir, `.tmp-${t.version}-`));
  activeTemps.add(tmpBin);
  const logFile = path.join(LOG_DIR, `${t.name}-${t.version}.log`);
  try {
    const env = { ...t.env, GOBIN: tmpBin };
    const args = ['install', ...(t.ldflags ? [`-ldflags=${t.ldflags}`] : []), `${t.module}@${t.version}`];
    let r;
    if (t.localModule) {
      console.log(`${label(t)} … building from a local copy of ${t.localModule.path}@${t.version} (the module zip does not compile as published)`);
      r = await buildViaLocalModule(t, tmpBin, logFile);
    } else {
      r = await run(GO, args, { env, logFile });
      r.command = cmdline(env, 'go', args);
    }
    if (r.code !== 0 && !t.localModule && LIST_LOOKUP_FAILED.test(r.out)) {
      const why = r.out.split('\n').find((l) => /loading (deprecation|retractions)/.test(l)) ?? '';
      console.log(`${label(t)} … module proxy refused the version list (${why.replace(/^go: \S+@\S+: /, '').slice(0, 300)})`);
      console.log(`${label(t)} … building via go get ${t.module}@${t.version} + go build in a temp module`);
      r = await buildViaTempModule(t, tmpBin, logFile);
    }
    const built = fs.existsSync(tmpBin) ? fs.readdirSync(tmpBin) : [];
    if (r.code !== 0 || built.length !== 1) {
      const why =
        r.code !== 0
          ? `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}`
          : `expected one binary in GOBIN, found ${built.length ? built.join(', ') : 'none'}`;
      console.error(
        [
          `${label(t)} ✗ FAILED after ${secs(start)}: ${why}`,
          `    command: ${r.command}`,
          `    log:     ${logFile}`,
          `    last lines of output:`,
          tail(r.out || '(no output)'),
        ].join('\n'),
      );
      return { ok: false };
    }
    fs.mkdirSync(path.dirname(t.path), { recursive: true });
    fs.renameSync(path.join(tmpBin, built[0]), t.path); // same filesystem: atomic
    linkBin(t);
    console.log(`${label(t)} ✓ installed in ${secs(start)}`);
    return { ok: true, cached: false, seconds: (Date.now() - start) / 1000 };
  } finally {
    fs.rmSync(tmpBin, { recursive: true, force: true });
    activeTemps.delete(tmpBin);
  }
}

async function installGoTools(tools) {
  if (!tools.length) return [];
  const needBuild = tools.filter((t) => !isExecutable(t.path));
  if (needBuild.length) {
    const goVersion = findGo();
    if (!goVersion) {
      for (const t of needBuild) {
        console.error(`${label(t)} ✗ FAILED: \`go\` not found on PATH (Go ≥ 1.24 is needed to build it)`);
      }
      const cached = tools.filter((t) => isExecutable(t.path));
      const results = await Promise.all(cached.map(installGo));
      return [...results, ...needBuild.map(() => ({ ok: false }))];
    }
    console.log(`using ${goVersion} (${GO}); at most ${MAX_GO_JOBS} go install at a time`);
  }
  // Small worker pool: at most MAX_GO_JOBS builds in flight.
  const queue = [...tools];
  const results = [];
  const worker = async () => {
    while (queue.length) {
      const t = queue.shift();
      results.push(await installGo(t));
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_GO_JOBS, tools.length) }, worker));
  return results;
}

/** Upstream files (tools.json "files"): fetched from the Go module proxy unless in place. */
async function installFileSets(sets) {
  const results = [];
  for (const t of sets) {
    const start = Date.now();
    if (missingFiles(t).length > 0 && !findGo()) {
      console.error(`${label(t)} ✗ FAILED: \`go\` not found on PATH (it downloads ${t.module})`);
      results.push({ ok: false });
      continue;
    }
    try {
      const r = await installUpstreamFiles(t, { go: GO });
      console.log(`${label(t)} ${r.cached ? '✓ cached' : `✓ installed in ${secs(start)}`} (${t.files.length} file(s) in ${t.path})`);
      results.push({ ok: true, cached: r.cached });
    } catch (e) {
      console.error(`${label(t)} ✗ FAILED after ${secs(start)}: ${e.message}`);
      results.push({ ok: false });
    }
  }
  return results;
}

// ---------------------------------------------------------------- apt tools

function aptListsPresent() {
  try {
    return fs.readdirSync('/var/lib/apt/lists').some((f) => f.includes('_Packages'));
  } catch {
    return false;
  }
}

function aptHasCandidates(pkgs) {
  const r = runSync('apt-cache', ['policy', ...pkgs]);
  if (r.code !== 0) return false;
  // Blocks look like "git:\n  Installed: ...\n  Candidate: 1:2.39.5-0+deb12u2\n ...";
  // a package apt does not know prints no block at all.
  const candidate = new Map();
  let current = null;
  for (const line of r.out.split('\n')) {
    const head = line.match(/^(\S+):$/);
    if (head) current = head[1];
    const cand = line.match(/^\s+Candidate: (\S+)/);
    if (cand && current) candidate.set(current, cand[1]);
  }
  return pkgs.every((p) => candidate.has(p) && candidate.get(p) !== '(none)');
}

async function installApt(tools) {
  if (!tools.length) return [];
  const missing = [];
  const results = [];
  for (const t of tools) {
    if (isExecutable(t.path)) {
      console.log(`${label(t)} ✓ present (${t.path})`);
      results.push({ ok: true, cached: true });
    } else missing.push(t);
  }
  if (!missing.length) return results;

  const pkgs = [...new Set(missing.map((t) => t.package))];
  const start = Date.now();
  for (const t of missing) console.log(`${label(t)} … apt-get install ${t.package}`);
  const failAll = (msg) => {
    for (const t of missing) console.error(`${label(t)} ✗ FAILED: ${msg}`);
    return [...results, ...missing.map(() => ({ ok: false }))];
  };
  if (process.platform !== 'linux' || runSync('apt-get', ['--version']).code !== 0) {
    return failAll(`apt-get is not available; install package(s) ${pkgs.join(' ')} by other means`);
  }
  if (process.getuid?.() !== 0) {
    return failAll(`must run as root to apt-get install (or run: sudo apt-get install -y ${pkgs.join(' ')})`);
  }

  fs.mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, 'apt.log');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const update = ['-o', 'DPkg::Lock::Timeout=300', 'update'];
  const install = [
    '-o', 'DPkg::Lock::Timeout=300',
    '-o', 'Dpkg::Options::=--force-confdef',
    '-o', 'Dpkg::Options::=--force-confold',
    'install', '-y', '--no-install-recommends', ...pkgs,
  ];

  // Keep maintainer scripts from starting services (postgresql, nats-server,
  // docker-registry): invoke-rc.d / deb-systemd-invoke honour policy-rc.d exit 101.
  let wrotePolicy = false;
  if (!fs.existsSync(POLICY_RC_D)) {
    fs.writeFileSync(POLICY_RC_D, '#!/bin/sh\n# written by forge-workflows images/toolchain/install.mjs\nexit 101\n', {
      mode: 0o755,
    });
    wrotePolicy = true;
  }
  const removePolicy = () => {
    if (wrotePolicy) fs.rmSync(POLICY_RC_D, { force: true });
    wrotePolicy = false;
  };
  process.once('exit', removePolicy);
  try {
    let updated = false;
    const doUpdate = async () => {
      console.log(`apt: apt-get update`);
      const r = await run('apt-get', update, { env, logFile: `${logFile}.update` });
      updated = true;
      if (r.code !== 0) console.error(`apt: apt-get update exited ${r.code}\n${tail(r.out, 10)}`);
    };
    // `apt-get update` only when needed: no package lists, or one of our packages unknown.
    if (!aptListsPresent() || !aptHasCandidates(pkgs)) await doUpdate();
    let r = await run('apt-get', install, { env, logFile });
    if (r.code !== 0 && !updated) {
      // Stale lists give 404s on download: refresh once and retry.
      await doUpdate();
      r = await run('apt-get', install, { env, logFile });
    }
    if (r.code !== 0) {
      console.error(
        [
          `apt ✗ FAILED after ${secs(start)}: exit ${r.code}`,
          `    command: ${cmdline(env, 'apt-get', install)}`,
          `    log:     ${logFile}`,
          `    last lines of output:`,
          tail(r.out || '(no output)'),
        ].join('\n'),
      );
      return [...results, ...missing.map(() => ({ ok: false }))];
    }
  } finally {
    removePolicy();
  }
  stopServices(pkgs);
  for (const t of missing) {
    if (isExecutable(t.path)) {
      console.log(`${label(t)} ✓ installed in ${secs(start)}`);
      results.push({ ok: true, cached: false, seconds: (Date.now() - start) / 1000 });
    } else {
      const files = runSync('dpkg', ['-L', t.package]).out.split('\n');
      const same = files.filter((f) => path.basename(f) === path.basename(t.path) && isExecutable(f));
      console.error(
        `${label(t)} ✗ FAILED: package ${t.package} installed but ${t.path} does not exist` +
          (same.length ? `; the package installs ${same.join(', ')}: fix "binary" in images/toolchain/tools.json` : ''),
      );
      results.push({ ok: false });
    }
  }
  return results;
}

/** Belt and braces: if a package's SysV service runs anyway (policy-rc.d was not ours), stop it. */
function stopServices(pkgs) {
  for (const p of pkgs) {
    if (!fs.existsSync(path.join('/etc/init.d', p))) continue;
    if (runSync('service', [p, 'status']).code === 0) {
      console.log(`apt: stopping service ${p} started by its package`);
      runSync('service', [p, 'stop']);
      if (fs.existsSync('/run/systemd/system')) runSync('systemctl', ['disable', '--now', p]);
    }
  }
}

// ---------------------------------------------------------------- --check

function reportedVersion(t) {
  const r = runSync(t.path, t.versionArgs, { timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
  if (r.error && r.code === 127) return { ok: false, reported: `cannot run: ${r.error.message}` };
  const lines = r.out.split('\n').map((l) => l.trim()).filter(Boolean);
  // Prefer the line naming the pinned version (cosign prints an ASCII banner first).
  const bare = t.version?.replace(/^v/, '');
  const line = (bare && lines.find((l) => l.includes(bare))) || lines[0] || '(no output)';
  return { ok: r.code === 0, reported: r.code === 0 ? line : `exit ${r.code}: ${line}` };
}

function check(tools, json) {
  const report = {};
  const problems = [];
  const rows = [];
  for (const t of tools) {
    let reported = null;
    let status;
    if (t.kind === 'files') {
      const missing = missingFiles(t);
      status = missing.length ? 'missing' : 'ok';
      reported = missing.length ? null : `${t.files.length} file(s) of ${t.module}`;
      if (missing.length) problems.push(`${t.name}: missing ${missing.map((f) => path.join(t.path, f)).join(', ')}`);
    } else if (!isExecutable(t.path)) {
      status = 'missing';
      problems.push(`${t.name}: missing (${t.path})`);
    } else {
      const v = reportedVersion(t);
      reported = v.reported;
      status = v.ok ? 'ok' : 'broken';
      if (!v.ok) problems.push(`${t.name}: ${v.reported}`);
      if (t.kind === 'go' && !binLinkOk(t)) {
        status = 'stale-link';
        problems.push(`${t.name}: ${path.join(BIN_DIR, t.name)} does not point at ${t.version}`);
      }
    }
    report[t.name] = { version: t.version, path: t.path, reported };
    rows.push([status === 'ok' ? '✓' : '✗', t.name, t.version ?? `apt:${t.package}`, t.path, reported ?? status]);
  }
  if (json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(r.map((c, i) => (i < 4 ? c.padEnd(w[i]) : c)).join('  '));
  }
  if (problems.length) {
    console.error(`\n${problems.length} tool(s) not ready:\n  ${problems.join('\n  ')}`);
    console.error('run `npm run tools:install` (node images/toolchain/install.mjs) to install them');
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const tools = selectTools(loadManifest(), opts.only);
  if (opts.check) process.exit(check(tools, opts.json));

  const cleanup = (sig) => {
    for (const c of activeChildren) c.kill('SIGTERM');
    for (const d of activeTemps) fs.rmSync(d, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', cleanup);
  process.on('SIGTERM', cleanup);

  const start = Date.now();
  console.log(`forge-workflows toolchain → ${TOOLS_HOME}`);
  const [goResults, aptResults, fileResults] = await Promise.all([
    installGoTools(tools.filter((t) => t.kind === 'go')),
    installApt(tools.filter((t) => t.kind === 'apt')),
    installFileSets(tools.filter((t) => t.kind === 'files')),
  ]);
  const results = [...goResults, ...aptResults, ...fileResults];
  const failed = results.filter((r) => !r.ok).length;

  console.log('');
  console.log(`go tools are in ${BIN_DIR} (each a link to tools/<name>/<version>/<name>)`);
  console.log('steps/lib/tools.ts finds them there automatically: no PATH change needed');
  if (failed) {
    console.error(`${failed} tool(s) FAILED to install (see above); took ${secs(start)}`);
    process.exit(1);
  }
  console.log(`all ${results.length} tool(s) ready in ${secs(start)}`);
}

main().catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
