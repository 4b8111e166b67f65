// A local, writable copy of a Go module with the files its module zip lacks put back, for tools
// whose published module does not compile as downloaded (read by install.mjs for the argo CLI and
// by images/cluster/build.mjs for workflow-controller and argoexec).
//
//   restoreFiles  { "<path>": "<sibling file>" }  files that are symbolic links upstream: module
//                 zips omit symbolic links, so each is restored as a copy of its target
//                 (argoexec's workflow/executor/osspecific/signal_linux.go → signal_darwin.go)
//   createFiles   { "<path>": "<content>" }  files the build expects that are not in git at all
//                 (Argo ≥ 3.7 embeds ui/dist/app with //go:embed; its Makefile touches
//                 ui/dist/app/index.html before `go build`)
//
// The module is fetched with `go mod download` (checked against go.sum and the checksum database
// as usual) and copied; a throw-away build module then reaches it through a `replace` directive.
// Plain Node.js ESM with node: built-ins only.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The repairs of a manifest entry, `$comment` keys left out. */
function entries(map) {
  return Object.entries(map ?? {}).filter(([k]) => !k.startsWith('$'));
}

/** Refuses paths that would leave the module copy (`..`, absolute paths). */
function inside(root, rel) {
  const full = path.resolve(root, rel);
  if (!full.startsWith(`${root}${path.sep}`)) throw new Error(`${rel}: not a path inside the module`);
  return full;
}

/**
 * Makes `<dir>/module` a copy of `modulePath@version` with the repairs applied; returns its path.
 * Idempotent: a copy whose stamp records the same module, version and repairs is reused.
 */
export async function localModuleCopy({ go = 'go', modulePath, version, dir, restoreFiles, createFiles, env = {} }) {
  const out = path.join(dir, 'module');
  const stampFile = path.join(out, '.forge-local-module');
  const stamp = JSON.stringify({ modulePath, version, restore: entries(restoreFiles), create: entries(createFiles) });
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return { dir: out, repaired: [] };
  fs.mkdirSync(dir, { recursive: true });
  const { stdout } = await execFileAsync(go, ['mod', 'download', '-json', `${modulePath}@${version}`], {
    cwd: dir,
    env: { ...process.env, GOWORK: 'off', GOFLAGS: '-mod=mod', ...env },
    maxBuffer: 16 << 20,
  }).catch((e) => {
    throw new Error(`go mod download ${modulePath}@${version} failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`);
  });
  const info = JSON.parse(stdout);
  if (!info.Dir) throw new Error(`go mod download ${modulePath}@${version}: ${info.Error ?? 'no directory reported'}`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.cpSync(info.Dir, out, { recursive: true });
  makeWritable(out);
  const repaired = [];
  for (const [file, target] of entries(restoreFiles)) {
    const full = inside(out, file);
    if (fs.existsSync(full)) continue;
    fs.copyFileSync(inside(out, path.join(path.dirname(file), target)), full);
    repaired.push(`${file} (a symbolic link to ${target} upstream; module zips omit symbolic links)`);
  }
  for (const [file, content] of entries(createFiles)) {
    const full = inside(out, file);
    if (fs.existsSync(full)) continue;
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content);
    repaired.push(`${file} (not in the module: created)`);
  }
  fs.writeFileSync(stampFile, stamp);
  return { dir: out, repaired };
}

/** The module cache is read-only: the copy must be writable to repair and later remove it. */
function makeWritable(root) {
  const walk = (p) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    fs.chmodSync(p, st.mode | 0o200);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(root);
}

/** go.mod of a throw-away module that builds `modulePath@version` from `relDir` (a local copy). */
export function replaceGoMod({ name, goVersion, modulePath, version, relDir }) {
  return [`module ${name}`, '', `go ${goVersion}`, '', `require ${modulePath} ${version}`, '', `replace ${modulePath} ${version} => ${relDir}`, ''].join('\n');
}
