/**
 * `npm run synth`: reads the platform configuration (FORGE_PLATFORM_CONFIG, default
 * cdk8s/platform.example.yaml) and writes every manifest to dist/manifests/.
 */
import { rm } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isForgeError } from '../steps/lib/errors.ts';
import { buildApp } from './app.ts';
import { loadPlatformConfig } from './platform-config.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const configFile = resolve(process.env.FORGE_PLATFORM_CONFIG ?? `${root}/cdk8s/platform.example.yaml`);
const outdir = resolve(process.env.FORGE_SYNTH_OUTDIR ?? `${root}/dist/manifests`);

try {
  const config = await loadPlatformConfig(configFile);
  await rm(outdir, { recursive: true, force: true });
  const app = buildApp(config, outdir);
  app.synth();
  for (const chart of app.charts) {
    process.stdout.write(`${relative(process.cwd(), `${outdir}/${chart.node.id}.yaml`)}: ${chart.node.children.length} object(s)\n`);
  }
} catch (e) {
  process.stderr.write(`synth failed: ${isForgeError(e) ? e.format() : ((e as Error).stack ?? String(e))}\n`);
  process.exitCode = 1;
}
