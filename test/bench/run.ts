/**
 * `npm run bench [-- suite…]`: speed and memory targets, each measured against a baseline in the
 * same run. Prints progress lines, then one summary line per suite, last.
 */
import { benchDiscovery } from './discovery.ts';
import { benchPool } from './pool.ts';
import { benchPoolCluster } from './pool-cluster.ts';
import { benchPromote } from './promote.ts';
import { benchRelease } from './release.ts';

const suites: Record<string, (log: (line: string) => void) => Promise<string>> = {
  discovery: benchDiscovery,
  promote: benchPromote,
  pool: benchPool,
  release: benchRelease,
  // Needs the running test cluster (npm run cluster:up); not part of the default run.
  'pool-cluster': benchPoolCluster,
};

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = asked.filter((a) => !(a in suites));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench suite(s): ${unknown.join(', ')}; available: ${Object.keys(suites).join(', ')}\n`);
  process.exit(2);
}
const summaries: string[] = [];
for (const name of asked.length > 0 ? asked : Object.keys(suites).filter((s) => s !== 'pool-cluster')) {
  process.stdout.write(`# ${name}\n`);
  summaries.push(await suites[name]!((line) => process.stdout.write(`  ${line}\n`)));
}
process.stdout.write(`${summaries.join('\n')}\n`);
