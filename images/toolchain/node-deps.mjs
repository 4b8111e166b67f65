// Installs the npm dependencies when they are missing or older than package-lock.json, so
// `npm test` and `npm run demo` work on a fresh clone. Plain Node: it runs before node_modules exists.
//
// `npm install`, not `npm ci`: the npm registry reachable from the project machines serves no
// packages for other platforms (rollup's darwin/windows builds answer 404), so the lock file
// cannot list them and `npm ci` refuses it as out of sync; `npm install` keeps the locked versions.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
const stale = !existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs);
if (stale || process.argv.includes('--force')) {
  console.log('installing npm dependencies (npm install)…');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
