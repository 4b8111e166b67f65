// Upstream files the tests check generated manifests against (tools.json "files"): a few files
// of a pinned Go module — Argo CD's Application CRD, its repo-server Deployment — fetched with
// `go mod download` (checked against the checksum database as usual) and copied to
//   $FORGE_TOOLS_HOME/files/<name>/<version>/<path in the module>
// Nothing of them is committed; test/helpers/upstream-files.ts finds them there.
// Plain Node.js ESM with node: built-ins only (read by install.mjs).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The "files" section of tools.json as installer entries (kind `files`). */
export function upstreamFileSets(section, toolsHome, fail) {
  return Object.entries(section ?? {})
    .filter(([name]) => !name.startsWith('$'))
    .map(([name, f]) => {
      if (!f.module || !f.version || !Array.isArray(f.files) || f.files.length === 0) {
        fail(2, `tools.json: files "${name}" needs "module", "version" and a non-empty "files" list`);
      }
      for (const file of f.files) {
        if (path.isAbsolute(file) || file.split('/').includes('..')) fail(2, `tools.json: files "${name}": ${file} is not a path inside the module`);
      }
      return { kind: 'files', name, module: f.module, version: f.version, files: f.files, path: path.join(toolsHome, 'files', name, f.version) };
    });
}

/** The files of an entry that are not in place yet. */
export function missingFiles(entry) {
  return entry.files.filter((file) => !fs.existsSync(path.join(entry.path, file)));
}

/** Downloads the module (unless every file is already there) and copies the listed files. */
export async function installUpstreamFiles(entry, { go = 'go' } = {}) {
  if (missingFiles(entry).length === 0) return { cached: true };
  const { stdout } = await execFileAsync(go, ['mod', 'download', '-json', `${entry.module}@${entry.version}`], {
    env: { ...process.env, GOWORK: 'off', GOFLAGS: '-mod=mod' },
    maxBuffer: 16 << 20,
  }).catch((e) => {
    throw new Error(`go mod download ${entry.module}@${entry.version} failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`);
  });
  const info = JSON.parse(stdout);
  if (!info.Dir) throw new Error(`go mod download ${entry.module}@${entry.version}: ${info.Error ?? 'no directory reported'}`);
  for (const file of entry.files) {
    const from = path.join(info.Dir, file);
    if (!fs.existsSync(from)) throw new Error(`${entry.module}@${entry.version} has no ${file}`);
    const to = path.join(entry.path, file);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    // Copied through a temporary name: a file in place is always complete.
    fs.copyFileSync(from, `${to}.tmp`);
    fs.chmodSync(`${to}.tmp`, 0o644);
    fs.renameSync(`${to}.tmp`, to);
  }
  return { cached: false };
}
