import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Testing } from 'cdk8s';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, signImage } from '../../steps/lib/cosign.ts';
import type { ReleaseMetadata } from '../../steps/lib/release/metadata.ts';
import { renderPointer } from '../../steps/lib/release/pointer.ts';
import { pushRelease } from '../../steps/lib/release/release-image.ts';
import { packResources, sha256 } from '../../steps/lib/release/resources-layer.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { parsePlatformConfig } from '../platform-config.ts';
import { ArgocdChart, ArgocdRepoServerPatchChart } from './argocd.ts';

// The generated plugin run as Argo CD's CMP server runs it: plugin.yaml's discover and generate
// commands, with the sidecar's environment and its ConfigMap mounts (under a temporary root), in
// the directory the Application's source.path names in a GitOps checkout, against a real
// registry holding a release signed with a real cosign key.
const forge = fileURLToPath(new URL('../../bin/forge.mjs', import.meta.url));
const example = parse(await readFile(fileURLToPath(new URL('../platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Obj = { kind: string; metadata: { name: string }; spec: Record<string, any>; data?: Record<string, string> }; // eslint-disable-line @typescript-eslint/no-explicit-any
const SHA = 'a'.repeat(40);
// The sidecar's image has the tools on PATH; here they are where the installer put them (HOME is the sidecar's own).
const toolsHome = process.env.FORGE_TOOLS_HOME || join(homedir(), '.cache', 'forge-workflows');
let registry: Registry;
let tmp: string;

beforeAll(async () => {
  registry = await startRegistry();
  tmp = await mkdtemp(join(tmpdir(), 'forge-argocd-'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the generated Argo CD plugin', () => {
  it('discovers the pointer directory, verifies and renders its release; leaves other directories alone', async () => {
    await mkdir(join(tmp, 'keys'));
    const keys = await generateKeyPair(join(tmp, 'keys'));
    const config = parsePlatformConfig({
      ...example,
      registries: { ...example.registries, release: `${registry.host}/release` },
      release: { ...example.release, releaseVerificationKey: { publicKey: await readFile(keys.publicKey, 'utf8') }, argocd: { ...example.release.argocd, applications: [{ repository: 'acme/monorepo', project: 'api', environments: ['dev'] }] } },
    });
    // The release, as forge-release publishes and signs it.
    const files = [{ name: 'deploy.yaml', content: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n' }];
    const layer = await packResources(files);
    const metadata: ReleaseMetadata = {
      apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ReleaseMetadata', repository: 'acme/monorepo', project: 'api',
      release: { number: 1, aliases: { numeric: '1' }, trigger: 'branch' }, source: { repositoryUrl: 'https://git.example.test/acme/monorepo.git', commit: SHA },
      artifacts: [], resources: { digest: sha256(layer), files: files.length }, createdAt: '2026-11-29T12:00:00Z',
    };
    const repo = `${registry.host}/release/acme/monorepo/api`;
    const { digest } = await pushRelease(repo, [SHA], metadata, layer);
    await signImage(`${repo}@${digest}`, { key: keys.privateKey, transparencyLog: false });

    const app = Testing.app();
    const argocd = config.release!.argocd!;
    const objects = new ArgocdChart(app, 'argocd', config, argocd).toJson() as Obj[];
    const patch = (new ArgocdRepoServerPatchChart(app, 'patch', config, argocd).toJson() as Obj[])[0]!;
    const [container] = patch.spec.template.spec.containers;
    const volumes = patch.spec.template.spec.volumes as { name: string; configMap?: { name: string } }[];
    // The sidecar's ConfigMap mounts, laid out under tmp/root.
    const root = join(tmp, 'root');
    const local = (path: string) => join(root, path);
    for (const m of container.volumeMounts as { name: string; mountPath: string; subPath?: string }[]) {
      const cm = volumes.find((v) => v.name === m.name)?.configMap;
      if (!cm) continue;
      const data = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cm.name)!.data!;
      for (const [key, text] of Object.entries(data)) {
        if (m.subPath && m.subPath !== key) continue;
        const file = m.subPath ? local(m.mountPath) : join(local(m.mountPath), key);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, text);
      }
    }
    const plugin = parse(await readFile(local('/home/argocd/cmp-server/config/plugin.yaml'), 'utf8'));
    const application = objects.find((o) => o.kind === 'Application')!;
    // The GitOps checkout with the pointer forge-deploy writes.
    const checkout = join(tmp, 'gitops');
    const appDir = join(checkout, application.spec.source.path);
    await mkdir(appDir, { recursive: true });
    await writeFile(join(appDir, 'release.yaml'), renderPointer({ environment: 'dev', repository: 'acme/monorepo', project: 'api', release: SHA, aliases: { numeric: 1 }, deployedBy: 'ci' }, '2026-11-29T12:00:00Z'));

    const env = Object.fromEntries((container.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
    const run = (command: { command: string[]; args?: string[] }, cwd: string) => {
      const [bin, ...rest] = [...command.command, ...(command.args ?? [])];
      expect(bin).toBe('forge');
      // Paths inside the sidecar's mounts resolve under tmp/root.
      const args = rest.map((a) => (a.startsWith('/home/argocd/') ? local(a) : a));
      return execa(forge, args, { cwd, reject: false, env: { ...env, HOME: tmp, FORGE_TOOLS_HOME: toolsHome, DOCKER_CONFIG: join(tmp, 'no-docker-config'), ARGOCD_APP_SOURCE_PATH: application.spec.source.path, ARGOCD_APP_NAME: application.metadata.name } });
    };
    const found = await run(plugin.spec.discover.find, appDir);
    expect([found.exitCode, found.stdout]).toEqual([0, 'release.yaml']);
    const generated = await run(plugin.spec.generate, appDir);
    expect(generated.exitCode, generated.stderr).toBe(0);
    expect(parseAllDocuments(generated.stdout).map((d) => d.toJS().kind)).toEqual(['Deployment', 'Service']);
    // A directory without a pointer is not the plugin's (empty output: no match).
    const other = join(checkout, 'other');
    await mkdir(other);
    expect((await run(plugin.spec.discover.find, other)).stdout).toBe('');
  }, 120_000);
});
