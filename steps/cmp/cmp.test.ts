import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { generateKeyPair, signImage } from '../lib/cosign.ts';
import { digestOf } from '../lib/crane.ts';
import type { ReleaseMetadata } from '../lib/release/metadata.ts';
import { pushRelease } from '../lib/release/release-image.ts';
import { packResources, sha256, type ResourceFile } from '../lib/release/resources-layer.ts';

// `forge cmp` as Argo CD's repo server runs it: in an application's directory of a GitOps
// checkout, against a real registry with releases signed by a real cosign key.
const forge = fileURLToPath(new URL('../../bin/forge.mjs', import.meta.url));
let registry: Registry;
let tmp: string;
let keys: { privateKey: string; publicKey: string };
let otherKeys: { privateKey: string; publicKey: string };
const commit = (c: string) => c.repeat(40);
const PATH = 'environments/dev/acme/monorepo/api';

beforeAll(async () => {
  registry = await startRegistry();
  tmp = await mkdtemp(join(tmpdir(), 'forge-cmp-'));
  await mkdir(join(tmp, 'k1'));
  await mkdir(join(tmp, 'k2'));
  keys = await generateKeyPair(join(tmp, 'k1'));
  otherKeys = await generateKeyPair(join(tmp, 'k2'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const releases = () => `${registry.host}/release`;
const deployment = (name: string) => ({ name: `${name}.yaml`, content: `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  replicas: 1\n` });

/** Publishes (and signs with `key`) the release of api at `sha` holding `files`. */
async function publish(sha: string, files: ResourceFile[], key = keys.privateKey, project = 'api'): Promise<string> {
  const layer = await packResources(files);
  const metadata: ReleaseMetadata = {
    apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ReleaseMetadata', repository: 'acme/monorepo', project,
    release: { number: 1, aliases: { numeric: '1' }, trigger: 'branch' }, source: { repositoryUrl: 'https://git.example.test/acme/monorepo.git', commit: sha },
    artifacts: [], resources: { digest: sha256(layer), files: files.length }, createdAt: '2026-11-29T12:00:00Z',
  };
  const repo = `${releases()}/acme/monorepo/api`;
  const { digest } = await pushRelease(repo, [sha], metadata, layer);
  await signImage(`${repo}@${digest}`, { key, transparencyLog: false });
  return digest;
}

/** The application's directory with its pointer (and env.yaml), as the GitOps checkout has it. */
async function appDir(name: string, pointer: string, env?: string): Promise<string> {
  const dir = join(tmp, name, PATH);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'release.yaml'), pointer);
  if (env) await writeFile(join(dir, 'env.yaml'), env);
  return dir;
}

const pointerYaml = (sha: string, over: Record<string, unknown> = {}) => YAML.stringify({ apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ReleasePointer', metadata: { name: 'api', environment: 'dev' }, spec: { release: sha, aliases: { numeric: 1 } }, ...over });

const cmp = (dir: string, command: string, key = keys.publicKey) =>
  execa(forge, ['cmp', command], { cwd: dir, reject: false, env: { ARGOCD_APP_SOURCE_PATH: PATH, FORGE_RELEASE_REGISTRY: releases(), FORGE_KEY: key, FORGE_TRANSPARENCY_LOG: 'false' } });

describe('forge cmp', () => {
  test('generate prints the release objects sorted by kind and name, then env.yaml — YAML only', async () => {
    const sha = commit('1');
    await publish(sha, [
      { name: 'svc.yaml', content: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: zeta\n' },
      deployment('api'),
      { name: 'cm.yaml', content: '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: alpha\n' },
    ]);
    const dir = await appDir('ok', pointerYaml(sha), 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: env-only\n');
    expect((await cmp(dir, 'discover')).stdout).toBe('release.yaml');
    const r = await cmp(dir, 'generate');
    expect(r.exitCode, r.stderr).toBe(0);
    const docs = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['ConfigMap/alpha', 'ConfigMap/zeta', 'Deployment/api', 'Service/api', 'Secret/env-only']);
    expect(r.stdout).not.toMatch(/"level"/); // logs stay on stderr
  }, 60_000);

  test('discover does not claim a directory without a ReleasePointer', async () => {
    const dir = join(tmp, 'plain');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'release.yaml'), 'kind: Deployment\n');
    const r = await cmp(dir, 'discover');
    expect([r.exitCode, r.stdout]).toEqual([0, '']);
  });

  test('refusals name the pointer, the field or the image, and print nothing on stdout', async () => {
    const cases: [string, string, string, RegExp][] = [];
    // Signed with a key the plugin does not trust.
    const foreign = commit('2');
    await publish(foreign, [deployment('api')], otherKeys.privateKey);
    cases.push(['foreign', pointerYaml(foreign), keys.publicKey, /SIGNATURE_INVALID: signature verification failed for [^ ]+\/release\/acme\/monorepo\/api@sha256:[0-9a-f]{64}/]);
    // A release that does not exist.
    cases.push(['missing', pointerYaml(commit('3')), keys.publicKey, new RegExp(`RELEASE_INVALID: ${PATH}/release.yaml: spec.release ${commit('3')}: no release image`)]);
    // Not a commit SHA (release numbers are not pointer values), and the wrong environment.
    cases.push(['number', pointerYaml('42'), keys.publicKey, /RELEASE_INVALID: environments\/dev\/acme\/monorepo\/api\/release.yaml: not a ReleasePointer\n.*spec.release: must be a 40-character commit SHA/s]);
    cases.push(['env', pointerYaml(commit('1'), { metadata: { name: 'api', environment: 'production' } }), keys.publicKey, /metadata.environment is production, but the file is under environments\/dev/]);
    // A signed release whose resources are not Kubernetes objects.
    const junk = commit('4');
    await publish(junk, [{ name: 'x.yaml', content: 'apiVersion: v1\nkind: ConfigMap\n' }]);
    cases.push(['junk', pointerYaml(junk), keys.publicKey, /RELEASE_INVALID: [^ ]+@sha256:[0-9a-f]{64} x.yaml: document 1 is not a Kubernetes object: no metadata.name/]);
    for (const [name, pointer, key, expected] of cases) {
      const r = await cmp(await appDir(name, pointer), 'generate', key);
      expect(r.exitCode, `${name}: ${r.stdout}`).toBe(1);
      expect(r.stdout, name).toBe('');
      expect(r.stderr, name).toMatch(expected);
    }
  }, 120_000);

  test('a pointer that is a link to a file elsewhere is refused', async () => {
    const dir = join(tmp, 'link', PATH);
    await mkdir(dir, { recursive: true });
    await writeFile(join(tmp, 'outside.yaml'), pointerYaml(commit('1')));
    await symlink(join(tmp, 'outside.yaml'), join(dir, 'release.yaml'));
    const r = await cmp(dir, 'generate');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/release.yaml: not a regular file \(a link, a directory\)/);
    expect(await digestOf(`${releases()}/acme/monorepo/api:${commit('1')}`)).toMatch(/^sha256:/); // the release itself is fine
  });
});
