/**
 * `npm run test:cluster`: the end-to-end tests on a real cluster.
 *
 * Without FORGE_E2E_KUBECONFIG: brings the local cluster up (test/cluster/cluster.ts, cached
 * builds), runs test/cluster/*.e2e.ts, and brings it down again (--keep leaves it running for
 * debugging; a cluster that was already running before is left running). With
 * FORGE_E2E_KUBECONFIG: runs the same tests against that cluster and touches nothing else.
 * Extra arguments go to vitest (e.g. a file name or `-t <pattern>`).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { down, isRunning, REPO_ROOT, STATE, up } from './cluster.ts';

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const vitestArgs = args.filter((a) => a !== '--keep');

let code = 1;
const external = !!process.env.FORGE_E2E_KUBECONFIG;
const already = !external && isRunning();
try {
  if (!external) await up();
  const vitest = path.join(REPO_ROOT, 'node_modules', '.bin', 'vitest');
  const r = spawnSync(vitest, ['run', '--config', path.join(REPO_ROOT, 'test/cluster/vitest.config.ts'), ...vitestArgs], {
    stdio: 'inherit',
    cwd: REPO_ROOT,
  });
  code = r.status ?? 1;
} catch (e) {
  console.error((e as Error).message);
  code = 1;
} finally {
  if (!external && !keep && !already) await down();
  else if (!external) console.log(`cluster left running (KUBECONFIG=${path.join(STATE, 'admin.kubeconfig')}); stop it with npm run cluster:down`);
}
process.exit(code);
